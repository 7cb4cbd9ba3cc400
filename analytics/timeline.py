"""What every analytics stage reads: one call as a timeline of segments and events, in seconds from the
start of its recording. Built by analytics/transcript.py from the stored call and its recording."""
from __future__ import annotations

from dataclasses import dataclass, field

SPEAKERS = ("caller", "ivr", "agent")


@dataclass
class Word:
    text: str
    start: float
    end: float
    prob: float = 1.0


@dataclass
class Segment:
    """One utterance of one speaker; `words` carry times (empty for a text-only turn)."""
    seq: int
    speaker: str                      # caller | ivr | agent
    text: str
    start: float
    end: float
    words: list[Word] = field(default_factory=list)
    intent: str | None = None         # from the live turn it overlaps (caller turns of SIP and chat calls)
    state: str | None = None          # dialog state of that live turn
    sentiment: float | None = None    # -5..+5, filled by analytics/sentiment.py (caller and agent turns)


@dataclass
class Event:
    """A stored call event (models.EventKind), e.g. auth_success, barge_in, no_input, transfer_requested."""
    seq: int
    kind: str
    at: float | None
    state: str | None = None
    detail: dict = field(default_factory=dict)


@dataclass
class CallTimeline:
    call_id: int
    channel: str                      # sip | chat | import
    outcome: str | None
    duration_s: float
    segments: list[Segment] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)   # live turn latencies (end of speech -> reply)
    activity: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # speaker -> voiced spans (audio)
    tasks: list[str] = field(default_factory=list)            # self-service tasks the dialog completed
    language: str = "en"

    def speakers(self) -> list[str]:
        return [s for s in SPEAKERS if any(seg.speaker == s for seg in self.segments)]

    def text_of(self, speaker: str) -> str:
        return " ".join(seg.text for seg in self.segments if seg.speaker == speaker)


def other_party(call) -> str:
    """Who is on the recording's second channel: the agent of an imported call, else the IVR."""
    return "agent" if call.channel == "import" else "ivr"
