"""The calls in progress on every endpoint process, read from the shared database: one query per table.

Every `ivr serve` node commits its calls' turns and events as they happen (ivr/call_log.py, text already redacted),
so a snapshot of the open calls is what the console can know of them "live"."""
from __future__ import annotations

import threading
import time
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Call, CallEvent, Turn

from .console import Console, utcnow

OPEN_FOR = timedelta(hours=12)   # older open calls are left by a crashed endpoint (closed when it restarts)
TRANSCRIPT_TURNS = 12
FAILURES = {"no_match", "no_input"}
STUCK_FAILURES = 2               # failed attempts since the caller was last understood
STUCK_ASKS = 3                   # the same question asked in a row, not yet answered
STUCK_RULE = (f"A call is stuck when the caller has failed {STUCK_FAILURES} or more times (no match or no input) "
              f"since they were last understood, or the IVR has asked the same question {STUCK_ASKS} times in a row "
              f"and not yet understood an answer. A caller turn counts as understood unless a no-match follows it. "
              f"Stuck calls are listed first.")


def snapshot(s: Session, console: Console, now: datetime | None = None) -> dict:
    """{"at", "nodes": [{"node", "calls": [ids]}], "calls": [...]}: the open calls, stuck first, oldest next."""
    now = now or utcnow()
    calls = s.execute(select(Call.id, Call.node, Call.channel, Call.ani, Call.started_at)
                      .where(Call.ended_at.is_(None), Call.started_at >= now - OPEN_FOR)).all()
    ids = [c.id for c in calls]
    turns, events = defaultdict(list), defaultdict(list)
    if ids:
        newest_first = func.row_number().over(partition_by=Turn.call_id, order_by=Turn.seq.desc()).label("rn")
        recent = (select(Turn.call_id, Turn.seq, Turn.speaker, Turn.text, Turn.state, Turn.intent, Turn.start_ms,
                         Turn.at, newest_first).where(Turn.call_id.in_(ids)).subquery())
        for t in s.execute(select(recent).where(recent.c.rn <= TRANSCRIPT_TURNS + 1).order_by(recent.c.seq)):
            turns[t.call_id].append(t)
        for e in s.execute(select(CallEvent.call_id, CallEvent.seq, CallEvent.kind, CallEvent.state)
                           .where(CallEvent.call_id.in_(ids)).order_by(CallEvent.seq)):
            events[e.call_id].append(e)
    rows = [_call(c, turns[c.id], events[c.id], console, now) for c in calls]
    rows.sort(key=lambda r: (not r["stuck"], -r["elapsed_s"], r["id"]))
    by_node: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        by_node[r["node"]].append(r["id"])
    return {"at": console.show(now, seconds=True), "stuck_rule": STUCK_RULE,
            "nodes": [{"node": n, "calls": by_node[n]} for n in sorted(by_node)], "calls": rows}


def _call(c, turns: list, events: list, console: Console, now: datetime) -> dict:
    """One open call. `turns` holds up to TRANSCRIPT_TURNS + 1 of its newest turns (one more than shown: a full
    window means older turns exist), `events` all of its events, both in seq order."""
    complete = len(turns) <= TRANSCRIPT_TURNS
    shown = turns[-TRANSCRIPT_TURNS:]
    newest = max([*shown, *events], key=lambda x: x.seq, default=None)
    kinds = [str(e.kind) for e in events]
    return {
        "id": c.id, "node": c.node or "unknown node", "channel": str(c.channel), "ani": c.ani,
        "started_at": console.show(c.started_at, seconds=True),
        "elapsed_s": max(0, round((now - c.started_at).total_seconds())),
        "state": newest.state if newest is not None else None,
        "turns": [{"seq": t.seq, "speaker": str(t.speaker), "text": t.text, "state": t.state,
                   "at_s": _offset_s(t, c.started_at)} for t in shown],
        "no_match": kinds.count("no_match"), "no_input": kinds.count("no_input"),
        "stuck": is_stuck(shown, events, complete),
    }


def _offset_s(turn, started_at: datetime) -> float:
    """Seconds into the call: the recording offset where known (voice), else from the turn's stored time (chat)."""
    if turn.start_ms is not None:
        return round(turn.start_ms / 1000, 1)
    return round(max(0.0, (turn.at - started_at).total_seconds()), 1) if turn.at else 0.0


def is_stuck(turns: list, events: list, complete: bool = True) -> bool:
    """STUCK_RULE over a call's newest turns and all its events (rows with seq, speaker/kind, state).
    `complete`: `turns` holds every turn of the call; if not, failures older than the first one are not counted."""
    timeline = sorted([("turn", t) for t in turns] + [("event", e) for e in events], key=lambda x: x[1].seq)
    understood = _understood(timeline)
    since = understood[-1] if understood else (0 if complete or not turns else turns[0].seq)
    failures = sum(1 for kind, e in timeline if kind == "event" and str(e.kind) in FAILURES and e.seq > since)
    if failures >= STUCK_FAILURES:
        return True
    asks = _asks(timeline)
    last = asks[-STUCK_ASKS:]
    return (len(last) == STUCK_ASKS and None not in last and len({s for s, _ in last}) == 1
            and not any(seq > last[-1][1] for seq in understood))


def _understood(timeline: list) -> list[int]:
    """The seqs of the caller turns not followed by a no_match before the next turn."""
    seqs, candidate = [], None
    for kind, x in timeline:
        if kind == "turn":
            if candidate is not None:
                seqs.append(candidate)
            candidate = x.seq if str(x.speaker) == "caller" else None
        elif str(x.kind) == "no_match":
            candidate = None
    if candidate is not None:
        seqs.append(candidate)
    return seqs


def _asks(timeline: list) -> list[tuple[str, int] | None]:
    """The IVR's prompt runs between the caller's attempts (caller turns, no-input timeouts): (state, last seq)
    for a run spoken in one state, None for a run across states."""
    asks, run = [], []
    for kind, x in timeline:
        if kind == "turn" and str(x.speaker) == "ivr":
            run.append(x)
        elif (kind == "turn" and str(x.speaker) == "caller") or (kind == "event" and str(x.kind) == "no_input"):
            if run:
                asks.append(_ask(run))
            run = []
    if run:
        asks.append(_ask(run))
    return asks


def _ask(run: list) -> tuple[str, int] | None:
    states = {t.state for t in run}
    return (run[-1].state, run[-1].seq) if len(states) == 1 and run[-1].state else None


class SnapshotCache:
    """One database read serves every live stream that asks within `max_age_s` of it."""

    def __init__(self, console: Console, max_age_s: float):
        self.console, self.max_age_s = console, max_age_s
        self._lock = threading.Lock()
        self._value: dict | None = None
        self._taken = 0.0

    def get(self) -> dict:
        with self._lock:
            if self._value is None or time.monotonic() - self._taken >= self.max_age_s:
                with self.console.sessions() as s:
                    self._value = snapshot(s, self.console)
                self._taken = time.monotonic()
            return self._value


def changes(snap: dict) -> tuple:
    """What a stream compares between polls: everything but the clock (elapsed time ticks in the browser)."""
    return (snap["nodes"], [{k: v for k, v in c.items() if k != "elapsed_s"} for c in snap["calls"]])
