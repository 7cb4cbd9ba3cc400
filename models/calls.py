"""Every call and each of its turns and events, committed as they happen."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import Base


class Call(Base):
    __tablename__ = "calls"
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), default="sip")     # sip | chat
    ani: Mapped[str | None] = mapped_column(String(32))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    started_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    outcome: Mapped[str | None] = mapped_column(String(20))    # completed | transferred | caller_hangup | failed
    transfer_reason: Mapped[str | None] = mapped_column(String(64))
    recording_path: Mapped[str | None] = mapped_column(String(400))
    turns: Mapped[list[Turn]] = relationship(back_populates="call", order_by="Turn.seq")


class Turn(Base):
    __tablename__ = "turns"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(8))             # caller | ivr | event
    state: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)                     # "[PIN]" for anything said or keyed at a PIN
    intent: Mapped[str | None] = mapped_column(String(32))
    confidence: Mapped[float | None] = mapped_column(Float)
    latency_ms: Mapped[float | None] = mapped_column(Float)     # end of caller speech -> first audio out
    timings: Mapped[str | None] = mapped_column(Text)           # JSON breakdown: hangover, asr, dialog, tts, media
    at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    call: Mapped[Call] = relationship(back_populates="turns")
