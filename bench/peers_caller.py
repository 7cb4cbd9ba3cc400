"""The scripted caller both sides of bench/peers.py hear and answer: the same audio, the same timing rules.

Every 20 ms the side under test asks `frame(now)` for the caller's next 8 kHz PCM16 frame and reports what
came out of it with `heard(t, pcm)` (as soon as it comes out: a side that emits its reply in bursts is still
timed from the first burst, and its playback is accounted as real time). The caller waits until the IVR has
been quiet for `QUIET_S` after its audio would have finished playing, then says its next utterance.
Per turn it records: the end of its audio, the first voiced reply audio after it (latency), whether a reply
began before it had finished (cut), and whether none came within `MISSED_S` (missed).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

RATE = 8000
FRAME_BYTES = 320                 # 20 ms of 8 kHz PCM16
QUIET_S = 1.0                     # the IVR's audio has finished and it has been quiet this long: speak
MISSED_S = 10.0                   # no reply this long after the caller stopped: a missed turn
VOICED_DBFS = -40.0               # a 10 ms window this loud is reply audio (not the silence around it)


def voiced_offset(pcm: bytes) -> float | None:
    """Seconds into `pcm` of its first voiced 10 ms window, or None if it is all quiet."""
    x = np.frombuffer(pcm, np.int16).astype(np.float32) / 32768.0
    win = RATE // 100
    for k in range(0, len(x) - win + 1, win):
        if 20 * np.log10(np.sqrt(np.mean(x[k:k + win] ** 2)) + 1e-9) > VOICED_DBFS:
            return k / RATE
    return None


@dataclass
class TurnResult:
    said: str                         # what the caller says (the script's words)
    started: float = 0.0              # monotonic time of its first audio frame
    ended: float = 0.0                # ... and of the end of its last one
    reply_at: float | None = None     # first voiced reply audio after `ended`
    cut: bool = False                 # reply audio began while the caller was still speaking

    @property
    def latency_ms(self) -> float | None:
        return None if self.reply_at is None else round((self.reply_at - self.ended) * 1000, 1)


@dataclass
class Caller:
    utterances: list[tuple[str, bytes]]            # (words, 8 kHz PCM16 audio) in the order said
    turns: list[TurnResult] = field(default_factory=list)
    _playing_until: float = 0.0                    # when the IVR audio heard so far finishes playing
    _heard_any: bool = False
    _audio: bytes = b""
    _pos: int = 0
    done: bool = False

    def heard(self, t: float, pcm: bytes) -> None:
        """Audio the IVR sent at monotonic time `t`."""
        if not pcm:
            return
        offset = voiced_offset(pcm)
        if offset is None:
            if t < self._playing_until - 0.005:    # quiet inside a burst still queued for playing: it plays too
                self._playing_until += len(pcm) / 2 / RATE
            return                                 # quiet sent in real time after the audio: not more audio
        self._playing_until = max(self._playing_until, t) + len(pcm) / 2 / RATE
        self._heard_any = True
        onset = t + offset
        turn = self.turns[-1] if self.turns else None
        if turn is None:
            return
        if self._pos < len(self._audio):           # still speaking
            turn.cut = True
        elif turn.reply_at is None and onset >= turn.ended:
            turn.reply_at = onset

    def frame(self, now: float) -> bytes:
        """The caller's next 20 ms frame."""
        if self._pos < len(self._audio):
            out = self._audio[self._pos:self._pos + FRAME_BYTES].ljust(FRAME_BYTES, b"\0")
            self._pos += FRAME_BYTES
            if self._pos >= len(self._audio):
                self.turns[-1].ended = now          # a frame is sent once its 20 ms have been said
            return out
        turn = self.turns[-1] if self.turns else None
        waiting = turn is not None and turn.reply_at is None
        if waiting and now - turn.ended > MISSED_S:
            waiting = False                       # missed: move on
        if (not waiting and self._heard_any and now >= self._playing_until + QUIET_S
                and len(self.turns) < len(self.utterances)):
            words, audio = self.utterances[len(self.turns)]
            self.turns.append(TurnResult(words, started=now))
            self._audio, self._pos = audio, 0
            return self.frame(now)
        if len(self.turns) == len(self.utterances) and not waiting and now >= self._playing_until + QUIET_S:
            self.done = True
        return b"\0" * FRAME_BYTES
