"""The Calls list's one filtered query, shared by the page, GET /api/calls and the CSV export.

Portable SQL (SQLite and PostgreSQL): duration and caller sentiment are correlated scalar subqueries, so they can be
filtered and sorted on; text search is one EXISTS ... ILIKE per word. A page costs a count, the page query and one
query for the page's intents, whatever the page size."""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import Float, and_, exists, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import FunctionElement

from models import Analysis, AnalysisStatus, Call, CallTopic, MetricValue, Outcome, Segment, SpeakerSentiment, Turn

from .console import Console

CALLER_SPEAKERS = ("caller", "customer")     # the analyzer labels the caller "caller" (chat, SIP and imports alike)
NEUTRAL = 0.05                                # negative < -0.05 <= neutral <= 0.05 < positive
MAX_WORDS = 10
SORTS = ("started_at", "duration", "score", "sentiment", "outcome")
COLUMNS = ("id", "started_at", "channel", "ani", "duration_s", "outcome", "intents", "analysis", "score",
           "auto_failed", "reviewed", "sentiment", "complaint", "complaint_subject")
FILTERS = ("from", "to", "outcome", "intent", "score_min", "score_max", "auto_failed", "sentiment", "duration_min",
           "duration_max", "complaint", "q")
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class CallFilter(BaseModel):
    """The Calls list's query parameters; blank values (an empty form field) mean 'any'."""
    from_: date | None = Field(None, alias="from", description="first day, YYYY-MM-DD in the bank's zone")
    to: date | None = Field(None, description="last day (inclusive), YYYY-MM-DD in the bank's zone")
    outcome: Outcome | None = None
    intent: str | None = Field(None, max_length=32, pattern=r"^[A-Za-z0-9_]+$")
    score_min: float | None = Field(None, ge=0, le=100, allow_inf_nan=False)
    score_max: float | None = Field(None, ge=0, le=100, allow_inf_nan=False)
    auto_failed: bool | None = None
    sentiment: Literal["negative", "neutral", "positive"] | None = Field(
        None, description="the caller's overall sentiment: negative < -0.05, positive > 0.05, neutral between")
    duration_min: float | None = Field(None, ge=0, le=10**6, allow_inf_nan=False, description="seconds")
    duration_max: float | None = Field(None, ge=0, le=10**6, allow_inf_nan=False, description="seconds")
    complaint: bool | None = None
    q: str | None = Field(None, max_length=200, description="every word must occur in the redacted transcript")
    sort: Literal["started_at", "duration", "score", "sentiment", "outcome"] = "started_at"
    order: Literal["asc", "desc"] = "desc"
    page: int = Field(1, ge=1, le=10**6)
    page_size: int | None = Field(None, ge=1, le=200, description="default: the console's page_size setting")

    @model_validator(mode="before")
    @classmethod
    def _blank_is_any(cls, data):
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and v.strip() == "")}
        return data

    @field_validator("from_", "to", mode="before")
    @classmethod
    def _iso_day(cls, value):
        if value is not None and not (isinstance(value, (str, date)) and DAY.fullmatch(str(value))):
            raise PydanticCustomError("day", "use a date like 2026-11-29")
        return value

    @field_validator("q")
    @classmethod
    def _few_words(cls, value):
        if value is not None and len(value.split()) > MAX_WORDS:
            raise PydanticCustomError("too_many_words", f"search for at most {MAX_WORDS} words")
        return value

    @model_validator(mode="after")
    def _ranges(self):
        for low, high, name in ((self.from_, self.to, "from is after to"),
                                (self.score_min, self.score_max, "score_min is above score_max"),
                                (self.duration_min, self.duration_max, "duration_min is above duration_max")):
            if low is not None and high is not None and low > high:
                raise PydanticCustomError("range", name)
        return self

    def params(self, *, paging: bool = False) -> dict[str, str]:
        """The set filters (and sort, order; page and page size too with `paging`) as URL query parameters."""
        raw = self.model_dump(by_alias=True, exclude_none=True)
        keys = [*FILTERS, "sort", "order", *(("page", "page_size") if paging else ())]
        return {k: _param(raw[k]) for k in keys if k in raw}


