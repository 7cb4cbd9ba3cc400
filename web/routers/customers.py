"""Supervisor: one view of a customer from the contact-center side - their calls, moods, needs and open issues.

Never an account number, balance or card number: the console shows at most how many accounts a customer has."""
from __future__ import annotations

from collections import Counter

from fastapi import APIRouter, HTTPException, Path, Query, Request
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from models import Account, Analysis, Call, CallTopic, Customer, Role, SpeakerSentiment

from ..auth import guard
from ..console import Console, console_of, page
from ..stats import CALLER

router = APIRouter()
SEARCH = Query("", max_length=64, description="part of a name or caller ID")
CUSTOMER_ID = Path(ge=1, le=2**31 - 1)
LIST_LIMIT, CALLS_LIMIT = 100, 200
UNRESOLVED = ("transferred", "failed", "interrupted")


def _like(q: str) -> str:
    escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search(s: Session, console: Console, q: str) -> list[dict]:
    """Customers whose name or caller ID holds `q` (any case), the most recent callers first."""
    calls, last = func.count(Call.id).label("calls"), func.max(Call.started_at).label("last")
    query = (select(Customer.id, Customer.name, Customer.ani, calls, last)
             .outerjoin(Call, Call.customer_id == Customer.id).group_by(Customer.id, Customer.name, Customer.ani))
    if q.strip():
        pattern = _like(q.strip())
        query = query.where(or_(func.lower(Customer.name).like(pattern, escape="\\"),
                                Customer.ani.like(pattern, escape="\\")))
    rows = s.execute(query.order_by(last.desc().nulls_last(), Customer.name, Customer.id).limit(LIST_LIMIT))
    return [{"id": i, "name": name, "ani": ani, "calls": n, "last_call": console.show(at)}
            for i, name, ani, n, at in rows]


def open_issues(calls: list[dict]) -> list[dict]:
    """Complaints and calls that ended transferred, failed or interrupted, oldest first. Each is open unless a
    later call of the customer about one of the same intents ended completed (`resolved_by` names that call);
    an issue whose call has no recognised intent stays open."""
    ordered = sorted(calls, key=lambda c: (c["started_at"], c["id"]))
    issues = []
    for i, call in enumerate(ordered):
        reasons = (["complaint" + (f": {call['complaint_subject']}" if call["complaint_subject"] else "")]
                   if call["complaint"] else []) + ([call["outcome"]] if call["outcome"] in UNRESOLVED else [])
        if not reasons:
            continue
        fix = next((c for c in ordered[i + 1:] if c["outcome"] == "completed"
                    and set(c["intents"]) & set(call["intents"])), None)
        issues.append({"call_id": call["id"], "date": call["date"], "issue": "; ".join(reasons),
                       "intents": call["intents"], "open": fix is None, "resolved_by": fix and fix["id"]})
    return issues


def _calls(s: Session, console: Console, customer_id: int) -> list[dict]:
    """The customer's calls, newest first, each with its analysis, caller sentiment and intents (three queries)."""
    mood = (select(SpeakerSentiment.call_id, SpeakerSentiment.overall)
            .where(SpeakerSentiment.speaker == CALLER).subquery())
    rows = s.execute(select(Call, Analysis.qa_score, Analysis.complaint, Analysis.complaint_subject, mood.c.overall)
                     .outerjoin(Analysis, Analysis.call_id == Call.id).outerjoin(mood, mood.c.call_id == Call.id)
                     .where(Call.customer_id == customer_id)
                     .order_by(Call.started_at.desc(), Call.id.desc()).limit(CALLS_LIMIT)).all()
    intents: dict[int, list[str]] = {}
    for call_id, text in s.execute(select(CallTopic.call_id, CallTopic.text).join(Call, Call.id == CallTopic.call_id)
                                   .where(Call.customer_id == customer_id, CallTopic.kind == "intent")
                                   .order_by(CallTopic.id)):
        intents.setdefault(call_id, []).append(text)
    return [{"id": c.id, "started_at": c.started_at.isoformat(timespec="seconds"), "date": console.show(c.started_at),
             "channel": str(c.channel), "outcome": c.outcome and str(c.outcome), "intents": intents.get(c.id, []),
             "qa_score": qa, "caller_sentiment": sentiment, "complaint": bool(flag), "complaint_subject": subject}
            for c, qa, flag, subject, sentiment in rows]


def profile(s: Session, console: Console, customer_id: int) -> dict:
    customer = s.get(Customer, customer_id)
    if customer is None:
        raise HTTPException(404, f"no customer {customer_id}")
    total, first, last = s.execute(select(func.count(Call.id), func.min(Call.started_at), func.max(Call.started_at))
                                   .where(Call.customer_id == customer_id)).one()
    calls = _calls(s, console, customer_id)
    return {"id": customer.id, "name": customer.name, "ani": customer.ani,
            "accounts": s.scalar(select(func.count(Account.id)).where(Account.customer_id == customer_id)),
            "calls_total": total, "first_call": console.show(first), "last_call": console.show(last),
            "calls_shown": len(calls), "calls": calls,
            "sentiment": [{"at": c["date"], "call_id": c["id"], "value": c["caller_sentiment"]}
                          for c in reversed(calls) if c["caller_sentiment"] is not None],
            "intents": [{"intent": k, "calls": n}
                        for k, n in Counter(i for c in calls for i in c["intents"]).most_common()],
            "outcomes": [{"outcome": k, "calls": n}
                         for k, n in Counter(c["outcome"] or "open" for c in calls).most_common()],
            "complaints": [{"call_id": c["id"], "date": c["date"], "subject": c["complaint_subject"]}
                           for c in calls if c["complaint"]],
            "issues": open_issues(calls)}


@router.get("/customers", include_in_schema=False, **guard(Role.supervisor))
def customers_page(request: Request, q: str = SEARCH):
    console = console_of(request)
    with console.sessions() as s:
        return page(request, "customers.html", q=q, customers=search(s, console, q), limit=LIST_LIMIT)


@router.get("/api/customers", **guard(Role.supervisor))
def list_customers(request: Request, q: str = SEARCH):
    """Customers whose name or caller ID contains q, with their call count and last call (100 at most)."""
    console = console_of(request)
    with console.sessions() as s:
        return {"q": q, "customers": search(s, console, q)}


@router.get("/customers/{customer_id}", include_in_schema=False, **guard(Role.supervisor))
def customer_page(request: Request, customer_id: int = CUSTOMER_ID):
    console = console_of(request)
    with console.sessions() as s:
        return page(request, "customer.html", c=profile(s, console, customer_id), limit=CALLS_LIMIT)


@router.get("/api/customers/{customer_id}", **guard(Role.supervisor))
def customer(request: Request, customer_id: int = CUSTOMER_ID):
    """A customer's calls over time, sentiment, intents, outcomes, complaints and open issues."""
    console = console_of(request)
    with console.sessions() as s:
        return profile(s, console, customer_id)
