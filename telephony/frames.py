"""Typed messages of one call. The SIP layer and the media clock put `Inbound` frames into the call's inbox; the
stages turn them into `CallerTurn` / `Keyed` for the dialog. Every frame carries `t`, a monotonic time, so a
stage runs the same with the wall clock or with a fake one in tests."""
from __future__ import annotations

from dataclasses import dataclass, field


# ---- into the call: from the media clock and the SIP thread ---------------------------------------------
@dataclass(frozen=True)
class AudioIn:
    """20 ms of caller audio (8 kHz PCM16)."""
    pcm: bytes
    t: float


@dataclass(frozen=True)
class KeyIn:
    """One DTMF key (RFC 2833 or SIP INFO)."""
    digit: str
    t: float


@dataclass(frozen=True)
class HungUp:
    t: float
    reason: str | None = None     # "rtp_timeout": the line went dead (no RTP), not a BYE


@dataclass(frozen=True)
class TransferResult:
    """Final status of the blind transfer (SIP REFER)."""
    code: int
    t: float


@dataclass(frozen=True)
class HoldChanged:
    """The caller put the call on hold (re-INVITE sendonly/inactive) or took it off hold."""
    held: bool
    t: float


@dataclass(frozen=True)
class RecognitionReady:
    """An early (speculative) transcript finished."""
    t: float


@dataclass(frozen=True)
class FirstAudio:
    """The first frame of a reply left for the wire: ends the caller turn's latency."""
    t: float


@dataclass(frozen=True)
class PromptPlayed:
    """A prompt has finished playing, or was cut by barge-in after `played_ms`."""
    text: str
    state: str
    start_t: float
    end_t: float
    interrupted: bool


@dataclass(frozen=True)
class Tick:
    """Nothing arrived for a while: timers get a chance to fire."""
    t: float


Inbound = AudioIn | KeyIn | HungUp | TransferResult | HoldChanged | RecognitionReady | FirstAudio | PromptPlayed | Tick


# ---- out of the stages, to the call's dialog ------------------------------------------------------------
@dataclass(frozen=True)
class SpeechStarted:
    """The caller started to speak (a barge-in if a prompt is playing)."""
    t: float


@dataclass
class CallerTurn:
    """The caller finished a spoken turn: what was recognised and how long each step took."""
    text: str
    confidence: float
    speech_end: float              # monotonic time the caller stopped speaking
    start_s: float                 # where the speech lies in the call's caller audio
    end_s: float
    timings: dict = field(default_factory=dict)
    understanding: object | None = None   # the dialog's reading of the text, when it was judged early


@dataclass(frozen=True)
class Keyed:
    """A complete key entry: one menu key, or digits ended by '#', the maximum length or the digit timeout."""
    digits: str
    t: float


@dataclass(frozen=True)
class Silence:
    """The caller said nothing before the no-input timeout."""
    t: float
