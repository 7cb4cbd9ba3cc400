"""Proactive offers against the menu: how many turns and seconds a caller spends, once identified, to reach the
help they came for, with offers (config/proactive.yaml) and without (the plain menu).

    python bench/proactive.py [--json]

Each demo-bank scenario (README "Proactive service") is one caller with one need, played twice through the real
dialog (real NLU, a fresh demo bank each time): with offers, the caller answers the offer; without, the caller
asks the menu as callers do ("my card payment was declined"), falling back to an agent when self-service cannot
help (reaching the person who can help is reaching help). Alex and Priya have no signal: their calls must not
get longer.

Turns: the caller's turns after the PIN, up to and including the one that reaches help. Seconds, as the caller
lives them: every IVR sentence in between at its Piper duration (synthesized here), the caller's words at the
same voice's duration, and per caller turn the end-of-turn wait and reply latency measured by bench/latency.py
(English caller side p50: 0.33 s). Targets: at least a third fewer turns for callers with a matching signal, and
no extra turn for those without.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TURN_WAIT_S = 0.33      # end of the caller's speech -> first IVR audio (bench/latency.py, English, caller side p50)
AGENT = "transfer you to an agent"


@dataclass
class Scenario:
    name: str
    ani: str
    pin: str
    need: str
    with_offer: list[str]
    help_with: str            # a piece of the IVR's words that is the help, with offers
    menu: list[str]
    help_menu: str            # ... through the menu
    signal: bool = True


SCENARIOS = [
    Scenario("Wei Chen", "+15550102", "8080", "card payment declined (fraud-check hold)",
             ["yes", "yes"], "hold is lifted", ["my card payment was declined", "agent"], AGENT),
    Scenario("Maria Garcia", "+15550104", "4826", "card reported lost: when does the new one come",
             ["yes"], "new card is on its way", ["when will my new card arrive", "agent"], AGENT),
    Scenario("Tom Becker", "+15550105", "5937", "a large payment he does not recognise",
             ["yes"], AGENT, ["there is a payment on my account I don't recognise", "agent"], AGENT),
    Scenario("Sara Kim", "+15550106", "6048", "a transfer to another bank failed",
             ["yes"], "It was returned", ["what happened to my transfer", "agent"], AGENT),
    Scenario("Omar Haddad", "+15550107", "7159", "checking overdrawn: cover it from savings",
             ["yes", "yes"], "Done. I have moved",
             ["what's my balance", "transfer money", "from savings", "one hundred forty two dollars and thirty cents",
              "yes"], "Done. I have moved"),
    Scenario("Emma Novak", "+15550108", "8260", "salary not in",
             ["yes"], "usually arrives by", ["has my salary arrived", "recent transactions", "agent"], "Here are the last"),
    Scenario("Dan Ortiz", "+15550109", "9371", "open complaint: a person",
             ["yes"], AGENT, ["agent"], AGENT),
    Scenario("Lucy Park", "+15550110", "1482", "finish yesterday's transfer",
             ["yes", "fifty dollars", "yes"], "Done. I have moved",
             ["transfer money", "savings", "fifty dollars", "yes"], "Done. I have moved"),
    Scenario("Alex Morgan", "+15550100", "2468", "balance (no signal)",
             ["what's my balance"], "The balance of your", ["what's my balance"], "The balance of your", False),
    Scenario("Priya Shah", "+15550101", "1357", "lost card (no signal)",
             ["I lost my card", "credit", "yes"], "is now blocked", ["I lost my card", "credit", "yes"],
             "is now blocked", False),
]


class Durations:
    """Seconds a sentence takes in the default Piper voice (synthesized once per distinct text)."""

    def __init__(self):
        from tts import get_synthesizer

        self.tts, self.cache = get_synthesizer(), {}

    def __call__(self, text: str) -> float:
        if text not in self.cache:
            samples, rate = self.tts.render(text)
            self.cache[text] = len(samples) / rate
        return self.cache[text]


def play(app, sc: Scenario, script: list[str], marker: str, seconds: Durations) -> dict:
    """One call: PIN keyed, then the script until the IVR says `marker`."""
    from ivr.session import CallerKeyed, CallerSaid, Say

    turns = 0
    session = app.new_session(sc.ani)
    session.start()
    out = session.handle(CallerKeyed(f"{sc.pin}#"))
    heard = [a.text for a in out if isinstance(a, Say)]      # the offer, or the menu question
    spent = sum(seconds(t) for t in heard)
    for line in script:
        if any(marker in t for t in heard) or session.done:
            break
        turns += 1
        spent += seconds(line) + TURN_WAIT_S
        out = session.handle(CallerSaid(line))
        said = [a.text for a in out if isinstance(a, Say)]
        reached = next((i for i, t in enumerate(said) if marker in t), None)
        spent += sum(seconds(t) for t in (said if reached is None else said[: reached]))
        heard += said
    return {"turns": turns, "seconds": round(spent, 1), "reached": any(marker in t for t in heard)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from tests.conftest import demo_app

    seconds = Durations()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, sc in enumerate(SCENARIOS):
            with_app = demo_app(Path(tmp) / f"with{i}", calls=True)
            menu_app = demo_app(Path(tmp) / f"menu{i}", calls=True)
            menu_app.__dict__["predictor"] = None        # no offers: the plain menu
            w = play(with_app, sc, sc.with_offer, sc.help_with, seconds)
            m = play(menu_app, sc, sc.menu, sc.help_menu, seconds)
            rows.append({"caller": sc.name, "need": sc.need, "signal": sc.signal, "with_offer": w, "menu": m})
    matched = [r for r in rows if r["signal"]]
    plain = [r for r in rows if not r["signal"]]
    turns_w, turns_m = (sum(r[k]["turns"] for r in matched) for k in ("with_offer", "menu"))
    secs_w, secs_m = (sum(r[k]["seconds"] for r in matched) for k in ("with_offer", "menu"))
    extra = max(r["with_offer"]["turns"] - r["menu"]["turns"] for r in plain)
    summary = {"matched_turns_with": turns_w, "matched_turns_menu": turns_m,
               "turns_saved": round(1 - turns_w / turns_m, 3), "seconds_with": round(secs_w, 1),
               "seconds_menu": round(secs_m, 1), "seconds_saved": round(1 - secs_w / secs_m, 3),
               "no_signal_extra_turns": extra,
               "all_reached": all(r[k]["reached"] for r in rows for k in ("with_offer", "menu"))}
    if args.json:
        print(json.dumps({"rows": rows, "summary": summary}))
        return 0
    print(f"{'caller':<13} {'need':<48} {'offer: turns  s':>16} {'menu: turns  s':>16}")
    for r in rows:
        w, m = r["with_offer"], r["menu"]
        mark = lambda x: "" if x["reached"] else " (not reached)"  # noqa: E731
        print(f"{r['caller']:<13} {r['need']:<48} {w['turns']:>8} {w['seconds']:>6.1f}{mark(w)} "
              f"{m['turns']:>9} {m['seconds']:>6.1f}{mark(m)}")
    print(f"callers with a matching signal ({len(matched)}): {turns_w} turns with offers vs {turns_m} through the menu "
          f"({summary['turns_saved']:.0%} fewer; target >= 33%), {secs_w:.1f} s vs {secs_m:.1f} s "
          f"({summary['seconds_saved']:.0%} less)")
    print(f"callers with no signal ({len(plain)}): extra turns with offers on: {extra} (target 0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
