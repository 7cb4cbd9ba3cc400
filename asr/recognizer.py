"""Recognizer interface used by the dialog and the analytics: audio in, Transcript out."""
from __future__ import annotations

import contextvars
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np

from monitoring import metrics

from .audio import ASR_RATE, pcm16_to_float, resample


@dataclass
class Word:
    word: str
    start: float
    end: float
    prob: float


@dataclass
class Transcript:
    text: str
    language: str
    duration_s: float
    confidence: float                      # 0..1, mean token probability
    words: list[Word] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


class RecognizerStream(ABC):
    """Incremental recognition of one utterance: feed PCM16 frames, read partials, finish."""

    @abstractmethod
    def accept(self, pcm16: bytes) -> str:
        """Add audio; return the current partial text (may be empty)."""

    @abstractmethod
    def finish(self) -> Transcript:
        """Final result for everything fed so far."""


class Recognizer(ABC):
    """One loaded model, shared by all calls; `submit` runs it on the shared worker pool."""

    name: str = ""

    def __init__(self, workers: int = 2):
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"asr-{self.name}")

    @abstractmethod
    def transcribe(
        self, audio: np.ndarray, hints: list[str] | None = None, language: str | None = None,
        word_timestamps: bool = True, fits: Callable[[str], bool] | None = None,
    ) -> Transcript:
        """Recognise float32 mono audio at 16 kHz. `hints` are phrases likely in this dialog state; `fits(text)`
        says whether a reading means something there (a backend may then use the hints only when it does not)."""

    def transcribe_many(self, audios: list[np.ndarray], hints: list[str] | None = None, language: str | None = None,
                        word_timestamps: bool = True, fits: Callable[[str], bool] | None = None) -> list[Transcript]:
        """Several utterances; a backend that can batch them (Whisper) overrides this."""
        return [self.transcribe(a, hints, language, word_timestamps, fits) for a in audios]

    def uses_hints(self, kind: str) -> bool:
        """Whether the phrases of a state expecting `kind` (intent, confirm, digits...) help this recognizer."""
        return True

    def transcribe_pcm16(self, pcm16: bytes, sample_rate: int, **kwargs) -> Transcript:
        return self.transcribe(resample(pcm16_to_float(pcm16), sample_rate, ASR_RATE), **kwargs)

    def submit_pcm16(self, pcm16: bytes, sample_rate: int, **kwargs) -> Future[Transcript]:
        return self._queue(self.transcribe_pcm16, pcm16, sample_rate, **kwargs)

    def submit(self, audio: np.ndarray, **kwargs) -> Future[Transcript]:
        """Queue a transcription on the shared pool (what concurrent calls use)."""
        return self._queue(self.transcribe, audio, **kwargs)

    def _queue(self, fn, *args, **kwargs) -> Future[Transcript]:
        """Run on the pool in the caller's context (its log lines keep the call id); the wait is measured."""
        return self._pool.submit(contextvars.copy_context().run, metrics.timed("asr", fn), *args, **kwargs)

    def stream(self, sample_rate: int, hints: list[str] | None = None) -> RecognizerStream:
        """Default streaming: buffer the audio, recognise on finish."""
        return _BufferedStream(self, sample_rate, hints)


class _BufferedStream(RecognizerStream):
    def __init__(self, recognizer: Recognizer, sample_rate: int, hints: list[str] | None):
        self._rec, self._rate, self._hints, self._chunks = recognizer, sample_rate, hints, []

    def accept(self, pcm16: bytes) -> str:
        self._chunks.append(pcm16)
        return ""

    def finish(self) -> Transcript:
        return self._rec.transcribe_pcm16(b"".join(self._chunks), self._rate, hints=self._hints)
