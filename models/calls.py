"""Every call, each of its turns and events, committed as they happen (one writer: ivr/call_log.py)."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Enum, Float, ForeignKey, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import Base


class Channel(enum.StrEnum):
    sip = "sip"
    chat = "chat"
    imported = "import"


class Outcome(enum.StrEnum):
    completed = "completed"
    transferred = "transferred"
    caller_hangup = "caller_hangup"
    failed = "failed"
    interrupted = "interrupted"                # the endpoint died mid-call; closed at its next start-up


class Speaker(enum.StrEnum):
    caller = "caller"
    ivr = "ivr"
    agent = "agent"


class EventKind(enum.StrEnum):
    dtmf = "dtmf"                              # keys, PIN digits masked
    no_input = "no_input"
    no_match = "no_match"
    barge_in = "barge_in"
    repeat = "repeat"
    auth_success = "auth_success"
    auth_failure = "auth_failure"
    lockout = "lockout"
    transfer_requested = "transfer_requested"
    transfer_accepted = "transfer_accepted"
    transfer_refused = "transfer_refused"
    hold = "hold"
    resume = "resume"
    caller_hangup = "caller_hangup"
    task_done = "task_done"                    # a self-service task completed, detail {"task": ...}
    refer_refused = "refer_refused"            # the caller's side sent a REFER (only the IVR transfers)
    recording_failed = "recording_failed"      # the recording could not be written (disk full...): detail reason
    service_unavailable = "service_unavailable"  # the bank's systems or the database could not be reached
    rtp_timeout = "rtp_timeout"                # no RTP from the caller for telephony.rtp_timeout_s: hung up
    no_media = "no_media"                      # answered, but its audio never started (or the SIP stack lost it)
    sounds_like = "sounds_like"                # "Did you say ...?" answered: detail phrase, value, confirmed
    language_changed = "language_changed"      # served in another language from here: detail language, previous,
                                               # reason (caller: asked for it; customer: their stored language)
    offer_made = "offer_made"                  # the likely reason for the call offered: detail reason, likelihood
    offer_accepted = "offer_accepted"          # ... and the caller said yes: detail reason
    offer_declined = "offer_declined"          # ... no (or asked for something else: detail instead)
    offers_turned_off = "offers_turned_off"    # the customer asked not to be offered reasons again


def _enum(cls: type[enum.Enum], length: int) -> Enum:
    """Stored as its value in a plain string column (portable across SQLite and PostgreSQL), checked in Python."""
    return Enum(cls, native_enum=False, create_constraint=False, length=length, validate_strings=True,
                values_callable=lambda members: [m.value for m in members])


class Call(Base):
    __tablename__ = "calls"
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[Channel] = mapped_column(_enum(Channel, 16), default=Channel.sip)
    ani: Mapped[str | None] = mapped_column(String(32))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now(), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    outcome: Mapped[Outcome | None] = mapped_column(_enum(Outcome, 20))
    transfer_reason: Mapped[str | None] = mapped_column(String(64))
    recording_path: Mapped[str | None] = mapped_column(String(400))
    node: Mapped[str | None] = mapped_column(String(120), index=True)   # the endpoint that took the call
    language: Mapped[str | None] = mapped_column(String(8))   # the language the call was served in (last, if switched)
    turns: Mapped[list[Turn]] = relationship(back_populates="call", order_by="Turn.seq")
    events: Mapped[list[CallEvent]] = relationship(back_populates="call", order_by="CallEvent.seq")


class Turn(Base):
    """One thing said: a caller turn stored once, complete; an IVR prompt stored as it was heard."""
    __tablename__ = "turns"
    __table_args__ = (UniqueConstraint("call_id", "seq", name="uq_turns_call_seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)                   # shared with the call's events: one timeline
    speaker: Mapped[Speaker] = mapped_column(_enum(Speaker, 8))
    state: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)                     # "[PIN]" for anything said or keyed at a PIN
    intent: Mapped[str | None] = mapped_column(String(32))
    confidence: Mapped[float | None] = mapped_column(Float)
    slots: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))            # what was understood (never PIN digits)
    start_ms: Mapped[float | None] = mapped_column(Float)       # offsets into the call's recording
    end_ms: Mapped[float | None] = mapped_column(Float)
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False)  # IVR prompt cut by barge-in at end_ms
    latency_ms: Mapped[float | None] = mapped_column(Float)     # end of caller speech -> first audio out
    timings: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))          # breakdown: endpoint, asr, dialog, tts, media
    at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    call: Mapped[Call] = relationship(back_populates="turns")


class CallEvent(Base):
    """Something that happened in a call, written as it happens."""
    __tablename__ = "call_events"
    __table_args__ = (UniqueConstraint("call_id", "seq", name="uq_call_events_call_seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[EventKind] = mapped_column(_enum(EventKind, 24))
    state: Mapped[str | None] = mapped_column(String(64))
    at_ms: Mapped[float | None] = mapped_column(Float)          # offset into the call's recording
    detail: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    call: Mapped[Call] = relationship(back_populates="events")
