"""The demo bank's core data: customers, accounts, cards, transactions (a real bank plugs in its own core)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, DateTime, ForeignKey, Numeric, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import Base

Money = Numeric(14, 2)


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    ani: Mapped[str | None] = mapped_column(String(32), unique=True, index=True)  # caller ID, digits and '+'
    pin_hash: Mapped[str] = mapped_column(String(200))                            # scrypt, never the PIN
    failed_pin_attempts: Mapped[int] = mapped_column(default=0)
    phone_locked: Mapped[bool] = mapped_column(default=False)
    language: Mapped[str | None] = mapped_column(String(8))   # the language calls are served in once identified
    proactive_offers: Mapped[bool] = mapped_column(default=True)  # offered the likely reason for a call (opt-out)
    accounts: Mapped[list[Account]] = relationship(back_populates="customer", order_by="Account.id")
    cards: Mapped[list[Card]] = relationship(back_populates="customer", order_by="Card.id")


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))          # checking | savings
    number: Mapped[str] = mapped_column(String(20), unique=True)
    balance: Mapped[Decimal] = mapped_column(Money)
    customer: Mapped[Customer] = relationship(back_populates="accounts")
    transactions: Mapped[list[Transaction]] = relationship(back_populates="account")

    @property
    def last4(self) -> str:
        return self.number[-4:]


class Card(Base):
    __tablename__ = "cards"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))          # debit | credit
    last4: Mapped[str] = mapped_column(String(4))          # only the last four digits are ever stored
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | held (fraud check) | blocked
    block_reference: Mapped[str | None] = mapped_column(String(16))
    blocked_at: Mapped[datetime | None] = mapped_column(DateTime)
    customer: Mapped[Customer] = relationship(back_populates="cards")
    declines: Mapped[list[CardDecline]] = relationship(back_populates="card", order_by="CardDecline.at")


class CardDecline(Base):
    """A card payment the bank refused (what a customer may be calling about)."""
    __tablename__ = "card_declines"
    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)          # naive UTC
    merchant: Mapped[str] = mapped_column(String(120))
    amount: Mapped[Decimal] = mapped_column(Money)
    reason: Mapped[str] = mapped_column(String(24))        # fraud_hold | insufficient_funds | credit_limit
    card: Mapped[Card] = relationship(back_populates="declines")


class TransferOrder(Base):
    """A transfer to another bank that takes time: pending until it settles, or failed with a reason."""
    __tablename__ = "transfer_orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    payee: Mapped[str] = mapped_column(String(120))
    amount: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(12))        # pending | failed | settled
    reason: Mapped[str | None] = mapped_column(String(24))  # why it failed: payee_details | limit
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)  # naive UTC
    expected_on: Mapped[date | None] = mapped_column(Date)  # when a pending one settles
    account: Mapped[Account] = relationship()


class Transaction(Base):
    __tablename__ = "transactions"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    posted_on: Mapped[date] = mapped_column(Date, index=True)
    description: Mapped[str] = mapped_column(String(120))
    amount: Mapped[Decimal] = mapped_column(Money)         # negative = money out
    reference: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    account: Mapped[Account] = relationship(back_populates="transactions")
