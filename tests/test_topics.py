"""Topics: key phrases, complaint detection by paraphrase, and topic ranking across periods (real MiniLM)."""
from __future__ import annotations

import random
import time

import pytest

from analytics.timeline import CallTimeline, Segment
from analytics.topics import (
    call_topics,
    detect_complaint,
    key_phrases,
    lexicon,
    rank_topics,
)


@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    from embedding import Embedder

    return Embedder.load(tmp_path_factory.mktemp("topic-models"))   # first load exports ONNX (~30 s)


def timeline(*turns: tuple[str, str, float | None], intents: dict[int, str] | None = None,
             language: str = "en") -> CallTimeline:
    """A call from (speaker, text, sentiment) turns; `intents` maps a turn index to its live intent."""
    segs = [Segment(i, speaker, text, 4.0 * i, 4.0 * i + 3, sentiment=sentiment,
                    intent=(intents or {}).get(i)) for i, (speaker, text, sentiment) in enumerate(turns)]
    return CallTimeline(call_id=1, channel="import", outcome=None, duration_s=4.0 * len(turns), segments=segs,
                        language=language)


def test_key_phrases_of_a_customer_turn():
    text = ("Hi, um, I'm calling because my card got declined at the petrol station, the card ending [PAN], "
            "and uh I had to pay cash")
    phrases = key_phrases(text)
    assert "card declined" in phrases
    assert "petrol station" in phrases
    assert all(p == p.lower() for p in phrases)
    assert not any("pan" in p or "[" in p or p.split()[0] in ("um", "uh", "hi") for p in phrases)
    assert len(phrases) == len(set(phrases)) <= 5


def test_key_phrases_drop_fillers_redactions_and_contained_words():
    assert key_phrases("um uh [PAN] [PIN] yeah okay thank you") == []
    assert key_phrases("uh yeah I want to check my balance please") == ["check my balance"]


def test_chinese_key_phrases_use_snownlp():
    phrases = key_phrases("嗯，我的信用卡在超市被拒了，而且还扣了我手续费，太过分了", "zh")
    assert "信用卡" in phrases and "手续费" in phrases
    assert "嗯" not in phrases


@pytest.mark.parametrize("text, sentiment, subject", [
    ("I have called four times about this and still nobody has sorted it out", -2.0, "waiting time"),
    ("your mobile banking application freezes every time I log in", -1.0, "mobile app"),
    ("my card got rejected at the shop again and it's so embarrassing", -2.5, "card declined"),
    ("the lady at the branch was so rude to me", -3.0, "staff attitude"),
    ("my transfer to my landlord never showed up and it's been ten days", -2.0, "transfers"),
])
def test_complaint_by_paraphrase_has_its_subject(embedder, text, sentiment, subject):
    lex = lexicon("en")
    assert not lex.has_complaint_word(text) and text not in lex.cues   # only a paraphrase can find it
    call = timeline(("agent", "Thanks for calling, how can I help?", 1.0), ("caller", text, sentiment))
    assert detect_complaint(call, embedder) == (True, subject)


def test_complaint_by_word_and_subject_from_the_complaint_turn(embedder):
    call = timeline(("caller", "Hi, I'd like to check my balance please.", 1.0),
                    ("caller", "Also you took thirty dollars of overdraft fees, this is outrageous!", -4.0))
    assert detect_complaint(call, embedder) == (True, "fees and charges")


@pytest.mark.parametrize("turns", [
    [("caller", "Hi, I'd like to check my balance please", 1.0), ("caller", "thank you, that's all", 2.0)],
    [("caller", "um I'm not sure", -0.5), ("caller", "I'm not sure which account, maybe savings", -1.0)],
    [("caller", "I lost my card, can you block it?", -1.5)],
    [("agent", "This is unacceptable, I know, and I'm sorry", -2.0), ("caller", "okay thanks", 1.0)],
])
def test_not_a_complaint(embedder, turns):
    assert detect_complaint(timeline(*turns), embedder) == (False, None)


