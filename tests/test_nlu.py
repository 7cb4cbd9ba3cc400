"""Intent classification on 292 phrasings written for this project (tests/data), with the real MiniLM model."""
import json
from collections import Counter

import pytest

from bench.nlu import DEV, HELD_OUT, table_cases
from ivr.nlu import get_classifier

from .conftest import run_ivr


@pytest.fixture(scope="module")
def nlu():
    return get_classifier()


def accuracy_by_intent(nlu, cases):
    right, total = Counter(), Counter()
    for text, want, state in cases:
        total[want] += 1
        right[want] += nlu.classify(text, state).intent == want
    return {k: right[k] / total[k] for k in total}, sum(right.values()) / sum(total.values())


def test_tables_cover_every_intent_with_enough_phrasings():
    cases = table_cases(DEV) + table_cases(HELD_OUT)
    assert len(cases) >= 150
    counts = Counter(want for _, want, _ in cases)
    assert set(counts) == set(get_classifier().intents) | {"yes", "no"} and min(counts.values()) >= 10


def test_held_out_accuracy_per_intent(nlu):
    per_intent, overall = accuracy_by_intent(nlu, table_cases(HELD_OUT))
    assert overall >= 0.95, per_intent
    assert all(acc >= 0.83 for acc in per_intent.values()), per_intent   # at most 2 of 12 wrong per intent


def test_dev_accuracy_per_intent(nlu):
    per_intent, overall = accuracy_by_intent(nlu, table_cases(DEV))
    assert overall >= 0.97 and all(acc >= 0.9 for acc in per_intent.values()), per_intent


@pytest.mark.parametrize("text", ["what's the weather like tomorrow", "my dog is sick", "purple elephant",
                                  "what is the capital of France", "hello"])
def test_out_of_domain_is_no_match(nlu, text):
    assert nlu.classify(text).intent is None


@pytest.mark.parametrize("text,intent", [("agent", "speak_to_agent"), ("operator please", "speak_to_agent"),
                                         ("zero", "speak_to_agent"), ("balance", "check_balance"),
                                         ("uh representative", "speak_to_agent"), ("repeat", "repeat"),
                                         ("bye", "goodbye")])
def test_one_word_commands(nlu, text, intent):
    result = nlu.classify(text)
    assert result.intent == intent and result.confidence == 1.0


def test_yes_no_only_in_confirm_state(nlu):
    assert nlu.classify("yes please", "confirm").intent == "yes"
    assert nlu.classify("no that is all", "confirm").intent == "no"
    assert nlu.classify("yes please").intent not in ("yes", "no")
    assert nlu.classify("check my balance", "confirm").intent == "check_balance"   # intents still work


def test_slots_come_with_the_intent(nlu):
    r = nlu.classify("um move two hundred dollars from savings to checking")
    assert r.intent == "transfer_funds"
    assert r.slots == {"amount": "200.00", "account": "savings", "from_account": "savings", "to_account": "checking"}
    assert nlu.classify("my account number is five zero zero one five five five five").slots["digits"] == "50015555"


def test_cli_contract():
    r = run_ivr("nlu", "I lost my card", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"intent", "confidence", "slots"} and out["intent"] == "report_lost_card"
    r = run_ivr("nlu", "yeah that's right", "--state", "confirm", "--json")
    assert json.loads(r.stdout)["intent"] == "yes"
    r = run_ivr("nlu", "  ")
    assert r.returncode != 0 and r.stderr.count("\n") == 1
