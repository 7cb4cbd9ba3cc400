"""BankBackend: what the dialog may ask of the bank. `SqlBank` serves the demo bank from models/; a bank
writes its own adapter to its core system with the same methods."""
from __future__ import annotations

import functools
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import sessionmaker

from models import Account, Card, Customer, Transaction
from models.pins import check_pin

MAX_PIN_ATTEMPTS = 3


@dataclass(frozen=True)
class CustomerInfo:
    id: int
    name: str
    locked: bool = False         # telephone banking locked (too many wrong PINs)
    language: str | None = None  # the language the customer is served in (None: the call's)
    proactive: bool = True       # offered the likely reason for a call (the customer may turn it off)


@dataclass(frozen=True)
class AccountInfo:
    kind: str
    last4: str
    balance: Decimal


@dataclass(frozen=True)
class TransactionInfo:
    posted_on: date
    description: str
    amount: Decimal


@dataclass(frozen=True)
class CardInfo:
    id: int
    kind: str
    last4: str
    status: str


@dataclass(frozen=True)
class TransferResult:
    status: str                  # ok | insufficient | invalid
    reference: str | None = None


@dataclass(frozen=True)
class Signal:
    """Something in the customer's accounts (or contact history) they may be calling about (ivr/proactive.py).
    `values` are what an offer and its help say: amounts, merchants, last four digits; never a full number."""
    kind: str                    # declined_payment | card_blocked | large_debit | transfer_problem | overdraft |
                                 # salary_late (the bank); recent_call | open_complaint (the call store)
    at: datetime                 # when it happened (naive UTC): a fresher one is likelier
    values: dict
    ref: int | None = None       # what the help acts on (the held card's id)


class BankUnavailable(Exception):
    """The bank's systems (core banking, the database) cannot be reached now: the dialog apologises and offers an
    agent. Every BankBackend raises it, and only it, for an outage."""


class BankBackend(Protocol):
    def customer_by_ani(self, ani: str) -> CustomerInfo | None: ...
    def customer_by_account(self, number: str) -> CustomerInfo | None: ...
    def verify_pin(self, customer_id: int, pin: str) -> str: ...          # ok | wrong | locked
    def accounts(self, customer_id: int) -> list[AccountInfo]: ...
    def transactions(self, customer_id: int, kind: str, limit: int = 5) -> list[TransactionInfo]: ...
    def cards(self, customer_id: int) -> list[CardInfo]: ...
    def block_card(self, customer_id: int, card_id: int) -> str: ...     # reference number
    def transfer(self, customer_id: int, src: str, dst: str, amount: str) -> TransferResult: ...
    def signals(self, customer_id: int, now: datetime) -> list[Signal]: ...   # what the customer may call about
    def lift_hold(self, customer_id: int, card_id: int) -> bool: ...          # a fraud-check hold: card active
    def set_proactive(self, customer_id: int, on: bool) -> None: ...          # the customer's preference


def normalize_ani(ani: str) -> str:
    digits = re.sub(r"\D", "", ani or "")
    return f"+{digits}" if digits else ""


def new_reference() -> str:
    return f"{secrets.randbelow(900000) + 100000}"


def reachable(method):
    """A lost or refused database connection is an outage (BankUnavailable); anything else is a bug."""
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (OperationalError, InterfaceError) as err:
            raise BankUnavailable(str(err.orig or err).splitlines()[0]) from err
    return call


def _info(c: Customer | None) -> CustomerInfo | None:
    return CustomerInfo(c.id, c.name, c.phone_locked, c.language, c.proactive_offers) if c else None


