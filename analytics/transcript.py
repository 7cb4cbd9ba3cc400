"""Stage 1: the call as one timeline. Both channels of the recording are re-transcribed with the accurate model
(word times), voiced stretch by voiced stretch, and merged with what the live call stored (turn intents and
states, events, latencies). A call without a readable recording (a text chat) is its live turns."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from asr import ASR_RATE, Recognizer
from asr.audio import resample
from models import Call, CallEvent, Turn

from .metrics import voice_activity
from .timeline import CallTimeline, Event, Segment, Word, other_party

log = logging.getLogger(__name__)
CHUNK_S = 12.0          # voiced stretches are grouped into chunks up to this long for one decode each
JOIN_GAP_S = 1.0        # ... when the pause between them is shorter than this (Whisper invents words in silence)
PAD_S = 0.2             # audio kept around each voiced stretch
SEGMENT_GAP_S = 0.8     # a pause this long inside a chunk starts a new segment


@dataclass
class Recording:
    """A call's stereo recording: channel 0 (left) is the caller/customer, channel 1 (right) the IVR or agent."""
    samples: np.ndarray          # float32, shape (frames, 2)
    rate: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.rate

    @classmethod
    def read(cls, path: str | Path | None) -> "Recording | None":
        if not path or not Path(path).is_file():
            return None
        try:
            data, rate = sf.read(str(path), dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as err:
            log.warning("recording %s is unreadable (%s); analysing the live turns only", path, err)
            return None
        if data.shape[1] == 1:
            data = np.repeat(data, 2, axis=1)
        return cls(data[:, :2], rate)


@dataclass
class StoredCall:
    """A call row with its turns and events, read in one short transaction (SQLite: no lock held while
    the recording is transcribed)."""
    call: Call
    turns: list[Turn]
    events: list[CallEvent]

    @classmethod
    def read(cls, sessions: sessionmaker, call_id: int) -> "StoredCall":
        with sessions() as s:
            call = s.get(Call, call_id)
            if call is None:
                raise LookupError(f"no call {call_id}")
            turns = s.scalars(select(Turn).where(Turn.call_id == call_id).order_by(Turn.seq)).all()
            events = s.scalars(select(CallEvent).where(CallEvent.call_id == call_id).order_by(CallEvent.seq)).all()
            return cls(call, list(turns), list(events))


def load_timeline(stored: StoredCall, recognizer: Recognizer | None, language: str = "en"
                  ) -> tuple[CallTimeline, Recording | None]:
    """The stored call as a timeline; re-transcribed when a recognizer is given and the recording is readable."""
    call, turns, events = stored.call, stored.turns, stored.events
    recording = Recording.read(call.recording_path)
    timeline = CallTimeline(
        call_id=call.id, channel=str(call.channel), outcome=call.outcome and str(call.outcome),
        duration_s=_duration(call, recording), language=language,
        events=[Event(e.seq, str(e.kind), e.at_ms / 1000 if e.at_ms is not None else None, e.state, e.detail or {})
                for e in events],
        latencies_ms=[t.latency_ms for t in turns if t.latency_ms is not None])
    parties = ("caller", other_party(call))
    if recording is not None:
        for channel, speaker in enumerate(parties):
            timeline.activity[speaker] = voice_activity(recording.samples[:, channel], recording.rate)
    if recording is not None and recognizer is not None:
        for channel, speaker in enumerate(parties):
            timeline.segments += transcribe_channel(recognizer, recording, channel, speaker,
                                                    timeline.activity[speaker], language)
        timeline.segments.sort(key=lambda seg: (seg.start, seg.speaker))
        _attach_live_turns(timeline.segments, turns)
    else:
        timeline.segments = _live_segments(turns)
        if timeline.segments and all(t.start_ms is None for t in turns):   # a text chat: its turns back to back
            timeline.duration_s = timeline.segments[-1].end
    for seq, seg in enumerate(timeline.segments, 1):
        seg.seq = seq
    return timeline, recording


def transcribe_channel(recognizer: Recognizer, recording: Recording, channel: int, speaker: str,
                       voiced: list[tuple[float, float]], language: str = "en") -> list[Segment]:
    """Segments with word times for one channel: its voiced stretches, grouped into chunks, decoded in a batch."""
    chunks = _chunks(voiced, recording.duration_s)
    if not chunks:
        return []
    mono = recording.samples[:, channel]
    audios = [resample(np.ascontiguousarray(mono[int(a * recording.rate):int(b * recording.rate)]),
                      recording.rate, ASR_RATE) for a, b in chunks]
    transcripts = recognizer.transcribe_many(audios, language=language, word_timestamps=True)
    segments: list[Segment] = []
    for (offset, _end), t in zip(chunks, transcripts):
        words = [Word(w.word.strip(), round(offset + w.start, 2), round(offset + w.end, 2), w.prob)
                 for w in t.words if w.word.strip()]
        segments += _split(words, speaker)
    return segments


def _chunks(voiced: list[tuple[float, float]], duration: float) -> list[tuple[float, float]]:
    chunks: list[list[float]] = []
    for start, end in voiced:
        start, end = max(0.0, start - PAD_S), min(duration, end + PAD_S)
        if chunks and start - chunks[-1][1] <= JOIN_GAP_S and end - chunks[-1][0] <= CHUNK_S:
            chunks[-1][1] = end
        else:
            chunks.append([start, end])
    return [(a, b) for a, b in chunks if b - a > 0.05]


def _split(words: list[Word], speaker: str) -> list[Segment]:
    groups: list[list[Word]] = []
    for w in words:
        if groups and w.start - groups[-1][-1].end < SEGMENT_GAP_S:
            groups[-1].append(w)
        else:
            groups.append([w])
    return [Segment(0, speaker, " ".join(w.text for w in g), g[0].start, g[-1].end, g) for g in groups]


def _attach_live_turns(segments: list[Segment], turns) -> None:
    """Each re-transcribed segment takes the intent and state of the live turn it overlaps most."""
    for seg in segments:
        best, overlap = None, 0.0
        for t in turns:
            if str(t.speaker) != seg.speaker and not (seg.speaker == "agent" and str(t.speaker) == "ivr"):
                continue
            if t.start_ms is None or t.end_ms is None:
                continue
            o = min(seg.end, t.end_ms / 1000) - max(seg.start, t.start_ms / 1000)
            if o > overlap:
                best, overlap = t, o
        if best is not None:
            seg.intent, seg.state = best.intent, best.state


def _live_segments(turns) -> list[Segment]:
    """No audio to re-transcribe: the live turns at their recording offsets; untimed turns (a text chat) are
    laid back to back, each as long as it takes to say (~150 words a minute)."""
    segments, cursor = [], 0.0
    for t in turns:
        if t.start_ms is not None:
            start = t.start_ms / 1000
            end = t.end_ms / 1000 if t.end_ms is not None else start
        else:
            start, end = cursor, cursor + max(0.5, len(t.text.split()) / 2.5)
        cursor = max(cursor, end)
        segments.append(Segment(t.seq, str(t.speaker), t.text, round(start, 2), round(end, 2), [],
                                t.intent, t.state))
    return segments


def _duration(call: Call, recording: Recording | None) -> float:
    if recording is not None:
        return round(recording.duration_s, 2)
    if call.ended_at and call.started_at:
        return round(max(0.0, (call.ended_at - call.started_at).total_seconds()), 2)
    return 0.0
