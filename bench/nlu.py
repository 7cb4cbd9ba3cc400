"""NLU benchmark: intent accuracy on the examples (config/intents/en.yaml) and on the held-out phrasing table
(tests/data/nlu_heldout.yaml, never used for tuning; nlu_dev.yaml was used), and latency per utterance on CPU.

    python bench/nlu.py
Targets: >= 97 % held-out accuracy, <= 10 ms per utterance.
Also: how the dialog reads answers at a read-back (transfer_confirm: yes / no / unclear / a new request /
a correction) and at the card choice (two cards, debit ...2222 and credit ...3333), on phrasings written for
this benchmark. A wrong "yes" there would move money, so those misses are listed first.
"""
from __future__ import annotations

import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config import CONFIG_DIR, load_yaml  # noqa: E402
from ivr.nlu import get_classifier  # noqa: E402

DEV = ROOT / "tests" / "data" / "nlu_dev.yaml"
HELD_OUT = ROOT / "tests" / "data" / "nlu_heldout.yaml"


def table_cases(path: Path) -> list[tuple[str, str, str | None]]:
    """(text, expected intent, state) for every phrasing in a table."""
    table = load_yaml(path, "phrasings")
    cases = [(t, intent, None) for intent, texts in table.items() if intent != "confirm" for t in texts]
    cases += [(t, yn, "confirm") for yn, texts in table["confirm"].items() for t in texts]
    return cases


def example_cases() -> list[tuple[str, str, str | None]]:
    data = load_yaml(CONFIG_DIR / "intents" / "en.yaml", "intents")
    cases = [(t, name, None) for name, spec in data["intents"].items() for t in spec["examples"]]
    cases += [(t, name, "confirm") for name, spec in data["confirm_intents"].items() for t in spec["examples"]]
    return cases


def evaluate(clf, cases) -> tuple[float, Counter, Counter, list]:
    right, total, misses = Counter(), Counter(), []
    for text, want, state in cases:
        got = clf.classify(text, state).intent
        total[want] += 1
        if got == want:
            right[want] += 1
        else:
            misses.append((text, want, got))
    return sum(right.values()) / len(cases), right, total, misses


# (what the caller says at "You want to transfer forty dollars ... Is that right?", how the dialog must read it)
CONFIRM_TABLE = [
    ("yes", "yes"), ("yeah that's right", "yes"), ("yep go ahead", "yes"), ("correct", "yes"), ("sure thing", "yes"),
    ("that's correct", "yes"), ("uh huh", "yes"), ("yes please do", "yes"), ("of course", "yes"),
    ("absolutely", "yes"), ("okay do it", "yes"), ("yes I'm sure", "yes"),
    ("no", "no"), ("nope", "no"), ("absolutely not", "no"), ("definitely not", "no"), ("of course not", "no"),
    ("no don't do that", "no"), ("that's wrong", "no"), ("not right", "no"), ("cancel it", "no"),
    ("no thank you", "no"), ("certainly not", "no"), ("nah leave it", "no"),
    ("I'm not sure", None), ("maybe", None), ("hmm I don't know", None), ("wait a second", None),
    ("yes no", None), ("I guess so", None), ("perhaps", None), ("what was the amount again", "@repeat"),
    ("actually check my balance first", "check_balance"), ("no I want my recent transactions", "recent_transactions"),
    ("what time does the branch close", "branch_hours"), ("I lost my card", "report_lost_card"),
    ("no, make it 100 dollars", "correction"), ("yes but make it thirty dollars", "correction"),
    ("make it fifty dollars instead", "correction"), ("no, twenty five dollars", "correction"),
    ("I want to speak to an agent", "@speak_to_agent"),
]
CARD_TABLE = [
    ("the debit card", "1"), ("debit", "1"), ("my debit one", "1"), ("the first one", "1"), ("number one", "1"),
    ("the one ending 2222", "1"), ("the one that ends in two two two two", "1"), ("not the credit card", "1"),
    ("the credit card", "2"), ("credit", "2"), ("the second one", "2"), ("the last one", "2"), ("press two", "2"),
    ("the one ending in three three three three", "2"), ("not the debit, the credit one", "2"),
    ("no, the credit one", "2"), ("it's the credit card that's gone", "2"), ("the other one, credit", "2"),
    ("the blue one", None), ("the third card", None), ("I'm not sure which", None), ("debit ending 3333", None),
]


def confirm_reading(interpreter, state, ctx, text: str) -> str | None:
    u = interpreter.understand(state, text, 1.0, ctx, "transfer_funds")
    if u.kind == "global":
        return f"@{u.value}"
    return "correction" if u.kind == "correction" else u.value


def dialog_tables(clf) -> None:
    from ivr.context import CallContext
    from ivr.flow import load_flow
    from ivr.slots import pick_card
    from ivr.understanding import Interpreter
    from ivr.words import load_words

    flow = load_flow()
    interpreter = Interpreter(flow, clf, load_words("en"))
    ctx = CallContext(None, None)
    ctx.answers["transfer_amount"] = "40.00"
    state = flow.states["transfer_confirm"]
    misses = [(t, want, got) for t, want in CONFIRM_TABLE
              if (got := confirm_reading(interpreter, state, ctx, t)) != want]
    unsafe = [m for m in misses if m[2] == "yes"]
    print(f"{'read-back answers':<22} {len(CONFIRM_TABLE):>4} utterances  accuracy "
          f"{(1 - len(misses) / len(CONFIRM_TABLE)) * 100:5.1f}%  (wrong yes: {len(unsafe)})")
    for text, want, got in sorted(misses, key=lambda m: m[2] != "yes"):
        print(f"    miss: {text!r}: expected {want}, got {got}")
    cards = [("debit", "2222"), ("credit", "3333")]
    misses = [(t, want, got) for t, want in CARD_TABLE if (got := pick_card(t, cards)) != want]
    print(f"{'card choice':<22} {len(CARD_TABLE):>4} utterances  accuracy "
          f"{(1 - len(misses) / len(CARD_TABLE)) * 100:5.1f}%  (wrong card: "
          f"{sum(1 for m in misses if m[2] is not None)})")
    for text, want, got in misses:
        print(f"    miss: {text!r}: expected {want}, got {got}")


def main() -> None:
    clf = get_classifier()
    dialog_tables(clf)
    for label, cases in (("examples (in config)", example_cases()), ("dev table", table_cases(DEV)),
                         ("held-out table", table_cases(HELD_OUT))):
        acc, right, total, misses = evaluate(clf, cases)
        print(f"{label:<22} {len(cases):>4} utterances  accuracy {acc * 100:5.1f}%")
        for intent in total:
            print(f"    {intent:<20} {right[intent]:>3}/{total[intent]:<3}")
        for text, want, got in misses:
            print(f"    miss: {text!r}: expected {want}, got {got}")
    texts = [t for t, _, _ in table_cases(HELD_OUT)]
    times = []
    for text in texts * 3:
        start = time.perf_counter()
        clf.classify(text)
        times.append(time.perf_counter() - start)
    times.sort()
    print(f"latency per utterance: median {statistics.median(times) * 1000:.1f} ms, "
          f"p95 {times[int(len(times) * 0.95)] * 1000:.1f} ms (n={len(times)})")


if __name__ == "__main__":
    main()