def test_call_topics(embedder):
    call = timeline(("ivr", "Welcome. How can I help?", None),
                    ("caller", "um check my balance", 0.5),
                    ("caller", "yes", 0.0),
                    ("caller", "my card ending [PAN] got declined at the supermarket, this is ridiculous", -3.0),
                    ("caller", "what's my balance", 0.0),
                    intents={1: "check_balance", 2: "yes", 4: "check_balance"})
    topics = call_topics(call, embedder)
    assert topics["intents"] == ["check_balance"]
    assert topics["complaint"] == {"flag": True, "subject": "card declined"}
    assert "supermarket" in topics["phrases"]
    assert not any("pan" in p or "um" in p.split() for p in topics["phrases"])


def _call(phrases=(), intents=(), subject=None) -> dict:
    return {"intents": list(intents), "phrases": list(phrases),
            "complaint": {"flag": subject is not None, "subject": subject}}


CURRENT = [
    _call(["card declined", "petrol station"], ["report_lost_card"], "card declined"),
    _call(["my card was declined", "supermarket"], [], "card declined"),
    _call(["declined card", "card declined"], ["check_balance"]),     # two paraphrases: still one call
    _call(["mobile app"], ["check_balance"], "mobile app"),
]
PREVIOUS = [
    _call(["card got declined"], ["check_balance"], "card declined"),
    _call(["card declined"], ["check_balance"]),
    _call(["opening hours"], ["branch_hours"]),
]


def test_rank_topics_clusters_paraphrases_and_computes_change(embedder):
    ranks = rank_topics(CURRENT, PREVIOUS, embedder)
    by = {(r.kind, r.topic): r for r in ranks}
    card = by[("phrase", "card declined")]
    assert (card.count, card.previous, card.change) == (3, 2, 0.5)
    assert set(card.members) == {"card declined", "my card was declined", "declined card", "card got declined"}
    assert [r for r in ranks if r.kind == "phrase" and "declined" in r.topic] == [card]

    assert (by[("complaint", "card declined")].count, by[("complaint", "card declined")].previous) == (2, 1)
    assert by[("complaint", "card declined")].change == 1.0
    assert by[("complaint", "mobile app")].change is None                  # new this period
    balance = by[("intent", "check_balance")]
    assert (balance.count, balance.previous, balance.change) == (2, 2, 0.0)
    gone = by[("phrase", "opening hours")]
    assert (gone.count, gone.previous, gone.change) == (0, 1, -1.0)
    assert ranks[0] is card                                                 # count desc first
    keys = [(-r.count, -(r.change if r.change is not None else float("inf")), r.topic) for r in ranks]
    assert keys == sorted(keys)


def test_rank_topics_is_deterministic(embedder):
    first = rank_topics(CURRENT, PREVIOUS, embedder)
    shuffled_current, shuffled_previous = CURRENT[:], PREVIOUS[:]
    random.Random(7).shuffle(shuffled_current)
    random.Random(8).shuffle(shuffled_previous)
    assert rank_topics(shuffled_current, shuffled_previous, embedder) == first
    assert rank_topics(CURRENT, PREVIOUS, embedder) == first
    assert rank_topics([], [], embedder) == []


def test_paraphrased_calls_rank_as_one_topic_end_to_end(embedder):
    texts = ["um my card was declined at the shop", "hello, card declined again, I had to pay cash",
             "I tried to pay and it said declined card"]
    calls = [call_topics(timeline(("caller", t, -1.0)), embedder) for t in texts]
    top = rank_topics(calls, [], embedder)[0]
    assert (top.kind, top.count, top.previous, top.change) == ("phrase", 3, 0, None)
    assert "declined" in top.topic


def test_throughput(embedder):
    """The text pipeline keeps up with >= 100 calls a minute on 2 cores."""
    call = timeline(("ivr", "Welcome. How can I help?", None),
                    ("caller", "Hi, I'd like to check my balance please.", 1.0),
                    ("agent", "Sure, one moment.", 1.0),
                    ("caller", "Also, you charged me a fee twice this month and nobody explained why.", -3.0),
                    ("caller", "And the app keeps logging me out, it's really annoying.", -2.0),
                    intents={1: "check_balance"})
    call_topics(call, embedder)   # warm: cue and subject vectors
    start = time.perf_counter()
    calls = [call_topics(call, embedder) for _ in range(30)]
    rank_topics(calls, calls[:10], embedder)
    assert time.perf_counter() - start < 18.0
