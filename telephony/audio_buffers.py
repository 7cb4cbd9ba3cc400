"""Thread-safe audio plumbing between the pjsua2 media clock and a call's worker threads (pure Python)."""
from __future__ import annotations

import threading
import time
from collections import deque
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 8000
FRAME_MS = 20
FRAME_BYTES = RATE * FRAME_MS // 1000 * 2  # 320 bytes: 20 ms of 8 kHz PCM16
SILENCE = b"\x00" * FRAME_BYTES


class OutgoingAudio:
    """Frames waiting to be sent, each marked interruptible or not. The media clock pops one per 20 ms;
    `flush` drops the interruptible ones (barge-in) and leaves a legal notice playing."""

    def __init__(self):
        self._frames: deque[tuple[bytes, bool]] = deque()
        self._tail_interruptible = True
        self._lock = threading.Lock()
        self._tail = b""
        self._first_frame_waiters: list = []
        self.sent_frames = 0

    def push(self, pcm: bytes, interruptible: bool = True) -> None:
        with self._lock:
            data = self._tail + pcm
            cut = len(data) - len(data) % FRAME_BYTES
            self._frames.extend((data[i : i + FRAME_BYTES], interruptible) for i in range(0, cut, FRAME_BYTES))
            self._tail, self._tail_interruptible = data[cut:], interruptible

    def finish(self) -> None:
        """Pad and queue the last partial frame of an utterance."""
        with self._lock:
            if self._tail:
                self._frames.append((self._tail.ljust(FRAME_BYTES, b"\x00"), self._tail_interruptible))
                self._tail = b""

    def playing_interruptible(self) -> bool | None:
        """Whether the frame about to be sent may be cut; None when nothing is queued."""
        with self._lock:
            return self._frames[0][1] if self._frames else None

    def flush(self) -> int:
        """Barge-in: drop every interruptible frame still queued; return how many were dropped."""
        with self._lock:
            before = len(self._frames)
            self._frames = deque(f for f in self._frames if not f[1])
            self._tail = b""
            return before - len(self._frames)

    def on_first_frame(self, callback) -> None:
        """Call `callback(monotonic_time)` when the next non-silent frame leaves."""
        with self._lock:
            self._first_frame_waiters.append(callback)

    def pop(self) -> bytes | None:
        with self._lock:
            frame = self._frames.popleft()[0] if self._frames else None
            waiters = self._first_frame_waiters if frame is not None else []
            if waiters:
                self._first_frame_waiters = []
        if frame is not None:
            self.sent_frames += 1
        for cb in waiters:
            cb(time.monotonic())
        return frame

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._frames) + (1 if self._tail else 0)


class StereoRecorder:
    """Caller on the left, IVR on the right, frame-aligned by the media clock. The caller side can be muted
    (PIN entry) so that no PIN is ever in a recording."""

    def __init__(self):
        self._left: list[bytes] = []
        self._right: list[bytes] = []
        self._lock = threading.Lock()
        self.mute_caller = False

    def caller(self, frame: bytes) -> None:
        with self._lock:
            self._left.append(SILENCE if self.mute_caller else frame)

    def ivr(self, frame: bytes) -> None:
        with self._lock:
            self._right.append(frame)

    def write(self, path: Path) -> Path:
        with self._lock:
            n = max(len(self._left), len(self._right))
            left = np.frombuffer(b"".join(self._left).ljust(n * FRAME_BYTES, b"\x00"), dtype="<i2")
            right = np.frombuffer(b"".join(self._right).ljust(n * FRAME_BYTES, b"\x00"), dtype="<i2")
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), np.stack([left, right], axis=1), RATE, subtype="PCM_16")
        return path
