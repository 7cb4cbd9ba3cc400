"""One call through the post-call stages: transcript ▶ redaction ▶ sentiment ▶ metrics ▶ topics ▶ scorecard,
and a redacted copy of the recording. `analyze` computes; `store` writes the results in one transaction."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from sqlalchemy import delete
from sqlalchemy.orm import Session

from models import RESULT_TABLES, Analysis, CallTopic, MetricValue, Redaction, ScoreItem, Segment, SpeakerSentiment

from . import dtmf, metrics, redaction, scorecard, sentiment, topics
from .review import apply_reviews
from .timeline import CallTimeline, Word
from .transcript import Recording, StoredCall, load_timeline

SILENCE_PAD_S = 0.15     # silenced around each redacted span in the redacted recording
KEY_RUN_GAP_S = 3.0      # keypad tones further apart than this are separate entries
KEYPAD = "[KEYPAD]"      # the text of a caller segment that was keypad tones, not speech
TIMING_SLACK_S = 0.3     # Whisper's segment times can be this far off the audio


@dataclass
class CallAnalysis:
    timeline: CallTimeline
    redactions: list[redaction.Redaction]
    sentiment: dict
    metrics: dict
    topics: dict
    score: scorecard.ScoreResult
    transcribed: bool
    transcribe_s: float = 0.0
    redacted_audio: tuple[np.ndarray, int] | None = field(default=None, repr=False)


def analyze(stored: StoredCall, recognizer, embedder, language: str = "en") -> CallAnalysis:
    """Run every stage on one stored call (`recognizer` None: the live turns only, no re-transcription)."""
    start = time.perf_counter()
    timeline, recording = load_timeline(stored, recognizer, language)
    transcribe_s = time.perf_counter() - start
    timeline.segments, found = redaction.redact_segments(timeline.segments)
    if recording is not None:
        runs = keypad_runs(recording)
        found += keypad_redactions(runs)
        mark_keypad(timeline.segments, runs)
    sentiment.score_segments(timeline)
    feelings = sentiment.summarize(timeline)
    figures = metrics.compute(timeline)
    call_topics = topics.call_topics(timeline, embedder)
    complaint = call_topics["complaint"]
    card = scorecard.load_scorecard(scorecard.scorecard_for(timeline.channel, timeline.language))
    result = scorecard.score(card, timeline, figures, feelings, found, (complaint["flag"], complaint["subject"]),
                             embedder)
    audio = redacted_audio(recording, found) if recording is not None else None
    return CallAnalysis(timeline, found, feelings, figures, call_topics, result,
                        transcribed=recording is not None and recognizer is not None,
                        transcribe_s=transcribe_s, redacted_audio=audio)


def keypad_runs(recording: Recording) -> list[list[tuple[str, float, float]]]:
    """Keys typed as in-band tones on the caller's channel (imported calls), grouped into entries."""
    runs: list[list[tuple[str, float, float]]] = []
    for key in dtmf.detect_keys(recording.samples[:, 0], recording.rate):
        if runs and key[1] - runs[-1][-1][2] <= KEY_RUN_GAP_S:
            runs[-1].append(key)
        else:
            runs.append([key])
    return runs


def mark_keypad(segments: list, runs: list[list[tuple[str, float, float]]]) -> None:
    """A caller segment mostly inside keypad tones is no speech: Whisper hears words in tones ("I'm sorry."),
    so its text becomes "[KEYPAD]" (nothing for sentiment, topics or the scorecard to read)."""
    spans = [(run[0][1] - TIMING_SLACK_S, run[-1][2] + TIMING_SLACK_S) for run in runs]
    for seg in segments:
        length = seg.end - seg.start
        inside = sum(max(0.0, min(seg.end, b) - max(seg.start, a)) for a, b in spans)
        if seg.speaker == "caller" and length > 0 and inside > length / 2:
            seg.text, seg.words = KEYPAD, [Word(KEYPAD, seg.start, seg.end, 1.0)]


