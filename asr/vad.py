"""VAD endpointer: webrtcvad over PCM16 frames -> speech_started / utterance / no_input events.

Time is counted in frames, not wall-clock, so behaviour is the same live and in tests.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import webrtcvad

from config import VadSettings


@dataclass(frozen=True)
class SpeechStarted:
    at_s: float


@dataclass(frozen=True)
class Utterance:
    audio: bytes          # PCM16 mono, pre-roll included
    sample_rate: int
    start_s: float        # where the utterance audio begins in the stream
    end_s: float          # end of the last voiced frame (before the hangover)
    truncated: bool = False  # cut at max_utterance_s
    end_frame: int = 0       # index of the last voiced frame (matches `Endpointer.audio_so_far`)


@dataclass(frozen=True)
class NoInput:
    after_s: float


VadEvent = SpeechStarted | Utterance | NoInput


class Endpointer:
    """Feed fixed-size PCM16 frames; get events. Call `listen()` to (re)arm the no-input timer."""

    def __init__(self, settings: VadSettings, sample_rate: int = 8000):
        if sample_rate not in (8000, 16000, 32000, 48000):
            raise ValueError(f"webrtcvad cannot use {sample_rate} Hz")
        self.cfg = settings
        self.rate = sample_rate
        self.frame_bytes = sample_rate * settings.frame_ms // 1000 * 2
        self._vad = webrtcvad.Vad(settings.aggressiveness)
        self._floor = 32768.0 * 10 ** (settings.energy_floor_dbfs / 20)
        ms = settings.frame_ms
        self._window = deque(maxlen=max(1, settings.start_window_ms // ms))
        self._need_voiced = max(1, settings.min_voiced_ms // ms)
        self._preroll = deque(maxlen=settings.preroll_ms // ms + self._window.maxlen)
        self._hangover = max(1, settings.hangover_ms // ms)
        self._max_frames = int(settings.max_utterance_s * 1000 / ms)
        self._no_input_frames = int(settings.no_input_s * 1000 / ms)
        self.frames_seen = 0
        self._in_speech = False
        self._speech: list[bytes] = []
        self._speech_start = 0
        self._silent_run = 0
        self._listening_since: int | None = None

    def listen(self, no_input_s: float | None = None) -> None:
        """Start waiting for the caller: a NoInput event fires if no speech starts in time (`no_input_s`, else the
        configured default)."""
        self._listening_since = self.frames_seen
        seconds = self.cfg.no_input_s if no_input_s is None else no_input_s
        self._no_input_frames = int(seconds * 1000 / self.cfg.frame_ms)

    def stop_listening(self) -> None:
        self._listening_since = None

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    @property
    def trailing_silence_ms(self) -> int:
        """Silence since the last voiced frame of the utterance in progress (0 outside speech)."""
        return self._silent_run * self.cfg.frame_ms if self._in_speech else 0

    @property
    def last_voiced_frame(self) -> int:
        """Index of the last voiced frame of the utterance in progress."""
        return self._speech_start + len(self._speech) - self._silent_run

    def cut(self) -> Utterance:
        """End the utterance in progress now, before the hangover (the words heard make a whole turn)."""
        if not self._in_speech:
            raise RuntimeError("no utterance in progress")
        return self._finish(truncated=False)

    def audio_so_far(self) -> tuple[bytes, int]:
        """The utterance in progress as it would be cut now, and the index of its last voiced frame: lets the
        caller start recognising during the hangover and keep the result if no speech follows."""
        keep = len(self._speech) - max(0, self._silent_run - 2)
        return b"".join(self._speech[:keep]), self.last_voiced_frame

    def _seconds(self, frames: int) -> float:
        return frames * self.cfg.frame_ms / 1000

    def _is_voiced(self, frame: bytes) -> bool:
        pcm = np.frombuffer(frame, dtype="<i2")
        if np.sqrt(np.mean(pcm.astype(np.float32) ** 2)) < self._floor:
            return False
        return self._vad.is_speech(frame, self.rate)

    def process(self, frame: bytes) -> list[VadEvent]:
        """Consume one frame (exactly `frame_bytes` long) and return the events it caused."""
        if len(frame) != self.frame_bytes:
            raise ValueError(f"frame must be {self.frame_bytes} bytes, got {len(frame)}")
        self.frames_seen += 1
        voiced = self._is_voiced(frame)
        if self._in_speech:
            return self._continue_speech(frame, voiced)
        self._window.append(voiced)
        self._preroll.append(frame)
        if sum(self._window) >= self._need_voiced:
            return self._start_speech()
        if self._listening_since is not None and self.frames_seen - self._listening_since >= self._no_input_frames:
            self._listening_since = None
            return [NoInput(self._seconds(self._no_input_frames))]
        return []

    def _start_speech(self) -> list[VadEvent]:
        self._in_speech = True
        self._listening_since = None
        self._speech = list(self._preroll)
        self._speech_start = self.frames_seen - len(self._speech)
        self._silent_run = 0
        self._preroll.clear()
        self._window.clear()
        return [SpeechStarted(self._seconds(self.frames_seen))]

    def _continue_speech(self, frame: bytes, voiced: bool) -> list[VadEvent]:
        self._speech.append(frame)
        self._silent_run = 0 if voiced else self._silent_run + 1
        if self._silent_run >= self._hangover:
            return [self._finish(truncated=False)]
        if len(self._speech) >= self._max_frames:
            return [self._finish(truncated=True)]
        return []

    def _finish(self, truncated: bool) -> Utterance:
        keep = len(self._speech) - (0 if truncated else max(0, self._silent_run - 2))  # keep ~40 ms tail
        audio = b"".join(self._speech[:keep])
        end = self.last_voiced_frame
        utt = Utterance(audio, self.rate, self._seconds(self._speech_start), self._seconds(end), truncated, end)
        self._in_speech = False
        self._speech = []
        self._silent_run = 0
        return utt


def split_utterances(pcm: bytes, settings: VadSettings, sample_rate: int) -> list[Utterance]:
    """Run the endpointer over a whole PCM16 buffer (flushing with trailing silence)."""
    ep = Endpointer(settings, sample_rate)
    pad = b"\x00" * ep.frame_bytes * (ep._hangover + 1)
    data = pcm + pad
    out: list[Utterance] = []
    for i in range(0, len(data) - ep.frame_bytes + 1, ep.frame_bytes):
        out += [e for e in ep.process(data[i : i + ep.frame_bytes]) if isinstance(e, Utterance)]
    return out