class SqlBank:
    """The demo bank on SQLAlchemy; every change runs in one database transaction."""

    def __init__(self, sessions: sessionmaker):
        self.sessions = sessions

    @reachable
    def customer_by_ani(self, ani: str) -> CustomerInfo | None:
        norm = normalize_ani(ani)
        if not norm:
            return None
        with self.sessions() as s:
            c = s.scalar(select(Customer).where(Customer.ani == norm))
            return _info(c)

    @reachable
    def customer_by_account(self, number: str) -> CustomerInfo | None:
        with self.sessions() as s:
            a = s.scalar(select(Account).where(Account.number == number))
            return _info(a.customer if a else None)

    @reachable
    def verify_pin(self, customer_id: int, pin: str) -> str:
        with self.sessions.begin() as s:
            c = s.get(Customer, customer_id, with_for_update=True)
            if c is None or c.phone_locked:
                return "locked"
            if check_pin(pin, c.pin_hash):
                c.failed_pin_attempts = 0
                return "ok"
            c.failed_pin_attempts += 1
            if c.failed_pin_attempts >= MAX_PIN_ATTEMPTS:
                c.phone_locked = True
                return "locked"
            return "wrong"

    @reachable
    def accounts(self, customer_id: int) -> list[AccountInfo]:
        with self.sessions() as s:
            rows = s.scalars(select(Account).where(Account.customer_id == customer_id).order_by(Account.id))
            return [AccountInfo(a.kind, a.last4, a.balance) for a in rows]

    @reachable
    def transactions(self, customer_id: int, kind: str, limit: int = 5) -> list[TransactionInfo]:
        with self.sessions() as s:
            rows = s.scalars(
                select(Transaction).join(Account)
                .where(Account.customer_id == customer_id, Account.kind == kind)
                .order_by(Transaction.posted_on.desc(), Transaction.id.desc()).limit(limit))
            return [TransactionInfo(t.posted_on, t.description, t.amount) for t in rows]

    @reachable
    def cards(self, customer_id: int) -> list[CardInfo]:
        with self.sessions() as s:
            rows = s.scalars(select(Card).where(Card.customer_id == customer_id).order_by(Card.id))
            return [CardInfo(c.id, c.kind, c.last4, c.status) for c in rows]

    @reachable
    def block_card(self, customer_id: int, card_id: int) -> str:
        with self.sessions.begin() as s:
            card = s.get(Card, card_id, with_for_update=True)
            if card is None or card.customer_id != customer_id:
                raise ValueError("no such card for this customer")
            if card.status != "blocked":
                card.status, card.block_reference, card.blocked_at = "blocked", new_reference(), datetime.now()
            return card.block_reference

    @reachable
    def transfer(self, customer_id: int, src: str, dst: str, amount: str) -> TransferResult:
        try:
            value = Decimal(amount)
        except InvalidOperation:
            return TransferResult("invalid")
        if src == dst or value <= 0 or value != value.quantize(Decimal("0.01")):
            return TransferResult("invalid")
        with self.sessions.begin() as s:  # one transaction: both balances and both postings, or nothing
            accts = {a.kind: a for a in s.scalars(
                select(Account).where(Account.customer_id == customer_id).with_for_update())}
            if src not in accts or dst not in accts:
                return TransferResult("invalid")
            if accts[src].balance < value:
                return TransferResult("insufficient")
            ref = new_reference()
            accts[src].balance -= value
            accts[dst].balance += value
            today = date.today()
            s.add(Transaction(account=accts[src], posted_on=today, description=f"Transfer to {dst}",
                              amount=-value, reference=ref))
            s.add(Transaction(account=accts[dst], posted_on=today, description=f"Transfer from {src}",
                              amount=value, reference=ref))
            return TransferResult("ok", ref)


    @reachable
    def signals(self, customer_id: int, now: datetime) -> list[Signal]:
        from .account_signals import account_signals

        with self.sessions() as s:
            return account_signals(s, customer_id, now)

    @reachable
    def lift_hold(self, customer_id: int, card_id: int) -> bool:
        with self.sessions.begin() as s:
            card = s.get(Card, card_id, with_for_update=True)
            if card is None or card.customer_id != customer_id or card.status != "held":
                return False
            card.status = "active"
            return True

    @reachable
    def set_proactive(self, customer_id: int, on: bool) -> None:
        with self.sessions.begin() as s:
            s.get(Customer, customer_id, with_for_update=True).proactive_offers = on
