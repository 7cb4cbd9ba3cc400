"""NLU benchmark: intent accuracy on the examples (config/intents/en.yaml) and on the held-out phrasing table
(tests/data/nlu_heldout.yaml, never used for tuning; nlu_dev.yaml was used), and latency per utterance on CPU.

    python bench/nlu.py
Targets: >= 97 % held-out accuracy, <= 10 ms per utterance.
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


def main() -> None:
    clf = get_classifier()
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
