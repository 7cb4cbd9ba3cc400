"""What flows into a dialog session (caller events) and out of it (actions for the transport).
Import them from ivr.session."""
from __future__ import annotations

from dataclasses import dataclass

from .understanding import Understanding


# ---- caller events -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CallerSaid:
    text: str
    confidence: float = 1.0
    understanding: Understanding | None = None   # from `understand()`; used if made for this state and text


@dataclass(frozen=True)
class CallerKeyed:
    digits: str


@dataclass(frozen=True)
class NoInput:
    pass


@dataclass(frozen=True)
class CallerHungUp:
    pass


# ---- actions for the transport -------------------------------------------------------------------------
@dataclass(frozen=True)
class Say:
    text: str
    state: str = ""                    # the state it was said in
    interruptible: bool = True
    question: bool = False             # asks what the next Listen waits for (type-ahead may skip it)
    language: str = "en"               # the language it is said in (its voice)


@dataclass(frozen=True)
class Listen:
    state: str
    expect: str
    hints: list[str]
    timeout_s: float
    sensitive: bool = False            # PIN: mute the recording, mask the transcript
    max_digits: int | None = None
    min_digits: int | None = None
    inter_digit_s: float = 3.0         # key entry: the wait between keys before the minimum length...
    complete_digit_s: float = 1.5      # ...and after it


@dataclass(frozen=True)
class Transfer:
    reason: str
    context: dict


@dataclass(frozen=True)
class Hangup:
    outcome: str
