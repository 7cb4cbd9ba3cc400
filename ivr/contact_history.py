"""Signals from the call store: the customer's latest complaint (a call analytics flagged), and their latest call
that ended without their request served (failed, cut off, or handed to an agent for any reason but their asking)
with what it was about. A call that ended so with no request of theirs unfinished is no signal: there is nothing
to offer."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from models import Analysis, Call, CallEvent, EventKind, Turn

from .bank import Signal, reachable
from .proactive_rules import Rules

UNRESOLVED = ("transferred", "failed", "interrupted")
ASKED_FOR_AGENT = "caller_request"     # a transfer the caller asked for: a person took it over


class ContactHistory:
    def __init__(self, sessions: sessionmaker):
        self.sessions = sessions

    @reachable
    def signals(self, customer_id: int, now: datetime, rules: Rules, tasks: set[str]) -> list[Signal]:
        """`tasks`: the flow's self-service intents (what an earlier call may have been about)."""
        recent_since = now - timedelta(hours=rules.within("recent_call"))
        complaint_since = now - timedelta(hours=rules.within("open_complaint"))
        with self.sessions() as s:
            rows = s.execute(
                select(Call, Analysis).outerjoin(Analysis, Analysis.call_id == Call.id)
                .where(Call.customer_id == customer_id, Call.ended_at.is_not(None),
                       Call.started_at >= min(recent_since, complaint_since))
                .order_by(Call.started_at.desc(), Call.id.desc())).all()
            found: list[Signal] = []
            for call, analysis in rows:
                if analysis is not None and analysis.complaint and call.started_at >= complaint_since:
                    if not any(f.kind == "open_complaint" for f in found):   # the newest complaint
                        found.append(Signal("open_complaint", call.started_at, {
                            "subject": analysis.complaint_subject or "", "on": call.started_at.date()}, call.id))
                elif (call.outcome in UNRESOLVED and call.transfer_reason != ASKED_FOR_AGENT
                      and call.started_at >= recent_since and not any(f.kind == "recent_call" for f in found)):
                    about, slots = _unfinished_task(s, call.id, tasks)   # the newest unresolved call
                    if about:
                        found.append(Signal("recent_call", call.started_at, {
                            "about": about, "slots": slots, "outcome": str(call.outcome),
                            "on": call.started_at.date()}, call.id))
            return found


def _unfinished_task(s, call_id: int, tasks: set[str]) -> tuple[str | None, dict]:
    """The first task the caller asked for in that call and did not get done, with what they said for it (the
    slots of that turn: "move fifty dollars to savings"; never a PIN, which is never stored)."""
    asked = s.execute(select(Turn.intent, Turn.slots).where(Turn.call_id == call_id, Turn.intent.in_(tasks))
                      .order_by(Turn.seq)).all()
    done = {(e.detail or {}).get("task") for e in s.scalars(
        select(CallEvent).where(CallEvent.call_id == call_id, CallEvent.kind == EventKind.task_done))}
    return next(((t, dict(slots or {})) for t, slots in asked if t not in done), (None, {}))
