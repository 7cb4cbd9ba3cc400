"""The recorder stage: both directions of a call, caller left and IVR right, streamed to a WAV file as the call
goes. The WAV header is rewritten every `sync_s`, so a crash leaves a playable recording up to its last second.
The caller side is muted while a PIN is entered: no PIN is ever in a recording. A recording that cannot be
written (disk full, directory gone) never stops the call: `failed` says why, and what was written stays playable."""
from __future__ import annotations

import struct
import threading
from collections import deque
from pathlib import Path

import numpy as np

from .audio_buffers import FRAME_BYTES, FRAME_MS, RATE, SILENCE

BACKLOG_FRAMES = 5   # caller frames waiting for an IVR tick beyond this are written with a silent IVR side


def wav_header(data_bytes: int, rate: int = RATE, channels: int = 2) -> bytes:
    block = channels * 2
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * block, block, 16)
            + b"data" + struct.pack("<I", data_bytes))


class StreamingRecorder:
    """`caller(frame)` and `ivr(frame)` come from the media clock thread; a writer thread does the disk work."""

    def __init__(self, path: Path, sync_s: float = 1.0):
        self.path = path
        self.mute_caller = False
        self._caller: deque[bytes] = deque()
        self._pending: list[bytes] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._sync_s = sync_s
        self.frames = 0        # written to the file
        self._queued = 0       # handed to the writer (under the lock)
        self.failed: str | None = None    # why the recording stopped being written (None: it is whole)
        self._file = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(path, "wb")  # noqa: SIM115 - owned by the writer thread until close()
            self._file.write(wav_header(0))
            self._file.flush()
        except OSError as err:
            self._fail(err)
        self._writer = threading.Thread(target=self._write_loop, name=f"rec-{path.stem}", daemon=True)
        self._writer.start()

    # media clock thread: queue only
    def caller(self, frame: bytes) -> None:
        with self._lock:
            self._caller.append(SILENCE if self.mute_caller else frame)
            while len(self._caller) > BACKLOG_FRAMES:   # the IVR side is not being clocked (e.g. on hold)
                self._queue(self._caller.popleft() + SILENCE)

    def ivr(self, frame: bytes | None) -> None:
        with self._lock:
            left = self._caller.popleft() if self._caller else SILENCE
            self._queue(left + (frame or SILENCE))

    def pad_to(self, seconds: float) -> int:
        """Silence up to `seconds` into the call, for a stretch when no frames came (a hold): the recording stays
        on the call's clock, so that the turns' offsets point at their audio. Returns the frames added."""
        with self._lock:
            missing = round(seconds * 1000 / FRAME_MS) - self._queued - len(self._caller)
            if missing <= BACKLOG_FRAMES or self._closed:
                return 0
            for _ in range(missing):
                self._queue(SILENCE + SILENCE)
            return missing

    def _queue(self, stereo_frame: bytes) -> None:   # under self._lock
        self._pending.append(stereo_frame)
        self._queued += 1

    @property
    def seconds(self) -> float:
        return self.frames * FRAME_MS / 1000

    def close(self) -> Path:
        """Write what is left and a final header (idempotent)."""
        with self._lock:
            if self._closed:
                return self.path
            self._closed = True
            for frame in self._caller:
                self._queue(frame + SILENCE)
            self._caller.clear()
        self._wake.set()
        self._writer.join()
        return self.path

    def _write_loop(self) -> None:
        while True:
            closing = self._wake.wait(self._sync_s)
            with self._lock:
                batch, self._pending = self._pending, []
                closing = closing and self._closed
            if batch and self._file is not None:
                try:
                    pairs = np.frombuffer(b"".join(batch), dtype="<i2").reshape(len(batch), 2, FRAME_BYTES // 2)
                    self._file.write(pairs.transpose(0, 2, 1).tobytes())   # left+right frames -> stereo samples
                    self.frames += len(batch)
                    self._sync_header()
                except OSError as err:
                    self._fail(err)
            if closing:
                if self._file is not None:
                    try:
                        self._file.close()
                    except OSError as err:   # the last buffered bytes did not fit either
                        self._file = None
                        self._fail(err)
                return

    def _fail(self, err: OSError) -> None:
        """Stop writing; keep the header of what was written (if the disk takes that much)."""
        if self.failed is None:
            self.failed = f"{err.strerror or err} after {self.seconds:.1f} s"
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None

    def _sync_header(self) -> None:
        data = self.frames * FRAME_BYTES * 2
        self._file.seek(0)
        self._file.write(wav_header(data))
        self._file.seek(0, 2)
        self._file.flush()

