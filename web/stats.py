"""The dashboard's numbers: KPIs, calls per hour and per day, topics and complaints over time, this week's movers.

Every count is aggregated in SQL (GROUP BY), portably across SQLite and PostgreSQL, in the bank's zone without zone
functions in the database: a bank day is a CASE over the UTC starts of the period's days, an hour of day is the UTC
hour and quarter-hour shifted by the zone's offset (grouped per span of constant offset). Only the movers'
paraphrase clustering (analytics.topics.rank_topics) works call by call in Python. With 10,000 calls, all in the
period, GET /api/dashboard?days=90 takes ~135 ms on 2 cores (SQLite); the default 7 days ~20 ms."""
from __future__ import annotations

import threading
import time
import weakref
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import and_, case, extract, func, literal, select
from sqlalchemy.orm import Session

from analytics.offers import offer_report
from config import IvrError
from models import Analysis, Call, CallEvent, CallTopic, Channel, Outcome, SpeakerSentiment

SELF_SERVICE = (Channel.sip.value, Channel.chat.value)             # calls the IVR itself answered
CONTAINED = (Outcome.completed.value, Outcome.caller_hangup.value)  # ended in self-service: no transfer, no failure
ZERO_OUT_REASONS = frozenset({"caller_request", "caller_frustrated"})   # the caller, not the flow, asked for a person
CALLER = "caller"          # the customer's sentiment row (imported calls store the customer's channel as caller too)
TOP_TOPICS, TOP_INTENTS, TOP_MOVERS = 5, 10, 10
MOVERS_LABELS = 200        # the most frequent phrases / complaint subjects of the two weeks that movers consider
MOVERS_TTL_S = 300


def _utc_start(day: date, zone: ZoneInfo) -> datetime:
    """The stored (naive UTC) time at which `day` starts in the bank's zone."""
    return datetime.combine(day, clock(), zone).astimezone(UTC).replace(tzinfo=None)


@dataclass
class Period:
    """The last `days` calendar days in the bank's zone, today included, with naive-UTC bounds."""
    zone: ZoneInfo
    days: list[date]
    start: datetime = field(init=False)
    end: datetime = field(init=False)

    def __post_init__(self):
        self.start = _utc_start(self.days[0], self.zone)
        self.end = _utc_start(self.days[-1] + timedelta(days=1), self.zone)

    @cached_property
    def day_index(self):
        """SQL: the index of a call's bank day in the period - a balanced tree of CASEs over the days' UTC starts
        (7 comparisons a row for 90 days; portable: no zone functions needed in the database)."""
        starts = [_utc_start(d, self.zone) for d in self.days]

        def pick(lo: int, hi: int):      # among days lo..hi, the row known not to start before day lo
            if lo == hi:
                return literal(lo)
            mid = (lo + hi + 1) // 2
            return case((Call.started_at < starts[mid], pick(lo, mid - 1)), else_=pick(mid, hi))

        return pick(0, len(starts) - 1)


def period_of(zone: ZoneInfo, days: int, now: datetime | None = None) -> Period:
    today = (now or datetime.now(UTC)).astimezone(zone).date()
    return Period(zone, [today - timedelta(days=days - 1 - i) for i in range(days)])


