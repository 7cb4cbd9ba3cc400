"""Proactive offers (ivr/proactive.py) measured on the stored calls: how many were made, accepted, declined, per
reason, and what they saved. The saving compares the caller's effort from identification (auth_success) to the
help they came for: through an accepted offer (its yes), against calls with no offer, through the menu (the first
caller turn that asked for a task). Turns are the caller's turns in between, that one included; seconds are
wall-clock, as the call store wrote them (a SIP call's prompts play in between)."""
from __future__ import annotations

from datetime import datetime
from statistics import mean

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Call, CallEvent, EventKind, Speaker, Turn

OFFER_EVENTS = (EventKind.auth_success, EventKind.offer_made, EventKind.offer_accepted, EventKind.offer_declined,
                EventKind.offers_turned_off)
TASKS = ("check_balance", "recent_transactions", "report_lost_card", "transfer_funds", "branch_hours")


def offer_report(s: Session, start: datetime, end: datetime, tasks: tuple[str, ...] = TASKS) -> dict:
    """Offers of the calls that started in [start, end), and turns and seconds to help with and without one."""
    calls: dict[int, dict] = {}
    for call_id, kind, detail, seq, at in s.execute(
            select(CallEvent.call_id, CallEvent.kind, CallEvent.detail, CallEvent.seq, CallEvent.at)
            .join(Call, Call.id == CallEvent.call_id)
            .where(Call.started_at >= start, Call.started_at < end, CallEvent.kind.in_(OFFER_EVENTS))
            .order_by(CallEvent.call_id, CallEvent.seq)):
        c = calls.setdefault(call_id, {})
        c.setdefault(str(kind), (seq, at, (detail or {}).get("reason")))
    by_reason: dict[str, dict] = {}
    for c in calls.values():
        if "offer_made" in c:
            r = by_reason.setdefault(c["offer_made"][2], {"offered": 0, "accepted": 0, "declined": 0, "turned_off": 0})
            r["offered"] += 1
            for kind, key in (("offer_accepted", "accepted"), ("offer_declined", "declined"),
                              ("offers_turned_off", "turned_off")):
                r[key] += kind in c
    offered = sum(r["offered"] for r in by_reason.values())
    accepted = sum(r["accepted"] for r in by_reason.values())
    to_help = _to_help(s, calls, tasks)
    return {
        "offered": offered, "accepted": accepted,
        "declined": sum(r["declined"] for r in by_reason.values()),
        "turned_off": sum(r["turned_off"] for r in by_reason.values()),
        "acceptance": round(accepted / offered, 4) if offered else None,
        "by_reason": [{"reason": k, **r, "acceptance": round(r["accepted"] / r["offered"], 4)}
                      for k, r in sorted(by_reason.items(), key=lambda x: (-x[1]["offered"], x[0]))],
        "to_help": to_help,
    }


def _to_help(s: Session, calls: dict[int, dict], tasks: tuple[str, ...]) -> dict:
    offer_path = {i: c for i, c in calls.items() if "auth_success" in c and "offer_accepted" in c}
    menu_path = {i: c for i, c in calls.items() if "auth_success" in c and "offer_made" not in c}
    turns: dict[int, list] = {}
    ids = list(offer_path) + list(menu_path)
    for chunk in range(0, len(ids), 500):
        for call_id, seq, intent, at in s.execute(
                select(Turn.call_id, Turn.seq, Turn.intent, Turn.at)
                .where(Turn.call_id.in_(ids[chunk:chunk + 500]), Turn.speaker == Speaker.caller).order_by(Turn.seq)):
            turns.setdefault(call_id, []).append((seq, intent, at))
    offer = []
    for i, c in offer_path.items():
        (auth_seq, auth_at, _), (help_seq, help_at, _) = c["auth_success"], c["offer_accepted"]
        offer.append((sum(auth_seq < t[0] < help_seq for t in turns.get(i, [])), (help_at - auth_at).total_seconds()))
    menu = []
    for i, c in menu_path.items():
        auth_seq, auth_at, _ = c["auth_success"]
        after = [t for t in turns.get(i, []) if t[0] > auth_seq]
        asked = next((n for n, t in enumerate(after) if t[1] in tasks), None)
        if asked is not None:
            menu.append((asked + 1, (after[asked][2] - auth_at).total_seconds()))

    def summary(rows):
        return {"calls": len(rows), "turns": round(mean(t for t, _ in rows), 2) if rows else None,
                "seconds": round(mean(x for _, x in rows), 1) if rows else None}

    o, m = summary(offer), summary(menu)
    saved = None
    if o["calls"] and m["calls"]:
        saved = {"turns": round(m["turns"] - o["turns"], 2), "seconds": round(m["seconds"] - o["seconds"], 1)}
    return {"offer": o, "menu": m, "saved": saved}