def keypad_redactions(runs: list[list[tuple[str, float, float]]]) -> list[redaction.Redaction]:
    """Card or account numbers among the keypad entries."""
    found = []
    for run in runs:
        _, kinds = redaction.redact_keys("".join(k for k, _, _ in run if k.isdigit()))
        found += [redaction.Redaction(kind, "caller", run[0][1], run[-1][2]) for kind in kinds]
    return found


def redacted_audio(recording: Recording, found: list[redaction.Redaction]) -> tuple[np.ndarray, int]:
    """The recording with every redacted span silenced on both channels (the only audio the console plays)."""
    samples = recording.samples.copy()
    for r in found:
        if r.start is None or r.end is None:
            continue
        a = max(0, int((r.start - SILENCE_PAD_S) * recording.rate))
        b = min(len(samples), int((r.end + SILENCE_PAD_S) * recording.rate))
        samples[a:b] = 0.0
    return samples, recording.rate


def store(s: Session, job: Analysis, result: CallAnalysis, recording_path: str | None) -> None:
    """Replace the call's results with these (inside the caller's transaction)."""
    call_id = job.call_id
    for table in RESULT_TABLES:
        s.execute(delete(table).where(table.call_id == call_id))
    for seg in result.timeline.segments:
        s.add(Segment(call_id=call_id, seq=seg.seq, speaker=seg.speaker, text=seg.text,
                      start_ms=round(seg.start * 1000, 1), end_ms=round(seg.end * 1000, 1),
                      words=[[w.text, w.start, w.end] for w in seg.words] or None,
                      intent=seg.intent, sentiment=seg.sentiment))
    for r in result.redactions:
        s.add(Redaction(call_id=call_id, kind=r.kind, speaker=r.speaker, start_ms=_ms(r.start), end_ms=_ms(r.end)))
    for speaker, summary in result.sentiment.items():
        s.add(SpeakerSentiment(call_id=call_id, speaker=speaker, overall=summary["overall"],
                               quarters=summary["quarters"], change=summary["change"]))
    for name, value in result.metrics.items():
        number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        s.add(MetricValue(call_id=call_id, name=name, value=number,
                          detail=None if number is not None or value is None else value))
    for item in result.score.items:
        s.add(ScoreItem(call_id=call_id, scorecard=result.score.scorecard, item=item.id, section=item.section,
                        question=item.question, answer=item.answer, earned=item.earned, possible=item.possible,
                        auto_fail=item.auto_fail,
                        evidence=[{"seq": e.seq, "start_s": e.start_s} for e in item.evidence] or None))
    for kind, texts in (("intent", result.topics["intents"]), ("phrase", result.topics["phrases"])):
        s.add_all(CallTopic(call_id=call_id, kind=kind, text=t[:200]) for t in dict.fromkeys(texts))
    complaint = result.topics["complaint"]
    if complaint["flag"] and complaint["subject"]:
        s.add(CallTopic(call_id=call_id, kind="complaint", text=complaint["subject"][:200]))
    job.transcribed, job.transcribe_s = result.transcribed, round(result.transcribe_s, 3)
    job.audio_s = result.timeline.duration_s
    job.scorecard, job.score, job.auto_failed = result.score.scorecard, result.score.total, result.score.auto_failed
    job.complaint, job.complaint_subject = bool(complaint["flag"]), complaint["subject"]
    s.flush()
    apply_reviews(s, job)                      # QA reviews outlive a re-analysis
    job.redacted_recording_path = _write_redacted(result, recording_path)


def _write_redacted(result: CallAnalysis, recording_path: str | None) -> str | None:
    if result.redacted_audio is None or not recording_path:
        return None
    samples, rate = result.redacted_audio
    path = Path(recording_path)
    target = path.with_name(f"{path.stem}.redacted.wav")
    tmp = target.with_suffix(".tmp.wav")
    sf.write(str(tmp), samples, rate, subtype="PCM_16")
    tmp.replace(target)
    return str(target)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)
