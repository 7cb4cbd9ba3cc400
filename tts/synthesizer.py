"""Synthesizer interface: text -> PCM16 chunks at the caller's rate, sentence by sentence, cancellable."""
from __future__ import annotations

import re
import threading
from collections import OrderedDict
from abc import ABC, abstractmethod
from collections.abc import Iterator

import numpy as np
import soxr

from config import IvrError

from .normalize import normalize


class TtsError(IvrError):
    """Unknown engine or voice, or a synthesis failure."""


_SENTENCE = re.compile(r"(?<=[.!?;:])(?<!\.[a-zA-Z]\.)\s+|(?<=[。！？；])")  # not inside "a.m. to"
_CLAUSE = re.compile(r"(?<=[，、：])")   # where a Chinese sentence may be cut into phrases
_CJK = re.compile(r"[\u3400-\u9fff]")
FIRST_PIECE_WORDS = (2, 4)  # the first piece is this many words, so the first audio comes early
LATER_PIECE_WORDS = 10
FIRST_PIECE_CHARS, LATER_PIECE_CHARS = (3, 8), (8, 16)   # the same for Chinese, in characters
_ZH_CUT_AFTER = set("的为是在和到从了把给将号")          # a phrase may end after these (尾号: before the digits,
                                                         # so a reply's first phrase is the same whatever they are)
_PHRASE_START = {"and", "but", "or", "so", "is", "are", "was", "has", "have", "will", "of", "for", "to", "from",
                 "with", "at", "on", "in", "by", "please", "followed", "which", "that", "if", "when"}


def _phrase_end(words: list[str], limit: tuple[int, int]) -> int:
    """Where to cut: after a comma, else before a function word, else after lo + 1 words."""
    lo, hi = limit
    for k in range(lo, min(hi, len(words) - 2) + 1):
        if words[k - 1].endswith(","):
            return k
    for k in range(lo, min(hi, len(words) - 2) + 1):
        if words[k].lower().strip(",") in _PHRASE_START:
            return k
    return lo + 1


def split_for_speech(text: str, eager: bool = True) -> list[str]:
    """Sentences; when `eager`, cut into phrases so that synthesis keeps ahead of playback: the first phrase is short (early
    first audio), later ones at most LATER_PIECE_WORDS words, cut at commas or before function words."""
    sentences = [s.strip() for s in _SENTENCE.split(text) if s.strip()]
    if not eager:
        return sentences
    pieces: list[str] = []
    for sentence in sentences:
        if _CJK.search(sentence):   # Chinese: no spaces; its commas, then its particles, are where to cut
            for clause in (c for c in _CLAUSE.split(sentence) if c):
                pieces += _cut_chinese(clause, FIRST_PIECE_CHARS if not pieces else LATER_PIECE_CHARS)
            continue
        words = sentence.split()
        limit = FIRST_PIECE_WORDS if not pieces else (LATER_PIECE_WORDS // 2, LATER_PIECE_WORDS)
        while len(words) > limit[1]:
            k = _phrase_end(words, limit)
            pieces.append(" ".join(words[:k]))
            words = words[k:]
            limit = (LATER_PIECE_WORDS // 2, LATER_PIECE_WORDS)
        if words:
            pieces.append(" ".join(words))
    return pieces


def _cut_chinese(clause: str, limit: tuple[int, int]) -> list[str]:
    """A Chinese clause in phrases cut after a particle (的, 为...): the first one between limit[0] and limit[1]
    characters, else the next one that leaves at least 4 characters; a clause without one stays whole (a cut in
    the middle of a word or an amount sounds broken)."""
    pieces = []
    while len(clause) > limit[1] + 2:
        lo, hi = limit
        k = next((i + 1 for i in range(lo - 1, len(clause) - 4) if clause[i] in _ZH_CUT_AFTER), None)
        if k is None:
            break
        pieces.append(clause[:k])
        clause, limit = clause[k:], LATER_PIECE_CHARS
    return pieces + ([clause] if clause else [])


def to_pcm16(samples: np.ndarray, src_rate: int, dst_rate: int) -> bytes:
    if src_rate != dst_rate:
        samples = soxr.resample(samples, src_rate, dst_rate, quality="HQ")
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


class PhraseCache:
    """Recently spoken phrases as PCM16, per rate: replies share phrases ("The balance", "Is there anything
    else"), so the first chunk of most live replies needs no synthesis at all."""

    def __init__(self, max_entries: int = 1000):
        self._items: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def get(self, phrase: str, rate: int) -> bytes | None:
        with self._lock:
            pcm = self._items.get((phrase, rate))
            if pcm is not None:
                self._items.move_to_end((phrase, rate))
            return pcm

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def put(self, phrase: str, rate: int, pcm: bytes) -> None:
        with self._lock:
            self._items[(phrase, rate)] = pcm
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)


class Synthesizer(ABC):
    """Subclasses implement `render(sentence) -> (float32 samples, rate)`; streaming comes from here."""

    engine: str = ""
    language: str = "en"   # what normalisation its text gets (tts/normalize.py)

    def __init__(self, voice: str):
        self.voice = voice
        self.phrases = PhraseCache()

    @abstractmethod
    def render(self, sentence: str) -> tuple[np.ndarray, int]:
        """Synthesize one already-normalised sentence."""

    def stream(self, text: str, rate: int = 8000, cancel: threading.Event | None = None,
               eager: bool = True) -> Iterator[bytes]:
        """Yield PCM16 mono chunks at `rate`, one per phrase (`eager`, for live calls) or per sentence;
        stop as soon as `cancel` is set."""
        for piece in split_for_speech(normalize(text, self.language), eager):
            if cancel is not None and cancel.is_set():
                return
            pcm = self.phrases.get(piece, rate) or self.cache_phrase(piece, rate)
            if cancel is not None and cancel.is_set():
                return
            yield pcm

    def cache_phrase(self, piece: str, rate: int) -> bytes:
        """Synthesize one phrase of `split_for_speech` output and keep it in the phrase cache."""
        samples, src_rate = self.render(piece)
        pcm = to_pcm16(samples, src_rate, rate)
        self.phrases.put(piece, rate, pcm)
        return pcm

    def synthesize(self, text: str, rate: int = 8000) -> bytes:
        """The whole utterance as PCM16 at `rate`, synthesized sentence by sentence (best prosody)."""
        return b"".join(self.stream(text, rate, eager=False))
