"""What `ivr calls show|list` and `ivr topics` print (and the console serves): stored results, read back."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import IvrError
from models import (Analysis, utcnow, Call, CallEvent, CallTopic, MetricValue, Redaction, ScoreItem, Segment,
                    SpeakerSentiment, Turn)


def parse_since(text: str) -> timedelta:
    """'7d', '12h', '30m', '2w' -> a timedelta; anything else is one clear error."""
    m = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", text or "")
    if not m or int(m.group(1)) == 0:
        raise IvrError(f"--since takes a period like 30m, 12h, 7d or 2w, not {text!r}")
    unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
    return timedelta(**{unit: int(m.group(1))})


def call_detail(s: Session, call_id: int) -> dict:
    """`ivr calls show CALL_ID --json`: the call with its redacted transcript and every analysis result."""
    call = s.get(Call, call_id)
    if call is None:
        raise IvrError(f"no call {call_id}")
    job = s.scalar(select(Analysis).where(Analysis.call_id == call_id))
    done = job is not None and job.status == "done"
    by_call = lambda model: select(model).where(model.call_id == call_id)  # noqa: E731
    turns = _segments(s, call_id) if done else _live_turns(s, call_id)
    metrics = {m.name: (m.value if m.detail is None else m.detail)
               for m in s.scalars(by_call(MetricValue).order_by(MetricValue.id))}
    items = s.scalars(by_call(ScoreItem).order_by(ScoreItem.id)).all()
    topics = s.scalars(by_call(CallTopic).order_by(CallTopic.id)).all()
    return {
        "id": call.id, "channel": str(call.channel), "language": call.language, "ani": call.ani,
        "started_at": call.started_at.isoformat(timespec="seconds") if call.started_at else None,
        "ended_at": call.ended_at.isoformat(timespec="seconds") if call.ended_at else None,
        "duration_s": _duration(call, metrics), "outcome": call.outcome and str(call.outcome),
        "transfer_reason": call.transfer_reason,
        "analysis": {"status": str(job.status) if job else "pending", "error": job.error if job else None,
                     "attempts": job.attempts if job else 0,
                     "transcribed": bool(job and job.transcribed),
                     "redacted_recording": bool(job and job.redacted_recording_path)},
        "turns": turns,
        "events": [{"seq": e.seq, "kind": str(e.kind), "state": e.state, "at_s": _s(e.at_ms), "detail": e.detail}
                   for e in s.scalars(by_call(CallEvent).order_by(CallEvent.seq))],
        "redactions": [{"type": r.kind, "speaker": r.speaker, "start_s": _s(r.start_ms), "end_s": _s(r.end_ms)}
                       for r in s.scalars(by_call(Redaction).order_by(Redaction.id))],
        "sentiment": {x.speaker: {"overall": x.overall, "quarters": x.quarters, "change": x.change}
                      for x in s.scalars(by_call(SpeakerSentiment).order_by(SpeakerSentiment.id))},
        "metrics": metrics,
        "score": None if not done or job.scorecard is None else {
            "scorecard": job.scorecard, "total": job.score, "auto_failed": job.auto_failed,
            "items": [{"id": i.item, "section": i.section, "question": i.question, "answer": i.answer,
                       "earned": i.earned, "possible": i.possible, "auto_fail": i.auto_fail,
                       "evidence": i.evidence or []} for i in items]},
        "topics": [t.text for t in topics if t.kind != "complaint"],
        "complaint": {"flag": bool(job and job.complaint), "subject": job.complaint_subject if job else None},
    }


def _segments(s: Session, call_id: int) -> list[dict]:
    rows = s.scalars(select(Segment).where(Segment.call_id == call_id).order_by(Segment.seq))
    return [{"seq": r.seq, "speaker": r.speaker, "text": r.text, "start_s": _s(r.start_ms), "end_s": _s(r.end_ms),
             "sentiment": r.sentiment, "intent": r.intent} for r in rows]


def _live_turns(s: Session, call_id: int) -> list[dict]:
    rows = s.scalars(select(Turn).where(Turn.call_id == call_id).order_by(Turn.seq))
    return [{"seq": r.seq, "speaker": str(r.speaker), "text": r.text, "start_s": _s(r.start_ms),
             "end_s": _s(r.end_ms), "sentiment": None, "intent": r.intent} for r in rows]


def list_calls(s: Session, since: timedelta | None = None, outcome: str | None = None,
               min_score: float | None = None, limit: int = 1000) -> list[dict]:
    """`ivr calls list`: newest first, with the analysis status and score."""
    q = select(Call, Analysis).outerjoin(Analysis, Analysis.call_id == Call.id)
    if since is not None:
        q = q.where(Call.started_at >= utcnow() - since)
    if outcome:
        q = q.where(Call.outcome == outcome)
    if min_score is not None:
        q = q.where(Analysis.score >= min_score)
    rows = s.execute(q.order_by(Call.id.desc()).limit(limit)).all()
    return [{"id": c.id, "channel": str(c.channel), "ani": c.ani,
             "started_at": c.started_at.isoformat(timespec="seconds") if c.started_at else None,
             "duration_s": _duration(c, {}), "outcome": c.outcome and str(c.outcome),
             "analysis": str(a.status) if a else "pending", "score": a.score if a else None,
             "auto_failed": bool(a and a.auto_failed), "complaint": bool(a and a.complaint)} for c, a in rows]


def period_topics(s: Session, start: datetime, end: datetime) -> list[dict]:
    """call_topics()-shaped dicts of the analysed calls that started in [start, end)."""
    rows = s.execute(select(CallTopic.call_id, CallTopic.kind, CallTopic.text).join(Call, Call.id == CallTopic.call_id)
                     .where(Call.started_at >= start, Call.started_at < end).order_by(CallTopic.id)).all()
    calls: dict[int, dict] = {}
    for call_id, kind, text in rows:
        c = calls.setdefault(call_id, {"intents": [], "phrases": [], "complaint": {"flag": False, "subject": None}})
        if kind == "intent":
            c["intents"].append(text)
        elif kind == "phrase":
            c["phrases"].append(text)
        else:
            c["complaint"] = {"flag": True, "subject": text}
    return list(calls.values())


def _duration(call: Call, metrics: dict) -> float | None:
    if isinstance(metrics.get("duration_s"), (int, float)):
        return metrics["duration_s"]
    if call.ended_at and call.started_at:
        return round((call.ended_at - call.started_at).total_seconds(), 2)
    return None


def _s(ms: float | None) -> float | None:
    return None if ms is None else round(ms / 1000, 2)
