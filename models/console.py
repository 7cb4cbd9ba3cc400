"""The console's own tables: users and their sessions, who played which recording, QA reviews of score answers."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from .calls import _enum
from .db import Base


class Role(enum.StrEnum):
    admin = "admin"                # users
    supervisor = "supervisor"      # calls, dashboards, live view, customers
    qa = "qa"                      # review and score calls


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(_enum(Role, 12))
    password_hash: Mapped[str] = mapped_column(String(200))       # argon2id, never the password
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)


class WebSession(Base):
    """A signed-in browser: only the SHA-256 of its cookie token is stored."""
    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime)


class RecordingAccess(Base):
    """Every playback or download of a recording: who, when, which call."""
    __tablename__ = "recording_access"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    user_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(12))               # play | download
    at: Mapped[datetime] = mapped_column(DateTime)


class ScoreReview(Base):
    """A QA reviewer's answer to one scorecard question; the automated answer stays in score_items."""
    __tablename__ = "score_reviews"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    item: Mapped[str] = mapped_column(String(64))
    answer: Mapped[str] = mapped_column(String(4))                # yes | no | na
    previous_answer: Mapped[str] = mapped_column(String(4))
    comment: Mapped[str] = mapped_column(Text)
    user_name: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime)
