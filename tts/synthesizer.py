"""Synthesizer interface: text -> PCM16 chunks at the caller's rate, sentence by sentence, cancellable."""
from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator

import numpy as np
import soxr

from config import IvrError

from .normalize import normalize


class TtsError(IvrError):
    """Unknown engine or voice, or a synthesis failure."""


_SENTENCE = re.compile(r"(?<=[.!?;:])\s+")
_CLAUSE = re.compile(r"(?<=,)\s+")
FIRST_PIECE_WORDS = 6  # a long first sentence is split at a comma so the first audio comes sooner


def split_for_speech(text: str) -> list[str]:
    """Sentences; the first one also split at commas when long, for an early first chunk."""
    pieces = [s.strip() for s in _SENTENCE.split(text) if s.strip()]
    if pieces and len(pieces[0].split()) > FIRST_PIECE_WORDS:
        head = [c for c in _CLAUSE.split(pieces[0]) if c]
        pieces = head + pieces[1:]
    return pieces


def to_pcm16(samples: np.ndarray, src_rate: int, dst_rate: int) -> bytes:
    if src_rate != dst_rate:
        samples = soxr.resample(samples, src_rate, dst_rate, quality="HQ")
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


class Synthesizer(ABC):
    """Subclasses implement `render(sentence) -> (float32 samples, rate)`; streaming comes from here."""

    engine: str = ""

    def __init__(self, voice: str):
        self.voice = voice

    @abstractmethod
    def render(self, sentence: str) -> tuple[np.ndarray, int]:
        """Synthesize one already-normalised sentence."""

    def stream(self, text: str, rate: int = 8000, cancel: threading.Event | None = None) -> Iterator[bytes]:
        """Yield PCM16 mono chunks at `rate`, one per sentence; stop as soon as `cancel` is set."""
        for piece in split_for_speech(normalize(text)):
            if cancel is not None and cancel.is_set():
                return
            samples, src_rate = self.render(piece)
            if cancel is not None and cancel.is_set():
                return
            yield to_pcm16(samples, src_rate, rate)

    def synthesize(self, text: str, rate: int = 8000) -> bytes:
        """The whole utterance as PCM16 at `rate`."""
        return b"".join(self.stream(text, rate))
