"""Post-call analysis of a call: the job row (queue, lease, retries) and what the stages found.

Stored text is redacted before it gets here: no table holds a card number, CVV, PIN, account number or SSN."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from .calls import _enum
from .db import Base


class AnalysisStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class Analysis(Base):
    """One per call: a job on the analyzers' queue, then the call-level results."""
    __tablename__ = "analyses"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), unique=True)
    status: Mapped[AnalysisStatus] = mapped_column(_enum(AnalysisStatus, 12), default=AnalysisStatus.queued, index=True)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(120))          # host:pid of the analyzer holding the lease
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)   # a dead analyzer's job is taken after this
    retry_at: Mapped[datetime | None] = mapped_column(DateTime)
    queued_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    transcribed: Mapped[bool] = mapped_column(Boolean, default=False)   # the recording was re-transcribed
    audio_s: Mapped[float | None] = mapped_column(Float)
    transcribe_s: Mapped[float | None] = mapped_column(Float)
    redacted_recording_path: Mapped[str | None] = mapped_column(String(400))  # the only audio the console plays
    scorecard: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[float | None] = mapped_column(Float)
    auto_failed: Mapped[bool] = mapped_column(Boolean, default=False)
    qa_score: Mapped[float | None] = mapped_column(Float, index=True)     # the score with QA reviews applied
    qa_auto_failed: Mapped[bool] = mapped_column(Boolean, default=False)
    reviewed: Mapped[bool] = mapped_column(Boolean, default=False)        # a QA reviewer changed an answer
    complaint: Mapped[bool] = mapped_column(Boolean, default=False)
    complaint_subject: Mapped[str | None] = mapped_column(String(120))


class Segment(Base):
    """One utterance of the merged, redacted timeline (both channels re-transcribed, with the live turns)."""
    __tablename__ = "transcript_segments"
    __table_args__ = (UniqueConstraint("call_id", "seq", name="uq_segments_call_seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    start_ms: Mapped[float] = mapped_column(Float)
    end_ms: Mapped[float] = mapped_column(Float)
    words: Mapped[list | None] = mapped_column(JSON(none_as_null=True))   # [[word, start_s, end_s], ...] redacted
    intent: Mapped[str | None] = mapped_column(String(32))
    sentiment: Mapped[float | None] = mapped_column(Float)


class Redaction(Base):
    """Where something sensitive was said or keyed; never its value."""
    __tablename__ = "redactions"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    speaker: Mapped[str] = mapped_column(String(8))
    start_ms: Mapped[float | None] = mapped_column(Float)
    end_ms: Mapped[float | None] = mapped_column(Float)


class SpeakerSentiment(Base):
    __tablename__ = "sentiments"
    __table_args__ = (UniqueConstraint("call_id", "speaker", name="uq_sentiments_call_speaker"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    speaker: Mapped[str] = mapped_column(String(8))
    overall: Mapped[float | None] = mapped_column(Float)
    quarters: Mapped[list | None] = mapped_column(JSON(none_as_null=True))
    change: Mapped[float | None] = mapped_column(Float)


class MetricValue(Base):
    """One metric of one call: a number in `value`, or a word/list in `detail`."""
    __tablename__ = "metric_values"
    __table_args__ = (UniqueConstraint("call_id", "name", name="uq_metric_values_call_name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    name: Mapped[str] = mapped_column(String(40), index=True)
    value: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[str | list | None] = mapped_column(JSON(none_as_null=True))


class ScoreItem(Base):
    __tablename__ = "score_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    scorecard: Mapped[str] = mapped_column(String(64))
    item: Mapped[str] = mapped_column(String(64))
    section: Mapped[str | None] = mapped_column(String(64))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(String(4))            # yes | no | na
    earned: Mapped[float] = mapped_column(Float)
    possible: Mapped[float] = mapped_column(Float)
    auto_fail: Mapped[bool] = mapped_column(Boolean, default=False)
    evidence: Mapped[list | None] = mapped_column(JSON(none_as_null=True))   # [{"seq", "start_s"}]


class CallTopic(Base):
    """An intent, key phrase or complaint subject of a call (what `ivr topics` ranks)."""
    __tablename__ = "call_topics"
    __table_args__ = (Index("ix_call_topics_kind_text", "kind", "text"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))            # intent | phrase | complaint
    text: Mapped[str] = mapped_column(String(200))


RESULT_TABLES = (Segment, Redaction, SpeakerSentiment, MetricValue, ScoreItem, CallTopic)
