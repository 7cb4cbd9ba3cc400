"""Proactive service: after identification, why is this customer likely calling? Signals from the bank
(BankBackend.signals) and the call store (ivr/contact_history.py) are ranked with config/proactive.yaml; the
likeliest is offered before the menu, and yes goes straight to its help.

Learning: every offer is stored (offer_made, then offer_accepted or offer_declined events). Once a reason has
been offered `learning.min_offers` times in `learning.window_days`, its weight is the one its acceptance rate
implies: rate = (accepted + prior_offers * p0) / (offered + prior_offers), where p0 = w / (w + menu_weight) is
what the configured weight w predicts for a fresh signal; weight = menu_weight * rate / (1 - rate). A reason
callers keep declining sinks below `offer_at` and stops being offered; one they accept rises."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from models import CallEvent, EventKind, utcnow

from .actions import action, money, spaced
from .bank import BankUnavailable, Signal
from .proactive_rules import KINDS, Rules, load_rules

log = logging.getLogger(__name__)
LEARNED_TTL_S = 600.0           # learned weights are recomputed from the call store this often


@dataclass(frozen=True)
class Ranked:
    signal: Signal
    likelihood: float


def rank(signals: list[Signal], rules: Rules, now: datetime, weights: dict[str, float] | None = None) -> list[Ranked]:
    """The signals with the likelihood that the call is about each, likeliest first (the rest: the menu)."""
    weights = weights or {k: r.weight for k, r in rules.reasons.items()}
    scored = []
    for s in signals:
        reason = rules.reasons[s.kind]
        age_h = max(0.0, (now - s.at).total_seconds() / 3600)
        if age_h <= reason.within_hours:
            scored.append((s, weights[s.kind] * 0.5 ** (age_h / reason.half_life_hours)))
    total = rules.menu_weight + sum(score for _, score in scored)
    return sorted((Ranked(s, round(score / total, 3)) for s, score in scored), key=lambda r: -r.likelihood)


def learned_weights(sessions, rules: Rules, now: datetime) -> dict[str, float]:
    """Each reason's weight: from its offers' outcomes in the call store where there are enough, else the rule's."""
    cfg = rules.learning
    offered = {k: 0 for k in KINDS}
    accepted = dict(offered)
    with sessions() as s:
        for kind, detail in s.execute(select(CallEvent.kind, CallEvent.detail).where(
                CallEvent.kind.in_([EventKind.offer_made, EventKind.offer_accepted]),
                CallEvent.at >= now - timedelta(days=cfg["window_days"]))):
            reason = (detail or {}).get("reason")
            if reason in offered:
                (offered if kind == EventKind.offer_made else accepted)[reason] += 1
    weights = {}
    for k, r in rules.reasons.items():
        if offered[k] < cfg["min_offers"]:
            weights[k] = r.weight
            continue
        p0 = r.weight / (r.weight + rules.menu_weight)
        rate = (accepted[k] + cfg["prior_offers"] * p0) / (offered[k] + cfg["prior_offers"])
        weights[k] = round(rules.menu_weight * min(rate, 0.98) / (1 - min(rate, 0.98)), 3)
    return weights


class Predictor:
    """Why a customer is likely calling: signals from the bank and the call store, ranked with learned weights."""

    def __init__(self, sessions, history, rules: Rules | None = None):
        self.sessions, self.history, self.rules = sessions, history, rules or load_rules()
        self._weights: tuple[float, dict[str, float]] | None = None
        self._lock = threading.Lock()

    def weights(self, now: datetime) -> dict[str, float]:
        with self._lock:
            if self._weights is None or time.monotonic() - self._weights[0] > LEARNED_TTL_S:
                self._weights = (time.monotonic(), learned_weights(self.sessions, self.rules, now))
            return self._weights[1]

    def predict(self, bank, customer_id: int, tasks: set[str], now: datetime | None = None) -> list[Ranked]:
        now = now or utcnow()
        signals = bank.signals(customer_id, now) + self.history.signals(customer_id, now, self.rules, tasks)
        return rank(signals, self.rules, now, self.weights(now))


# -- what is said -----------------------------------------------------------------------------------------
def _when(ctx, at: datetime) -> str:
    """'today', 'yesterday' or 'on November 27' (the prompts day_today, day_yesterday, day_on)."""
    days = (utcnow().date() - at.date()).days
    if days <= 0:
        return ctx.text("day_today")
    if days == 1:
        return ctx.text("day_yesterday")
    return ctx.text("day_on", date=at.date())


def _values(ctx, s: Signal) -> dict:
    v = dict(s.values)
    out = {"when": _when(ctx, s.at)}
    if "amount" in v:
        out["amount"] = money(v["amount"])
    for key in ("last4", "reference"):      # digit by digit
        if v.get(key):
            out[key] = spaced(v[key])
    for key in ("merchant", "payee", "payer", "card_kind", "account", "subject", "expected", "due"):
        if v.get(key):
            out[key] = v[key]
    if v.get("about"):
        out["about"] = ctx.text(f"about_{v['about']}")
    return out


