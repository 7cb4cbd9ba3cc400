"""config/proactive.yaml, checked: the weights that rank why a customer may be calling (ivr/proactive.py)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from config import CONFIG_DIR, IvrError, load_yaml

KINDS = ("declined_payment", "card_blocked", "large_debit", "transfer_problem", "overdraft", "salary_late",
         "recent_call", "open_complaint")
PATH = CONFIG_DIR / "proactive.yaml"


@dataclass(frozen=True)
class Reason:
    weight: float
    within_hours: float
    half_life_hours: float
    person_first: bool = False


@dataclass(frozen=True)
class Rules:
    enabled: bool
    offer_at: float
    menu_weight: float
    reasons: dict[str, Reason]
    large_debit: dict
    salary: dict
    learning: dict

    def within(self, kind: str) -> float:
        return self.reasons[kind].within_hours


def _number(where: str, value, low: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low:
        raise IvrError(f"{PATH}: {where} must be a number >= {low}, not {value!r}")
    return float(value)


@cache
def load_rules(path: Path = PATH) -> Rules:
    y = load_yaml(path, "proactive rules") or {}
    reasons = y.get("reasons") or {}
    unknown = sorted(set(reasons) - set(KINDS))
    if unknown or set(reasons) != set(KINDS):
        raise IvrError(f"{path}: reasons must be exactly {', '.join(KINDS)}"
                       + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
    parsed = {}
    for kind, r in reasons.items():
        if not isinstance(r, dict):
            raise IvrError(f"{path}: reasons.{kind} must be a mapping")
        parsed[kind] = Reason(_number(f"reasons.{kind}.weight", r.get("weight")),
                              _number(f"reasons.{kind}.within_hours", r.get("within_hours"), 1),
                              _number(f"reasons.{kind}.half_life_hours", r.get("half_life_hours"), 1),
                              bool(r.get("person_first", False)))
    offer_at = _number("offer_at", y.get("offer_at"))
    if offer_at > 1:
        raise IvrError(f"{path}: offer_at is a likelihood between 0 and 1, not {offer_at}")
    return Rules(bool(y.get("enabled", True)), offer_at, _number("menu_weight", y.get("menu_weight"), 0.01), parsed,
                 y["large_debit"], y["salary"], y["learning"])