def _in(period: Period):
    return and_(Call.started_at >= period.start, Call.started_at < period.end)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _count(condition):
    """SQL: how many rows meet the condition (0, not NULL, on no rows)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def kpis(s: Session, period: Period) -> dict:
    """Calls, containment, self-service completion, zero-out, QA score, caller sentiment, complaints. Five short
    aggregate queries (measured faster than one query joining everything)."""
    ss = Call.channel.in_(SELF_SERVICE)
    calls, self_service, ended, contained = s.execute(
        select(func.count(Call.id), _count(ss), _count(and_(ss, Call.outcome.is_not(None))),
               _count(and_(ss, Call.outcome.in_(CONTAINED)))).where(_in(period))).one()

    def ivr_calls_with(kind: str, *where) -> int:
        return s.scalar(select(func.count(func.distinct(CallEvent.call_id))).join(Call, Call.id == CallEvent.call_id)
                        .where(_in(period), ss, CallEvent.kind == kind, *where))

    done = ivr_calls_with("task_done")
    zero_out = ivr_calls_with("transfer_requested",
                              CallEvent.detail["reason"].as_string().in_(sorted(ZERO_OUT_REASONS)))
    qa, complaints = s.execute(select(func.avg(Analysis.qa_score), _count(Analysis.complaint.is_(True)))
                               .join(Call, Call.id == Analysis.call_id).where(_in(period))).one()
    mood = s.scalar(select(func.avg(SpeakerSentiment.overall)).join(Call, Call.id == SpeakerSentiment.call_id)
                    .where(_in(period), SpeakerSentiment.speaker == CALLER))
    return {"calls": calls, "self_service_calls": self_service, "ended_self_service_calls": ended,
            "contained_calls": contained, "containment": _ratio(contained, ended),
            "task_done_calls": done, "completion": _ratio(done, self_service),
            "zero_out_calls": zero_out, "zero_out": _ratio(zero_out, self_service),
            "avg_qa_score": None if qa is None else round(float(qa), 1),
            "avg_caller_sentiment": None if mood is None else round(float(mood), 2), "complaints": complaints}


def _offsets(period: Period) -> list[tuple[datetime, int]]:
    """The zone's UTC offset (minutes) over the period: [(naive UTC from, offset)], a new entry at each change
    (found to the minute; at most one change a day)."""
    def offset(at: datetime) -> int:
        return int(at.replace(tzinfo=UTC).astimezone(period.zone).utcoffset().total_seconds() // 60)

    out, day = [(period.start, offset(period.start))], period.start
    while day < period.end:
        lo, hi = 0, 24 * 60
        if offset(day + timedelta(minutes=hi)) != out[-1][1]:
            while hi - lo > 1:    # the first minute with the new offset
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if offset(day + timedelta(minutes=mid)) == out[-1][1] else (lo, mid)
            at = day + timedelta(minutes=hi)
            out.append((at, offset(at)))
        day += timedelta(days=1)
    return out


def volumes(s: Session, period: Period) -> tuple[list[int], list[dict]]:
    """Calls per hour of day (24 counts) and per day of the period, in the bank's zone. Hours: grouped in SQL by
    offset span, UTC hour and quarter-hour (every zone's offset is whole quarter-hours), then shifted here."""
    day = period.day_index
    per_day = dict(s.execute(select(day, func.count(Call.id)).where(_in(period)).group_by(day)).all())
    spans = _offsets(period)
    span = case(*[(Call.started_at < at, i) for i, (at, _) in enumerate(spans[1:])],
                else_=len(spans) - 1) if len(spans) > 1 else literal(0)
    minute, hour = extract("minute", Call.started_at), extract("hour", Call.started_at)
    quarter = case((minute < 15, 0), (minute < 30, 1), (minute < 45, 2), else_=3)
    per_hour = [0] * 24
    for i, h, q, n in s.execute(select(span, hour, quarter, func.count(Call.id)).where(_in(period))
                                .group_by(span, hour, quarter)):
        per_hour[(int(h) * 60 + int(q) * 15 + spans[int(i)][1]) // 60 % 24] += n
    return per_hour, [{"day": d.isoformat(), "calls": per_day.get(i, 0)} for i, d in enumerate(period.days)]


def top_intents(s: Session, period: Period, limit: int = TOP_INTENTS) -> list[dict]:
    n = func.count(func.distinct(CallTopic.call_id)).label("n")
    rows = s.execute(select(CallTopic.text, n).join(Call, Call.id == CallTopic.call_id)
                     .where(_in(period), CallTopic.kind == "intent").group_by(CallTopic.text)
                     .order_by(n.desc(), CallTopic.text).limit(limit))
    return [{"intent": text, "calls": count} for text, count in rows]


def _series(period: Period, keys: list[tuple[str, str]], rows) -> dict:
    """Per-day counts of each (kind, label) key from (kind, label, day index, count) rows."""
    counts = {k: [0] * len(period.days) for k in keys}
    for kind, label, day, n in rows:
        if (kind, label) in counts:
            counts[(kind, label)][day] += n
    return {"days": [d.isoformat() for d in period.days],
            "series": [{"topic": label, "kind": kind, "total": sum(counts[(kind, label)]),
                        "counts": counts[(kind, label)]} for kind, label in keys]}


def topic_trends(s: Session, period: Period, top: int = TOP_TOPICS) -> dict:
    """The period's most frequent intents and key phrases, counted per day."""
    n = func.count(CallTopic.id).label("n")
    keys = [(k, t) for k, t, _ in s.execute(
        select(CallTopic.kind, CallTopic.text, n).join(Call, Call.id == CallTopic.call_id)
        .where(_in(period), CallTopic.kind.in_(("intent", "phrase"))).group_by(CallTopic.kind, CallTopic.text)
        .order_by(n.desc(), CallTopic.kind, CallTopic.text).limit(top))]
    day = period.day_index
    rows = s.execute(select(CallTopic.kind, CallTopic.text, day, func.count(CallTopic.id))
                     .join(Call, Call.id == CallTopic.call_id)
                     .where(_in(period), CallTopic.text.in_([t for _, t in keys]))
                     .group_by(CallTopic.kind, CallTopic.text, day)) if keys else []
    return _series(period, keys, rows)


def complaint_trends(s: Session, period: Period, top: int = TOP_TOPICS) -> dict:
    """Complaint subjects of the period (the most frequent; 'unspecified' when none was found), per day."""
    subject, day = func.coalesce(Analysis.complaint_subject, "unspecified"), period.day_index
    rows = s.execute(select(subject, day, func.count(Analysis.id)).join(Call, Call.id == Analysis.call_id)
                     .where(_in(period), Analysis.complaint.is_(True)).group_by(subject, day)).all()
    totals = Counter()
    for label, _, count in rows:
        totals[label] += count
    keys = [("complaint", label) for label, _ in sorted(totals.items(), key=lambda x: (-x[1], x[0]))[:top]]
    return _series(period, keys, (("complaint", label, d, count) for label, d, count in rows))


def dashboard(s: Session, zone: ZoneInfo, days: int, now: datetime | None = None) -> dict:
    """Everything GET /api/dashboard returns except the movers."""
    p = period_of(zone, days, now)
    per_hour, per_day = volumes(s, p)
    return {"period": {"days": days, "first_day": p.days[0].isoformat(), "last_day": p.days[-1].isoformat(),
                       "zone": zone.key},
            "kpis": kpis(s, p), "per_hour": per_hour, "per_day": per_day, "top_intents": top_intents(s, p),
            "topic_trends": topic_trends(s, p), "complaint_trends": complaint_trends(s, p),
            "offers": offer_report(s, p.start, p.end)}


# -- movers: this week against the week before (what `ivr topics --since 7d` ranks) -----------------------------
class _CachedEncoder:
    """An Embedder's encode() that keeps the vectors of labels it has seen (labels recur from week to week)."""

    def __init__(self, embedder, limit: int = 20000):
        self.embedder, self.limit, self.vectors = embedder, limit, {}

    def encode(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        for i in range(0, len(missing), 256):
            self.vectors.update(zip(missing[i:i + 256], self.embedder.encode(missing[i:i + 256])))
        out = np.stack([self.vectors[t] for t in texts]) if texts else np.zeros((0, 1), np.float32)
        while len(self.vectors) > self.limit:
            self.vectors.pop(next(iter(self.vectors)))
        return out


_encoders: dict[Path, _CachedEncoder] = {}
_movers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()   # sessionmaker -> (monotonic time, result)
_lock = threading.Lock()


def _encoder(models_dir: Path) -> _CachedEncoder:
    if models_dir not in _encoders:
        from embedding import Embedder

        _encoders[models_dir] = _CachedEncoder(Embedder.load(models_dir))
    return _encoders[models_dir]


def _frequent_only(current: list[dict], previous: list[dict], keep: int) -> None:
    """Keep the `keep` most frequent phrases and complaint subjects (rare ones never make a mover; this bounds
    the clustering work at 10,000 calls)."""
    freq = Counter(p for t in current + previous for p in t["phrases"])
    phrases = {p for p, _ in freq.most_common(keep)}
    subjects = {x for x, _ in Counter(t["complaint"]["subject"] for t in current + previous
                                      if t["complaint"]["flag"]).most_common(keep)}
    for t in current + previous:
        t["phrases"] = [p for p in t["phrases"] if p in phrases]
        if t["complaint"]["flag"] and t["complaint"]["subject"] not in subjects:
            t["complaint"] = {"flag": False, "subject": None}


def compute_movers(s: Session, encoder, now: datetime, top: int = TOP_MOVERS) -> dict:
    """Topics of the last 7 days ranked against the 7 before; the risers: more calls than the week before."""
    from analytics.report import period_topics
    from analytics.topics import rank_topics

    week = timedelta(days=7)
    current, previous = period_topics(s, now - week, now), period_topics(s, now - 2 * week, now - week)
    _frequent_only(current, previous, MOVERS_LABELS)
    ranked = rank_topics(current, previous, encoder)
    risers = sorted((r for r in ranked if r.count > r.previous),
                    key=lambda r: (-(r.count - r.previous), -(r.change if r.change is not None else float("inf")),
                                   r.topic))
    return {"calls": len(current), "previous_calls": len(previous),
            "risers": [asdict(r) | {"members": r.members[:5]} for r in risers[:top]]}


def movers(sessions, models_dir: Path, now: datetime) -> dict:
    """compute_movers(), remembered for MOVERS_TTL_S per database; {"error": ...} when the sentence model is missing."""
    with _lock:   # one computation at a time; the others wait for its result
        cached = _movers.get(sessions)
        if cached and time.monotonic() - cached[0] < MOVERS_TTL_S:
            return cached[1]
        try:
            encoder = _encoder(models_dir)
        except (IvrError, ImportError, OSError, RuntimeError) as err:   # no sentence model: the rest still works
            return {"error": f"movers unavailable: {err}", "calls": 0, "previous_calls": 0, "risers": []}
        with sessions() as s:
            result = compute_movers(s, encoder, now)
        result["computed_at"] = now
        _movers[sessions] = (time.monotonic(), result)
        return result