def offer_text(ctx) -> str:
    """The offer of the predicted reason, in the call's language (said again after a language switch)."""
    s: Signal = ctx.vars["offer_signal"]
    variant = f"_{s.values['status']}" if s.kind == "transfer_problem" else ""
    return ctx.text(f"offer_{s.kind}{variant}", **_values(ctx, s))


# -- flow actions ---------------------------------------------------------------------------------------------
@action
def predict_reason(ctx) -> str:
    """offer: the likeliest reason is offered; person: an open complaint, a person is offered first; none: the menu.
    Never before authentication; never for a customer who turned offers off; an outage means no offer."""
    ctx.require_auth()
    predictor = ctx.predictor
    if predictor is None or not predictor.rules.enabled or not ctx.customer.proactive:
        return "none"
    try:
        ranked = predictor.predict(ctx.bank, ctx.customer.id, ctx.task_names)
    except BankUnavailable as err:
        log.warning("no proactive offer: %s", err)
        return "none"
    complaint = next((r for r in ranked if predictor.rules.reasons[r.signal.kind].person_first), None)
    top = complaint or (ranked[0] if ranked and ranked[0].likelihood >= predictor.rules.offer_at else None)
    if top is None:
        return "none"
    ctx.vars["offer_signal"] = top.signal
    ctx.vars["offer"] = offer_text(ctx)
    ctx.event("offer_made", reason=top.signal.kind, likelihood=top.likelihood,
              others=[r.signal.kind for r in ranked if r is not top][:3])
    return "person" if complaint else "offer"


@action
def offer_declined(ctx) -> str:
    s = ctx.vars.pop("offer_signal", None)
    if s is not None:
        ctx.event("offer_declined", reason=s.kind)
    return "ok"


@action
def offers_off(ctx) -> str:
    """The customer asked not to be offered reasons again (a stored preference)."""
    ctx.require_auth()
    s = ctx.vars.pop("offer_signal", None)
    ctx.bank.set_proactive(ctx.customer.id, False)
    ctx.event("offers_turned_off", reason=s.kind if s else None)
    return "ok"


@action
def serve_reason(ctx) -> str:
    """The offer was accepted: its help. Outcomes: explained (told what happened), lift_hold (a fraud-check hold
    the caller may lift), cover (an overdraft savings can cover: a transfer read back first), agent, or a task of
    the flow (an earlier call's unfinished request, resumed with what the caller said for it then)."""
    ctx.require_auth()
    s: Signal = ctx.vars.pop("offer_signal")
    ctx.event("offer_accepted", reason=s.kind)
    v, said = s.values, _values(ctx, s)
    if s.kind == "declined_payment":
        ctx.speak(f"help_declined_{v['reason']}", **said)
        if v["reason"] == "fraud_hold" and v.get("card_status") == "held":
            ctx.vars.update(card_id=s.ref, card_last4=said["last4"], card_kind=v["card_kind"])
            return "lift_hold"
        return "explained"
    if s.kind == "card_blocked":
        ctx.speak("help_card_blocked", **said)
        return "explained"
    if s.kind == "large_debit":
        ctx.speak("help_large_debit", **said)
        ctx.vars["transfer_reason"] = "disputed_payment"
        return "agent"
    if s.kind == "transfer_problem":
        ctx.speak(f"help_transfer_{v['status']}" + (f"_{v['reason']}" if v["status"] == "failed" else ""), **said)
        return "explained"
    if s.kind == "overdraft":
        return _cover_overdraft(ctx, v, said)
    if s.kind == "salary_late":
        ctx.speak("help_salary_late", **said)
        return "explained"
    if s.kind == "recent_call" and v["about"] in ctx.task_names:
        ctx.slots = dict(v.get("slots") or {})   # what was already said for it: not asked again
        return v["about"]
    ctx.vars["transfer_reason"] = "open_complaint" if s.kind == "open_complaint" else "repeat_call"
    return "agent"


def _cover_overdraft(ctx, v: dict, said: dict) -> str:
    """Savings that cover the overdraft: the transfer is prepared and read back (confirmed before money moves)."""
    other = next((a for a in ctx.bank.accounts(ctx.customer.id) if a.kind != v["account"] and a.balance >= v["amount"]),
                 None)
    if other is None:
        ctx.speak("help_overdraft", **said)
        ctx.vars["transfer_reason"] = "overdraft"
        return "agent"
    ctx.speak("help_overdraft_cover", **said)
    ctx.vars.update(from_account=other.kind, to_account=v["account"], amount=f"{v['amount']:.2f}",
                    amount_words=money(v["amount"]))
    return "cover"


@action
def lift_card_hold(ctx) -> str:
    ctx.require_auth()
    lifted = ctx.bank.lift_hold(ctx.customer.id, ctx.vars["card_id"])
    ctx.speak("hold_lifted" if lifted else "hold_not_lifted")
    if lifted:
        ctx.tasks.append("lift_card_hold")
    return "ok"