def _param(value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


class seconds_between(FunctionElement):
    """Seconds from the first timestamp to the second, as a float (no portable SQL function exists)."""
    type = Float()
    name = "seconds_between"
    inherit_cache = True


@compiles(seconds_between)
def _seconds_pg(element, compiler, **kw):
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(EXTRACT(EPOCH FROM ({end} - {start})) AS DOUBLE PRECISION)"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element, compiler, **kw):
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


def duration_s():
    """The analysed duration (metric duration_s), else ended_at - started_at."""
    metric = (select(MetricValue.value).where(MetricValue.call_id == Call.id, MetricValue.name == "duration_s")
              .limit(1).scalar_subquery())
    return func.coalesce(metric, seconds_between(Call.started_at, Call.ended_at))


def caller_sentiment():
    return (select(SpeakerSentiment.overall)
            .where(SpeakerSentiment.call_id == Call.id, SpeakerSentiment.speaker.in_(CALLER_SPEAKERS))
            .order_by(SpeakerSentiment.id).limit(1).scalar_subquery())


def _mentions(word: str):
    """The call's redacted transcript has `word`: its segments once analysed, its live turns before that."""
    pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    analysed = Analysis.status == AnalysisStatus.done
    in_segments = exists().where(Segment.call_id == Call.id, Segment.text.ilike(pattern, escape="\\"))
    in_turns = exists().where(Turn.call_id == Call.id, Turn.text.ilike(pattern, escape="\\"))
    return or_(and_(analysed, in_segments), and_(or_(Analysis.id.is_(None), ~analysed), in_turns))


def conditions(f: CallFilter, console: Console) -> list:
    """The WHERE clauses of a filter (over calls outer-joined to analyses)."""
    where = []
    if f.from_:
        where.append(Call.started_at >= console.to_utc(datetime.combine(f.from_, time())))
    if f.to:
        where.append(Call.started_at < console.to_utc(datetime.combine(f.to + timedelta(days=1), time())))
    if f.outcome:
        where.append(Call.outcome == f.outcome)
    if f.intent:
        where.append(exists().where(CallTopic.call_id == Call.id, CallTopic.kind == "intent",
                                    CallTopic.text == f.intent))
    if f.score_min is not None:
        where.append(Analysis.qa_score >= f.score_min)
    if f.score_max is not None:
        where.append(Analysis.qa_score <= f.score_max)
    if f.auto_failed is not None:
        where.append(Analysis.qa_auto_failed.is_(True) if f.auto_failed
                     else or_(Analysis.id.is_(None), Analysis.qa_auto_failed.is_(False)))
    if f.complaint is not None:
        where.append(Analysis.complaint.is_(True) if f.complaint
                     else or_(Analysis.id.is_(None), Analysis.complaint.is_(False)))
    if f.sentiment:
        mood = caller_sentiment()
        where.append({"negative": mood < -NEUTRAL, "positive": mood > NEUTRAL,
                      "neutral": mood.between(-NEUTRAL, NEUTRAL)}[f.sentiment])
    if f.duration_min is not None:
        where.append(duration_s() >= f.duration_min)
    if f.duration_max is not None:
        where.append(duration_s() <= f.duration_max)
    for word in dict.fromkeys((f.q or "").lower().split()):
        where.append(_mentions(word))
    return where


def _filtered(f: CallFilter, console: Console, *columns):
    return select(*columns).select_from(Call).outerjoin(Analysis, Analysis.call_id == Call.id) \
        .where(*conditions(f, console))


def _ordered(query, f: CallFilter):
    key = {"started_at": Call.started_at, "duration": duration_s(), "score": Analysis.qa_score,
           "sentiment": caller_sentiment(), "outcome": Call.outcome}[f.sort]
    if f.order == "asc":
        return query.order_by(key.asc().nulls_last(), Call.id.asc())
    return query.order_by(key.desc().nulls_last(), Call.id.desc())


def _columns():
    return (Call.id, Call.started_at, Call.channel, Call.ani, duration_s().label("duration_s"), Call.outcome,
            Analysis.status, Analysis.qa_score, Analysis.qa_auto_failed, Analysis.reviewed,
            caller_sentiment().label("sentiment"), Analysis.complaint, Analysis.complaint_subject)


def _rows(s: Session, console: Console, query) -> list[dict]:
    """Row dicts of a query over _columns(), with each call's intents (one more query, not one per call)."""
    found = s.execute(query).all()
    intents: dict[int, list[str]] = {}
    if found:
        for call_id, text in s.execute(select(CallTopic.call_id, CallTopic.text).where(
                CallTopic.call_id.in_([r.id for r in found]), CallTopic.kind == "intent").order_by(CallTopic.id)):
            intents.setdefault(call_id, []).append(text)

    def local(dt):
        return console.local(dt).isoformat(timespec="seconds") if dt else None

    return [{"id": r.id, "started_at": local(r.started_at), "channel": str(r.channel), "ani": r.ani,
             "duration_s": None if r.duration_s is None else round(r.duration_s, 2),
             "outcome": r.outcome and str(r.outcome), "intents": intents.get(r.id, []),
             "analysis": str(r.status) if r.status else "pending", "score": r.qa_score,
             "auto_failed": bool(r.qa_auto_failed), "reviewed": bool(r.reviewed),
             "sentiment": r.sentiment, "complaint": bool(r.complaint), "complaint_subject": r.complaint_subject}
            for r in found]


def page_of_calls(s: Session, console: Console, f: CallFilter) -> dict:
    """One page of the filtered, sorted calls and the filtered total (two queries, plus the page's intents)."""
    size = f.page_size or min(console.settings.console.page_size, 200)
    total = s.scalar(_filtered(f, console, func.count(Call.id)))
    query = _ordered(_filtered(f, console, *_columns()), f).offset((f.page - 1) * size).limit(size)
    return {"total": total, "page": f.page, "page_size": size, "calls": _rows(s, console, query)}


def filtered_ids(s: Session, console: Console, f: CallFilter) -> list[int]:
    """Every filtered call's id, in the chosen order (what the CSV export walks through)."""
    return list(s.scalars(_ordered(_filtered(f, console, Call.id), f)))


def rows_by_id(s: Session, console: Console, ids: list[int]) -> list[dict]:
    """The row dicts of these calls, in the order given."""
    query = select(*_columns()).select_from(Call).outerjoin(Analysis, Analysis.call_id == Call.id) \
        .where(Call.id.in_(ids))
    by_id = {r["id"]: r for r in _rows(s, console, query)}
    return [by_id[i] for i in ids if i in by_id]
