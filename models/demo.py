"""The demo bank of design.md §6, seeded idempotently (`ivr db init --demo`)."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from .bank import Account, Card, Customer, Transaction
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
]
HISTORY = {  # (days ago, description, amount) per account kind
    "checking": [(1, "Grocery Mart", "-84.12"), (2, "Coffee House", "-4.50"), (4, "Payroll deposit", "1850.00"),
                 (6, "City Power and Light", "-96.40"), (9, "ATM withdrawal", "-60.00"), (12, "Online Books", "-23.99")],
    "savings": [(3, "Interest payment", "8.50"), (10, "Transfer from checking", "200.00"),
                (17, "Transfer from checking", "200.00"), (24, "Transfer to checking", "-150.00"),
                (31, "Interest payment", "8.41")],
}


def seed_demo(session: Session, today: date | None = None) -> int:
    """Insert the demo customers that are missing; returns how many were added. Never touches existing ones."""
    today = today or date.today()
    added = 0
    for spec in CUSTOMERS:
        if session.scalar(select(Customer).where(Customer.ani == spec["ani"])):
            continue
        customer = Customer(name=spec["name"], ani=spec["ani"], pin_hash=hash_pin(spec["pin"]),
                            language=spec.get("language"))
        session.add(customer)
        for kind, number, balance in spec["accounts"]:
            account = Account(customer=customer, kind=kind, number=number, balance=Decimal(balance))
            session.add(account)
            for days, desc, amount in HISTORY[kind]:
                session.add(Transaction(account=account, posted_on=today - timedelta(days=days), description=desc,
                                        amount=Decimal(amount)))
        for kind, last4 in spec["cards"]:
            session.add(Card(customer=customer, kind=kind, last4=last4))
        added += 1
    session.commit()
    return added
