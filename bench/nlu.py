"""NLU benchmark, per language: intent accuracy on the examples (config/intents/<language>.yaml) and on the
held-out phrasing table (tests/data/nlu_heldout[_zh].yaml, never used for tuning; nlu_dev[_zh].yaml was used),
and latency per utterance on CPU.

    python bench/nlu.py [--language en|zh|all]
Targets: >= 97 % held-out accuracy in English, >= 95 % in Mandarin, <= 10 ms per utterance.
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
DEV_ZH = ROOT / "tests" / "data" / "nlu_dev_zh.yaml"
HELD_OUT_ZH = ROOT / "tests" / "data" / "nlu_heldout_zh.yaml"
TABLES = {"en": (DEV, HELD_OUT), "zh": (DEV_ZH, HELD_OUT_ZH)}


def table_cases(path: Path) -> list[tuple[str, str | None, str | None]]:
    """(text, expected intent, state) for every phrasing in a table; `none:` phrasings must match no intent."""
    table = load_yaml(path, "phrasings")
    cases = [(t, None if intent == "none" else intent, None)
             for intent, texts in table.items() if intent != "confirm" for t in texts]
    cases += [(t, yn, "confirm") for yn, texts in table["confirm"].items() for t in texts]
    return cases


def example_cases(language: str = "en") -> list[tuple[str, str, str | None]]:
    data = load_yaml(CONFIG_DIR / "intents" / f"{language}.yaml", "intents")
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
CONFIRM_TABLE_ZH = [
    ("是的", "yes"), ("对，没错", "yes"), ("好的，转吧", None), ("确认", "yes"), ("嗯，对的", "yes"), ("可以", "yes"),
    ("没问题", "yes"), ("当然", "yes"),
    ("不是", "no"), ("不对", "no"), ("不要转", "no"), ("取消", "no"), ("算了", "no"), ("不用了", "no"), ("错了", "no"),
    ("不行，别转", "no"),
    ("我不确定", None), ("可能吧", None), ("让我想想", None), ("等一下", None), ("是不是", None), ("对不起", None),
    ("金额是多少来着", "@repeat"), ("先帮我查一下余额", "check_balance"), ("我的卡丢了", "report_lost_card"),
    ("不对，改成一百块", "correction"), ("是，不过改成三十块", "correction"), ("改成五十块吧", "correction"),
    ("转人工", "@speak_to_agent"),
]
CARD_TABLE_ZH = [
    ("借记卡", "1"), ("我的借记卡", "1"), ("第一张", "1"), ("尾号二二二二", "1"), ("不是信用卡", "1"), ("储蓄卡", "1"),
    ("信用卡", "2"), ("第二张", "2"), ("最后一张", "2"), ("按二", "2"), ("尾号是三三三三的那张", "2"),
    ("不是借记卡，是信用卡", "2"),
    ("蓝色的那张", None), ("第三张", None), ("我不知道是哪张", None), ("借记卡尾号三三三三", None),
]
DIALOG_TABLES = {"en": (CONFIRM_TABLE, CARD_TABLE), "zh": (CONFIRM_TABLE_ZH, CARD_TABLE_ZH)}


def confirm_reading(interpreter, state, ctx, text: str) -> str | None:
    u = interpreter.understand(state, text, 1.0, ctx, "transfer_funds")
    if u.kind == "global":
        return f"@{u.value}"
    return "correction" if u.kind == "correction" else u.value


def dialog_tables(clf, language: str = "en") -> None:
    from ivr.context import CallContext
    from ivr.flow import load_flow
    from ivr.slots import pick_card
    from ivr.understanding import Interpreter
    from ivr.words import load_words

    confirm_table, card_table = DIALOG_TABLES[language]
    lex = load_words(language)
    flow = load_flow()
    interpreter = Interpreter(flow, clf, lex)
    ctx = CallContext(None, None)
    ctx.answers["transfer_amount"] = "40.00"
    state = flow.states["transfer_confirm"]
    misses = [(t, want, got) for t, want in confirm_table
              if (got := confirm_reading(interpreter, state, ctx, t)) != want]
    unsafe = [m for m in misses if m[2] == "yes"]
    print(f"{'read-back answers':<22} {len(confirm_table):>4} utterances  accuracy "
          f"{(1 - len(misses) / len(confirm_table)) * 100:5.1f}%  (wrong yes: {len(unsafe)})")
    for text, want, got in sorted(misses, key=lambda m: m[2] != "yes"):
        print(f"    miss: {text!r}: expected {want}, got {got}")
    cards = [("debit", "2222"), ("credit", "3333")]
    misses = [(t, want, got) for t, want in card_table if (got := pick_card(t, cards, lex)) != want]
    print(f"{'card choice':<22} {len(card_table):>4} utterances  accuracy "
          f"{(1 - len(misses) / len(card_table)) * 100:5.1f}%  (wrong card: "
          f"{sum(1 for m in misses if m[2] is not None)})")
    for text, want, got in misses:
        print(f"    miss: {text!r}: expected {want}, got {got}")


def report(language: str) -> None:
    clf = get_classifier(language)
    dev, held_out = TABLES[language]
    print(f"== {language} ({clf.encoder.__class__.__name__})")
    dialog_tables(clf, language)
    for label, cases in (("examples (in config)", example_cases(language)), ("dev table", table_cases(dev)),
                         ("held-out table", table_cases(held_out))):
        acc, right, total, misses = evaluate(clf, cases)
        print(f"{label:<22} {len(cases):>4} utterances  accuracy {acc * 100:5.1f}%")
        for intent in total:
            print(f"    {str(intent):<20} {right[intent]:>3}/{total[intent]:<3}")
        for text, want, got in misses:
            print(f"    miss: {text!r}: expected {want}, got {got}")
    texts = [t for t, _, _ in table_cases(held_out)]
    times = []
    for text in texts * 3:
        start = time.perf_counter()
        clf.classify(text)
        times.append(time.perf_counter() - start)
    times.sort()
    print(f"latency per utterance: median {statistics.median(times) * 1000:.1f} ms, "
          f"p95 {times[int(len(times) * 0.95)] * 1000:.1f} ms (n={len(times)})")


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--language", choices=["en", "zh", "all"], default="all")
    args = parser.parse_args()
    for language in (["en", "zh"] if args.language == "all" else [args.language]):
        report(language)


if __name__ == "__main__":
    main()
