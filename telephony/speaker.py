"""The speaker stage: plays Say actions in order (prompt cache first, else streamed synthesis) into the outgoing
audio. A barge-in cancels what was queued when it happened, and only that: the next reply always plays.
The wait between a Say and the start of its synthesis is `ivr_queue_wait_seconds{queue="tts"}`."""
from __future__ import annotations

import queue
import threading
import time

import monitoring
from monitoring import metrics

from .audio_buffers import RATE, OutgoingAudio, Playback


class Speaker(threading.Thread):
    def __init__(self, synth, cache, out: OutgoingAudio, clock=time.monotonic, call_id=None, voices=None):
        """`voices(language) -> (synth, cache)`: the voice of a Say in another language (None: one voice)."""
        super().__init__(name="speaker" if call_id is None else f"speaker-{call_id}", daemon=True)
        self.synth, self.cache, self.out, self.clock, self.call_id = synth, cache, out, clock, call_id
        self.voices = voices
        self._jobs: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._active: list[tuple[Playback, threading.Event]] = []   # said, not yet over
        self.first_chunk_ms: float | None = None

    def say(self, item) -> Playback:
        """Queue one Say; the Playback tells how much of it the caller heard."""
        playback = Playback(item.text, getattr(item, "state", "") or "", item.interruptible)
        cancel = threading.Event()
        with self._lock:
            self._active.append((playback, cancel))
        self._jobs.put((item, playback, cancel, time.monotonic()))
        return playback

    @property
    def speaking(self) -> bool:
        """Something said is still being synthesized or played."""
        with self._lock:
            self._active = [(pb, c) for pb, c in self._active if not pb.over]
            return bool(self._active)

    @property
    def interruptible(self) -> bool:
        """Whether what the caller hears now (else what comes next) may be cut."""
        playing = self.out.playing_interruptible()
        if playing is not None:
            return playing
        with self._lock:
            waiting = [pb for pb, _ in self._active if not pb.over]
        return waiting[0].interruptible if waiting else True

    def barge_in(self) -> int:
        """Cut every interruptible prompt said so far (playing, queued or being synthesized); return the number of
        frames dropped. A legal notice plays on; prompts said after this call are not affected."""
        with self._lock:
            cut = [(pb, cancel) for pb, cancel in self._active if pb.interruptible and not pb.over]
        for _, cancel in cut:
            cancel.set()
        return self.out.cut([pb for pb, _ in cut])

    def silence(self) -> None:
        """The call is over: cut everything, legal notices too (what was heard so far is reported)."""
        with self._lock:
            cut = list(self._active)
        for _, cancel in cut:
            cancel.set()
        self.out.cut([pb for pb, _ in cut])

    def stop(self) -> None:
        self._jobs.put(None)

    def run(self) -> None:
        monitoring.set_call_id(self.call_id)
        while (job := self._jobs.get()) is not None:
            item, playback, cancel, queued = job
            if not cancel.is_set():
                metrics.queue_wait("tts", time.monotonic() - queued)
                synth, cache = self.voices(getattr(item, "language", "")) if self.voices else (self.synth, self.cache)
                self._play(item.text, playback, cancel, synth, cache)
            self.out.finish(playback)

    def _play(self, text: str, playback: Playback, cancel: threading.Event, synth, cache) -> None:
        start = self.clock()
        pcm = cache.get(text) if cache else None
        if pcm is not None:
            self.first_chunk_ms = (self.clock() - start) * 1000
            self.out.push(pcm, playback)
            return
        first = True
        for chunk in synth.stream(text, RATE, cancel):
            if cancel.is_set():
                return
            if first:
                self.first_chunk_ms, first = (self.clock() - start) * 1000, False
            self.out.push(chunk, playback)
