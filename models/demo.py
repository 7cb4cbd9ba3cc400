"""The demo bank of design.md §6, seeded idempotently (`ivr db init --demo`). Alex, Priya and Li Na have nothing
unusual on their accounts; the proactive-service customers (Wei Chen onwards, README "Proactive service") each
have one thing they are likely calling about, dated relative to the day the bank is seeded."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from .analysis import Analysis, AnalysisStatus
from .bank import Account, Card, CardDecline, Customer, Transaction, TransferOrder
from .calls import Call, CallEvent, EventKind, Outcome, Speaker, Turn
from .dates import month_after
from .db import utcnow
from .pins import hash_pin

CUSTOMERS = [
    {"name": "Alex Morgan", "ani": "+15550100", "pin": "2468",
     "accounts": [("checking", "50004321", "2450.75"), ("savings", "50008765", "10200.00")],
     "cards": [("debit", "1111")]},
    {"name": "Priya Shah", "ani": "+15550101", "pin": "1357",
     "accounts": [("checking", "50015555", "310.20")],
     "cards": [("debit", "2222"), ("credit", "3333")]},
    {"name": "Li Na", "ani": "+15550103", "pin": "3690", "language": "zh",   # served in Mandarin once identified
     "accounts": [("checking", "50026262", "1888.00"), ("savings", "50027373", "5600.00")],
     "cards": [("debit", "4444")]},
    # Proactive service scenarios: one signal each (ivr/proactive.py)
    {"name": "Wei Chen", "ani": "+15550102", "pin": "8080",   # a card payment declined yesterday (fraud-check hold)
     "accounts": [("checking", "50036060", "1275.40")],
     "cards": [("credit", "7070", "held")],
     "declines": [("7070", 1.0, "Fresh Market", "84.20", "fraud_hold")]},
    {"name": "Maria Garcia", "ani": "+15550104", "pin": "4826",   # reported her debit card lost yesterday
     "accounts": [("checking", "50041212", "842.10"), ("savings", "50042323", "3100.00")],
     "cards": [("debit", "5151", "blocked"), ("credit", "5252")]},
    {"name": "Tom Becker", "ani": "+15550105", "pin": "5937",    # an unusually large payment yesterday
     "accounts": [("checking", "50053434", "3210.00")],
     "cards": [("debit", "5353")],
     "history": {"checking": [(1, "Electro World", "-1950.00")]}},
    {"name": "Sara Kim", "ani": "+15550106", "pin": "6048",      # a transfer to another bank that failed
     "accounts": [("checking", "50065656", "640.00")],
     "cards": [("debit", "5454")],
     "orders": [("checking", 2.0, "Jin Kim at Harbor Bank", "500.00", "failed", "payee_details")]},
    {"name": "Omar Haddad", "ani": "+15550107", "pin": "7159",   # checking overdrawn, savings can cover it
     "accounts": [("checking", "50077878", "-142.30"), ("savings", "50078989", "900.00")],
     "cards": [("debit", "5555")]},
    {"name": "Emma Novak", "ani": "+15550108", "pin": "8260",    # her monthly salary is three days late
     "accounts": [("checking", "50089090", "210.00")],
     "cards": [("debit", "5656")],
     "salary": ("checking", "Acme Corp salary", "2400.00", 3)},
    {"name": "Dan Ortiz", "ani": "+15550109", "pin": "9371",     # complained three days ago: a person first
     "accounts": [("checking", "50091414", "1530.00")],
     "cards": [("debit", "5757")],
     "calls": [(3.0, "completed", None, [("caller", "You charged me the monthly fee twice and nobody has fixed it.",
                                          None, None)], "a monthly fee charged twice")]},
    {"name": "Lucy Park", "ani": "+15550110", "pin": "1482",     # yesterday's call about a transfer failed
     "accounts": [("checking", "50101515", "2200.00"), ("savings", "50102626", "4800.00")],
     "cards": [("debit", "5858")],
     "calls": [(1.0, "failed", None, [("caller", "I want to move money to my savings", "transfer_funds",
                                       {"to_account": "savings"})], None)]},
]
HISTORY = {  # (days ago, description, amount) per account kind
    "checking": [(1, "Grocery Mart", "-84.12"), (2, "Coffee House", "-4.50"), (4, "Payroll deposit", "1850.00"),
                 (6, "City Power and Light", "-96.40"), (9, "ATM withdrawal", "-60.00"), (12, "Online Books", "-23.99")],
    "savings": [(3, "Interest payment", "8.50"), (10, "Transfer from checking", "200.00"),
                (17, "Transfer from checking", "200.00"), (24, "Transfer to checking", "-150.00"),
                (31, "Interest payment", "8.41")],
}


def seed_demo(session: Session, today: date | None = None, calls: bool = False) -> int:
    """Insert the demo customers that are missing; returns how many were added. Never touches existing ones.
    `calls`: with the earlier calls of the call-store scenarios (Dan Ortiz's complaint, Lucy Park's failed call)."""
    today = today or date.today()
    now = utcnow()
    added = 0
    for spec in CUSTOMERS:
        if session.scalar(select(Customer).where(Customer.ani == spec["ani"])):
            continue
        customer = Customer(name=spec["name"], ani=spec["ani"], pin_hash=hash_pin(spec["pin"]),
                            language=spec.get("language"))
        session.add(customer)
        accounts = {}
        for kind, number, balance in spec["accounts"]:
            account = accounts[kind] = Account(customer=customer, kind=kind, number=number, balance=Decimal(balance))
            session.add(account)
            for days, desc, amount in HISTORY[kind] + spec.get("history", {}).get(kind, []):
                session.add(Transaction(account=account, posted_on=today - timedelta(days=days), description=desc,
                                        amount=Decimal(amount)))
        cards = {}
        for kind, last4, *status in spec["cards"]:
            card = cards[last4] = Card(customer=customer, kind=kind, last4=last4, status=(status or ["active"])[0])
            if card.status == "blocked":
                card.blocked_at, card.block_reference = now - timedelta(days=1), "482913"
            session.add(card)
        _seed_signals(session, spec, accounts, cards, customer, today, now, calls)
        added += 1
    session.commit()
    return added


def _seed_signals(session: Session, spec: dict, accounts: dict, cards: dict, customer: Customer, today: date,
                  now: datetime, calls: bool) -> None:
    """A scenario's declines, transfer orders, salary history and earlier calls."""
    for last4, days, merchant, amount, reason in spec.get("declines", []):
        session.add(CardDecline(card=cards[last4], at=now - timedelta(days=days), merchant=merchant,
                                amount=Decimal(amount), reason=reason))
    for kind, days, payee, amount, status, reason in spec.get("orders", []):
        session.add(TransferOrder(account=accounts[kind], payee=payee, amount=Decimal(amount), status=status,
                                  reason=reason, created_at=now - timedelta(days=days),
                                  expected_on=today + timedelta(days=2) if status == "pending" else None))
    if "salary" in spec:
        kind, payer, amount, days_late = spec["salary"]
        due = today - timedelta(days=days_late)
        for k in (1, 2, 3):
            session.add(Transaction(account=accounts[kind], posted_on=month_after(due, -k), description=payer,
                                    amount=Decimal(amount)))
    session.flush()
    for days, outcome, reason, turns, complaint in spec.get("calls", []) if calls else []:
        started = now - timedelta(days=days)
        call = Call(ani=spec["ani"], customer_id=customer.id, started_at=started,
                    ended_at=started + timedelta(minutes=2), outcome=Outcome(outcome), transfer_reason=reason,
                    language=spec.get("language") or "en")
        session.add(call)
        session.flush()
        session.add(CallEvent(call=call, seq=0, kind=EventKind.auth_success, state="ask_pin", at=started))
        for seq, (speaker, text, intent, slots) in enumerate(turns, 1):
            session.add(Turn(call=call, seq=seq, speaker=Speaker(speaker), state="main_menu", text=text,
                             intent=intent, slots=slots, at=started))
        if complaint:
            session.add(Analysis(call_id=call.id, status=AnalysisStatus.done, complaint=True, complaint_subject=complaint,
                                 finished_at=started + timedelta(minutes=5)))
