"""Bank actions a flow state may name (`action:`). Each takes the call context, may queue speech with
`ctx.speak(prompt, **values)`, and returns an outcome that the state's `on:` maps to the next state."""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

ACTIONS: dict[str, Callable] = {}
OTHER = {"checking": "savings", "savings": "checking"}


def action(fn: Callable) -> Callable:
    ACTIONS[fn.__name__] = fn
    return fn


def spaced(digits: str) -> str:
    return " ".join(digits)


def money(amount: Decimal | str) -> Decimal:
    """An amount to be said: spoken as money words in the call's language (ivr/spoken.py)."""
    return Decimal(amount).quantize(Decimal("0.01"))


def _identified(ctx, customer) -> str:
    ctx.set_customer(customer)
    if customer is None:
        return "not_found"
    if customer.locked:  # locked in an earlier call: say so before asking for a PIN
        ctx.vars["locked"] = True
        ctx.event("auth_failure", reason="locked")
        return "locked"
    return "found"


@action
def identify_by_ani(ctx) -> str:
    return _identified(ctx, ctx.bank.customer_by_ani(ctx.ani) if ctx.ani else None)


@action
def lookup_account(ctx) -> str:
    return _identified(ctx, ctx.bank.customer_by_account(ctx.slots.pop("digits", "")))


@action
def verify_pin(ctx) -> str:
    pin = ctx.slots.pop("digits", "")
    result = ctx.bank.verify_pin(ctx.customer.id, pin)
    if result == "ok":
        ctx.authenticated = True
        ctx.event("auth_success")
    elif result == "wrong":
        ctx.event("auth_failure", reason="wrong_pin")
    else:
        ctx.event("lockout")
    ctx.vars["locked"] = result == "locked"
    return result


@action
def after_failed_transfer(ctx) -> str:
    """Where a caller goes when no agent could take the call."""
    if ctx.authenticated:
        return "menu"
    return "locked" if ctx.vars.get("locked") else "identify"


@action
def read_balance(ctx) -> str:
    ctx.require_auth()
    wanted = ctx.slots.pop("account", None)
    accounts = ctx.bank.accounts(ctx.customer.id)
    chosen = [a for a in accounts if a.kind == wanted]
    if wanted and not chosen:
        ctx.speak("no_such_account", kind=wanted)
    chosen = chosen or accounts
    for a in chosen:
        ctx.speak("balance_line", kind=a.kind, last4=spaced(a.last4), balance=money(a.balance))
    ctx.tasks.append("check_balance")
    return "ok"


@action
def read_transactions(ctx) -> str:
    ctx.require_auth()
    kind = ctx.slots.pop("account", None)
    accounts = {a.kind: a for a in ctx.bank.accounts(ctx.customer.id)}
    if kind and kind not in accounts:
        ctx.speak("no_such_account", kind=kind)
    acct = accounts.get(kind) or next(iter(accounts.values()))
    rows = ctx.bank.transactions(ctx.customer.id, acct.kind, 5)
    if not rows:
        ctx.speak("no_transactions", kind=acct.kind)
    else:
        ctx.speak("transactions_intro", count=len(rows), kind=acct.kind, last4=spaced(acct.last4))
    for t in rows:
        ctx.speak("transaction_line", date=t.posted_on, description=t.description,
                  amount=money(abs(t.amount)), direction="in" if t.amount > 0 else "out")
    ctx.tasks.append("recent_transactions")
    return "ok"


@action
def task_done(ctx) -> str:
    ctx.tasks.append(ctx.state)
    return "ok"


@action
def choose_card(ctx) -> str:
    ctx.require_auth()
    cards = [c for c in ctx.bank.cards(ctx.customer.id) if c.status != "blocked"]   # a held card may be lost too
    ctx.vars["cards"] = cards
    if not cards:
        return "none"
    if len(cards) == 1:
        _select_card(ctx, cards[0])
        return "one"
    ctx.vars["card_options"] = card_options(ctx)
    return "several"


def card_options(ctx) -> str:
    """'For your debit card ending 2 2 2 2, say debit or press 1. ...' in the call's language."""
    return " ".join(ctx.text("card_option", kind=c.kind, last4=spaced(c.last4), key=i)
                    for i, c in enumerate(ctx.vars.get("cards", []), 1))


def _select_card(ctx, card) -> None:
    ctx.vars.update(card_id=card.id, card_kind=card.kind, card_last4=spaced(card.last4))


@action
def pick_card(ctx) -> str:
    """The card answer is the card's option number ('1', '2'...), spoken or keyed (ivr/slots.py pick_card)."""
    key = str(ctx.slots.pop("card", ""))
    cards = ctx.vars.get("cards", [])
    if not key.isdigit() or not 1 <= int(key) <= len(cards):
        return "unknown"
    _select_card(ctx, cards[int(key) - 1])
    return "ok"


@action
def block_card(ctx) -> str:
    ctx.require_auth()
    ctx.vars["reference"] = spaced(ctx.bank.block_card(ctx.customer.id, ctx.vars["card_id"]))
    ctx.tasks.append("report_lost_card")
    return "ok"


@action
def start_transfer(ctx) -> str:
    ctx.require_auth()
    for key in ("from_account", "to_account", "amount", "amount_words", "reference"):
        ctx.vars.pop(key, None)
    kinds = {a.kind for a in ctx.bank.accounts(ctx.customer.id)}
    if not {"checking", "savings"} <= kinds:
        return "single_account"
    src, dst = ctx.slots.pop("from_account", None), ctx.slots.pop("to_account", None)
    if src or dst:
        src, dst = src or OTHER[dst], dst or OTHER[src]
        ctx.vars.update(from_account=src, to_account=dst)
    if "amount" in ctx.slots:
        amount = Decimal(ctx.slots.pop("amount"))
        if amount > 0:
            _set_amount(ctx, f"{amount:.2f}")
        else:  # refused before any read-back; the amount prompt follows
            ctx.speak("amount_not_valid")
    return "ok"


def _set_amount(ctx, amount: str) -> None:
    ctx.vars.update(amount=amount, amount_words=money(amount))


@action
def set_amount(ctx) -> str:
    """The amount answer: a decimal string, 'everything' (the available balance, read back like any amount)
    or 'ambiguous' ('one fifty': asked again)."""
    said = ctx.slots.pop("amount")
    if said == "ambiguous":
        return "ambiguous"
    if said == "everything":
        said = next(a.balance for a in ctx.bank.accounts(ctx.customer.id) if a.kind == ctx.vars["from_account"])
    amount = Decimal(said)
    if amount <= 0:
        return "too_small"
    _set_amount(ctx, f"{amount:.2f}")
    return "ok"


@action
def set_transfer_accounts(ctx) -> str:
    src = ctx.slots.pop("account")
    ctx.vars.update(from_account=src, to_account=OTHER[src])
    return "ok"


@action
def execute_transfer(ctx) -> str:
    ctx.require_auth()
    result = ctx.bank.transfer(ctx.customer.id, ctx.vars["from_account"], ctx.vars["to_account"], ctx.vars["amount"])
    if result.status == "ok":
        ctx.vars["reference"] = spaced(result.reference)
        ctx.tasks.append("transfer_funds")
    elif result.status == "insufficient":
        balance = next(a.balance for a in ctx.bank.accounts(ctx.customer.id) if a.kind == ctx.vars["from_account"])
        ctx.vars["available_words"] = money(balance)
    return result.status


from . import proactive  # noqa: E402,F401 - registers the proactive service's actions
