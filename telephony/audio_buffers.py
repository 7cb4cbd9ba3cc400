"""Thread-safe audio plumbing between the pjsua2 media clock and a call's threads (pure Python)."""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

RATE = 8000
FRAME_MS = 20
FRAME_BYTES = RATE * FRAME_MS // 1000 * 2  # 320 bytes: 20 ms of 8 kHz PCM16
SILENCE = b"\x00" * FRAME_BYTES


@dataclass(eq=False)
class Playback:
    """One prompt on its way to the caller: how much of it was queued, played, or dropped."""
    text: str = ""
    state: str = ""
    interruptible: bool = True
    queued: int = 0                # frames queued so far
    played: int = 0                # frames sent
    complete: bool = False         # synthesis finished: nothing more will be queued
    cut: bool = False              # barge-in dropped the rest
    first_t: float | None = None   # when its first frame was sent
    last_t: float | None = None

    @property
    def over(self) -> bool:
        return self.cut or (self.complete and self.played >= self.queued)


class OutgoingAudio:
    """Frames waiting to be sent, each belonging to a Playback. The media clock pops one per 20 ms; `cut` drops
    the playbacks a barge-in interrupts; `paused` (call on hold) sends nothing.
    `on_event(kind, playback, t)` is told 'first' (a reply's first frame), 'start' and 'end' of every playback;
    it runs on the media clock thread and must only queue."""

    def __init__(self, on_event=None, clock=time.monotonic):
        self._frames: deque[tuple[bytes, Playback]] = deque()
        self._lock = threading.Lock()
        self._tail = b""
        self._tail_playback: Playback | None = None
        self._watch: Playback | None = None
        self.on_event = on_event or (lambda kind, playback, t: None)
        self.clock = clock
        self.paused = False
        self.sent_frames = 0

    def push(self, pcm: bytes, playback: Playback) -> None:
        with self._lock:
            if playback.cut:
                return
            data = (self._tail if self._tail_playback is playback else b"") + pcm
            cut = len(data) - len(data) % FRAME_BYTES
            self._frames.extend((data[i : i + FRAME_BYTES], playback) for i in range(0, cut, FRAME_BYTES))
            playback.queued += cut // FRAME_BYTES
            self._tail, self._tail_playback = data[cut:], playback

    def finish(self, playback: Playback) -> None:
        """Pad and queue the last partial frame: nothing more comes for this playback."""
        with self._lock:
            if self._tail and self._tail_playback is playback and not playback.cut:
                self._frames.append((self._tail.ljust(FRAME_BYTES, b"\x00"), playback))
                playback.queued += 1
            self._tail, self._tail_playback = b"", None
            playback.complete = True
            ended = playback.played > 0 and playback.played >= playback.queued and not playback.cut
        if ended:  # every frame was sent before synthesis said it was done
            self.on_event("end", playback, playback.last_t)

    def watch_first_frame(self, playback: Playback) -> None:
        """Report the first frame of `playback` as 'first' (a caller turn's latency ends there)."""
        with self._lock:
            self._watch = playback

    def playing_interruptible(self) -> bool | None:
        """Whether the frame about to be sent may be cut; None when nothing is queued."""
        with self._lock:
            return self._frames[0][1].interruptible if self._frames else None

    def cut(self, playbacks: list[Playback]) -> int:
        """Barge-in: drop these playbacks (the rest of them, and anything still to be pushed for them); each that
        was partly heard ends now. Returns how many queued frames were dropped."""
        now = self.clock()
        with self._lock:
            ended = [pb for pb in playbacks if pb.played and not pb.over]
            for pb in playbacks:
                pb.cut = True
            if self._tail_playback is not None and self._tail_playback.cut:
                self._tail, self._tail_playback = b"", None
            before = len(self._frames)
            self._frames = deque(f for f in self._frames if not f[1].cut)
            count = before - len(self._frames)
        for pb in ended:
            pb.last_t = now
            self.on_event("end", pb, now)
        return count

    def pop(self) -> bytes | None:
        events = []
        with self._lock:
            if self.paused or not self._frames:
                return None
            frame, pb = self._frames.popleft()
            now = self.clock()
            if pb is self._watch:
                self._watch = None
                events.append(("first", pb))
            if pb.played == 0:
                pb.first_t = now
                events.append(("start", pb))
            pb.played += 1
            pb.last_t = now + FRAME_MS / 1000
            if pb.over:
                events.append(("end", pb))
            self.sent_frames += 1
        for kind, playback in events:
            self.on_event(kind, playback, now if kind != "end" else playback.last_t)
        return frame

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._frames) + (1 if self._tail else 0)
