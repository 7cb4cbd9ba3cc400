"""The demo bank's signals (SqlBank.signals): what in a customer's accounts they may be calling about. A bank's own
adapter takes these from its core system; the thresholds are in config/proactive.yaml."""
from __future__ import annotations

import statistics
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Account, Card, CardDecline, Transaction, TransferOrder
from models.dates import month_after

from .bank import Signal
from .proactive_rules import load_rules


def account_signals(s: Session, customer_id: int, now: datetime) -> list[Signal]:
    rules = load_rules()
    accounts = list(s.scalars(select(Account).where(Account.customer_id == customer_id).order_by(Account.id)))
    cards = list(s.scalars(select(Card).where(Card.customer_id == customer_id).order_by(Card.id)))
    found: list[Signal] = []
    found += _declines(s, cards, now - timedelta(hours=rules.within("declined_payment")))
    found += _blocked(cards, now - timedelta(hours=rules.within("card_blocked")))
    for a in accounts:
        history = list(s.scalars(select(Transaction).where(
            Transaction.account_id == a.id,
            Transaction.posted_on >= (now - timedelta(days=max(rules.large_debit["history_days"], 100))).date())
            .order_by(Transaction.posted_on, Transaction.id)))
        found += _large_debits(a, history, now, rules)
        found += _overdraft(a, history, now)
        found += _late_salary(a, history, now, rules)
    found += _transfer_orders(s, accounts, now - timedelta(hours=rules.within("transfer_problem")))
    return found


def _midday(d: date) -> datetime:
    """A posting date as a time (a bank posts by date): its middle, so its age is not off by up to a day."""
    return datetime(d.year, d.month, d.day, 12)


def _declines(s: Session, cards: list[Card], since: datetime) -> list[Signal]:
    if not cards:
        return []
    rows = s.scalars(select(CardDecline).where(CardDecline.card_id.in_([c.id for c in cards]),
                                               CardDecline.at >= since).order_by(CardDecline.at.desc()))
    by_id = {c.id: c for c in cards}
    return [Signal("declined_payment", d.at, {"amount": d.amount, "merchant": d.merchant, "reason": d.reason,
                                              "card_kind": by_id[d.card_id].kind, "last4": by_id[d.card_id].last4,
                                              "card_status": by_id[d.card_id].status}, d.card_id)
            for d in rows]


def _blocked(cards: list[Card], since: datetime) -> list[Signal]:
    return [Signal("card_blocked", c.blocked_at, {"card_kind": c.kind, "last4": c.last4,
                                                  "reference": c.block_reference or ""}, c.id)
            for c in cards if c.status == "blocked" and c.blocked_at and c.blocked_at >= since]


def _large_debits(a: Account, history: list[Transaction], now: datetime, rules) -> list[Signal]:
    cfg = rules.large_debit
    since = (now - timedelta(hours=rules.within("large_debit"))).date()
    usual_since = (now - timedelta(days=cfg["history_days"])).date()
    out = []
    for t in history:
        if t.amount >= 0 or t.posted_on < since:
            continue
        others = [-o.amount for o in history if o.amount < 0 and o.id != t.id and o.posted_on >= usual_since]
        usual = statistics.median(others) if others else Decimal(0)
        if -t.amount >= Decimal(str(cfg["at_least"])) and -t.amount >= usual * Decimal(str(cfg["times_usual"])):
            out.append(Signal("large_debit", _midday(t.posted_on), {
                "amount": -t.amount, "merchant": t.description, "account": a.kind, "on": t.posted_on}))
    return out


def _overdraft(a: Account, history: list[Transaction], now: datetime) -> list[Signal]:
    if a.balance >= 0:
        return []
    debits = [t for t in history if t.amount < 0]
    since = _midday(debits[-1].posted_on) if debits else now   # the debit that took it below zero
    return [Signal("overdraft", since, {"account": a.kind, "last4": a.last4, "amount": -a.balance})]


def _late_salary(a: Account, history: list[Transaction], now: datetime, rules) -> list[Signal]:
    """A salary (one payer's) paid in two or more earlier months that has not come a month after its last payment,
    give or take `grace_days`."""
    cfg = rules.salary
    words = [w.lower() for w in cfg["words"]]
    payers: dict[str, list[Transaction]] = {}
    for t in history:
        if t.amount >= Decimal(str(cfg["at_least"])) and any(w in t.description.lower() for w in words):
            payers.setdefault(t.description, []).append(t)
    out = []
    for payer, paid in payers.items():
        if len({(t.posted_on.year, t.posted_on.month) for t in paid}) < 2:
            continue
        due = month_after(paid[-1].posted_on)
        if now.date() > due + timedelta(days=cfg["grace_days"]):
            out.append(Signal("salary_late", _midday(due), {"payer": payer, "amount": paid[-1].amount, "due": due,
                                                            "account": a.kind}))
    return out


def _transfer_orders(s: Session, accounts: list[Account], since: datetime) -> list[Signal]:
    if not accounts:
        return []
    kinds = {a.id: a.kind for a in accounts}
    rows = s.scalars(select(TransferOrder).where(TransferOrder.account_id.in_(list(kinds)),
                                                 TransferOrder.status.in_(["pending", "failed"]),
                                                 TransferOrder.created_at >= since)
                     .order_by(TransferOrder.created_at.desc()))
    return [Signal("transfer_problem", o.created_at, {
        "amount": o.amount, "payee": o.payee, "status": o.status, "reason": o.reason or "",
        "expected": o.expected_on, "account": kinds[o.account_id], "on": o.created_at.date()}) for o in rows]
