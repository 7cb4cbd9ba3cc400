"""Scorecards: YAML questions answered from constructed call timelines with the real sentence embedder."""
from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
import yaml

from analytics.scorecard import load_scorecard, score, scorecard_for
from analytics.timeline import CallTimeline, Event, Segment
from config import CONFIG_DIR, IvrError, load_yaml

PROMPTS = load_yaml(CONFIG_DIR / "prompts" / "en.yaml", "prompts")


@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    from embedding import Embedder

    return Embedder.load(tmp_path_factory.mktemp("models"))


@dataclass
class Redaction:
    kind: str
    speaker: str
    start: float | None
    end: float | None


def seg(seq, speaker, text, start, end, state=None, intent=None) -> Segment:
    return Segment(seq=seq, speaker=speaker, text=text, start=start, end=end, state=state, intent=intent)


def timeline(segments=(), events=(), channel="sip", duration=None) -> CallTimeline:
    segments, events = list(segments), list(events)
    duration = duration if duration is not None else max([s.end for s in segments] + [0.0]) + 1
    return CallTimeline(call_id=1, channel=channel, outcome="completed", duration_s=duration,
                        segments=segments, events=events)


def card_of(tmp_path, questions: list[dict], name="test_card"):
    """A scorecard file with one section per question (weight 1 unless given)."""
    sections = [{"name": f"S{i}", "questions": [{"id": f"q{i}", "question": f"Question {i}?", "weight": 1, **q}]}
                for i, q in enumerate(questions)]
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "channels": ["sip"], "sections": sections}))
    return load_scorecard(str(path))


def run(card, tl, embedder, metrics=None, sentiment=None, redactions=(), complaint=(False, None)):
    return score(card, tl, metrics or {}, sentiment or {}, list(redactions), complaint, embedder)


def answers(result) -> dict[str, str]:
    return {i.id: i.answer for i in result.items}


def ask(tmp_path, embedder, rule: dict, tl, **stages) -> tuple[str, list[tuple[int, float]]]:
    """The answer and evidence of a one-question card."""
    item = run(card_of(tmp_path, [{"rule": rule}]), tl, embedder, **stages).items[0]
    return item.answer, [(e.seq, e.start_s) for e in item.evidence]


# -- said / not_said --------------------------------------------------------------------------------------------
THANKS = {"type": "said", "speaker": "agent", "phrases": ["thank you for calling"]}


def test_said_matches_a_paraphrase_with_few_shared_words(tmp_path, embedder):
    tl = timeline([seg(1, "caller", "hi", 0, 1),
                   seg(2, "agent", "Hello, thanks for ringing First Bank, Sam speaking.", 1, 4)])
    assert ask(tmp_path, embedder, THANKS, tl) == ("yes", [(2, 1.0)])


@pytest.mark.parametrize("text", ["The weather is lovely today, I walked the dog.",
                                  "Your card has been blocked and a new one is on its way.",
                                  "Okay, one moment while I check the account."])
def test_said_rejects_an_unrelated_sentence(tmp_path, embedder, text):
    tl = timeline([seg(1, "agent", text, 0, 4)])
    assert ask(tmp_path, embedder, THANKS, tl) == ("no", [])


def test_said_exact_ignores_case_and_punctuation_and_is_na_without_the_speaker(tmp_path, embedder):
    rule = {"type": "said", "speaker": "ivr", "phrases": ["Is there anything else I can help you with?"]}
    tl = timeline([seg(1, "ivr", "Sorry, IS THERE anything-else I can help you with... please say yes or no", 2, 6)])
    assert ask(tmp_path, embedder, rule, tl) == ("yes", [(1, 2.0)])
    assert ask(tmp_path, embedder, rule, timeline([seg(1, "caller", "is there anything else", 0, 2)]))[0] == "na"


def test_said_within_first_and_last_seconds(tmp_path, embedder):
    tl = timeline([seg(1, "agent", "Good morning.", 0, 1), seg(2, "agent", "Thank you for calling.", 50, 52),
                   seg(3, "agent", "Anything more?", 90, 92)], duration=100)
    assert ask(tmp_path, embedder, {**THANKS, "within": {"first_s": 30}}, tl) == ("no", [])
    assert ask(tmp_path, embedder, {**THANKS, "within": {"last_s": 60}}, tl) == ("yes", [(2, 50.0)])
    assert ask(tmp_path, embedder, {**THANKS, "within": {"last_s": 20}}, tl) == ("no", [])


def test_said_threshold_from_the_rule(tmp_path, embedder):
    tl = timeline([seg(1, "agent", "Hello, thanks for ringing First Bank, Sam speaking.", 0, 4)])
    assert ask(tmp_path, embedder, {**THANKS, "threshold": 0.9}, tl)[0] == "no"


def test_not_said(tmp_path, embedder):
    rude = {"type": "not_said", "speaker": "agent", "phrases": ["that's not my problem"], "threshold": 0.85}
    polite = timeline([seg(1, "agent", "That's not a problem at all, let me sort it.", 0, 3)])
    rude_call = timeline([seg(1, "agent", "Hello.", 0, 1),
                          seg(2, "agent", "Look, that is not my problem, okay?", 4, 6)])
    assert ask(tmp_path, embedder, rude, polite) == ("yes", [])
    assert ask(tmp_path, embedder, rude, rude_call) == ("no", [(2, 4.0)])
    assert ask(tmp_path, embedder, rude, timeline([seg(1, "ivr", "not my problem", 0, 1)]))[0] == "na"


# -- order, occurs, any -------------------------------------------------------------------------------------
AUTH_FIRST = {"type": "order", "first": {"event": "auth_success"},
              "before": [{"state": ["balance"], "speaker": "ivr"}, {"pattern": r"\bcard ending\b", "speaker": "ivr"}]}


def test_order_yes_no_na(tmp_path, embedder):
    auth = Event(seq=2, kind="auth_success", at=5.0)
    balance = seg(3, "ivr", "The balance of your checking account is ten dollars.", 6, 9, state="balance")
    card = seg(3, "ivr", "Your debit card ending 1 2 3 4 is now blocked.", 6, 9, state="lost_card_block")
    menu = seg(1, "ivr", "How can I help you today?", 0, 4, state="main_menu")
    assert ask(tmp_path, embedder, AUTH_FIRST, timeline([menu, balance], [auth])) == ("yes", [(2, 5.0)])
    assert ask(tmp_path, embedder, AUTH_FIRST, timeline([menu, card], [auth]))[0] == "yes"
    early = Event(seq=4, kind="auth_success", at=10.0)
    assert ask(tmp_path, embedder, AUTH_FIRST, timeline([menu, card], [early])) == ("no", [(3, 6.0)])
    assert ask(tmp_path, embedder, AUTH_FIRST, timeline([menu, balance])) == ("no", [(3, 6.0)])   # never verified
    assert ask(tmp_path, embedder, AUTH_FIRST, timeline([menu], [auth])) == ("na", [])           # no data spoken


def test_order_with_said_matcher_and_event_without_time(tmp_path, embedder):
    rule = {"type": "order",
            "first": {"said": {"speaker": "agent", "phrases": ["can you confirm your date of birth"]}},
            "before": {"pattern": r"\bbalance is\b", "speaker": "agent"}}
    verified = timeline([seg(1, "agent", "What's your date of birth, please?", 0, 3),
                         seg(2, "agent", "Thanks. Your balance is forty dollars.", 8, 11)])
    assert ask(tmp_path, embedder, rule, verified) == ("yes", [(1, 0.0)])
    leaked = timeline([seg(1, "agent", "Your balance is forty dollars.", 0, 3),
                       seg(2, "agent", "Oh, can you confirm your date of birth?", 8, 11)])
    assert ask(tmp_path, embedder, rule, leaked) == ("no", [(1, 0.0)])
    chat = timeline([seg(1, "ivr", "Welcome.", 0, 1), seg(3, "ivr", "Your card ending 1 2 3 4.", 2, 3)],
                    [Event(seq=2, kind="auth_success", at=None)], channel="chat")
    assert ask(tmp_path, embedder, AUTH_FIRST, chat) == ("yes", [(2, 1.0)])   # placed after what came before it


def test_occurs_and_any(tmp_path, embedder):
    served = {"type": "any", "rules": [{"type": "metric", "name": "self_service_completed", "op": "==", "value": 1},
                                       {"type": "occurs", "match": {"event": "transfer_accepted"}}]}
    transferred = timeline([seg(1, "ivr", "Please hold.", 0, 2)], [Event(seq=2, kind="transfer_accepted", at=3.0)])
    assert ask(tmp_path, embedder, served, transferred, metrics={"self_service_completed": 0}) == ("yes", [(2, 3.0)])
    assert ask(tmp_path, embedder, served, timeline(), metrics={"self_service_completed": 1}) == ("yes", [])
    assert ask(tmp_path, embedder, served, timeline(), metrics={"self_service_completed": 0})[0] == "no"
    only_metric = {"type": "any", "rules": [served["rules"][0], {"type": "metric", "name": "contained", "op": "==",
                                                                 "value": 1}]}
    assert ask(tmp_path, embedder, only_metric, timeline(), metrics={})[0] == "na"


# -- metric, sentiment_end, no_redaction ----------------------------------------------------------------------
def test_metric_ops_and_missing_values(tmp_path, embedder):
    tl = timeline()
    dead = {"type": "metric", "name": "dead_air_share", "op": "<=", "value": 0.1}
    assert ask(tmp_path, embedder, dead, tl, metrics={"dead_air_share": 0.1})[0] == "yes"
    assert ask(tmp_path, embedder, dead, tl, metrics={"dead_air_share": 0.25})[0] == "no"
    assert ask(tmp_path, embedder, dead, tl, metrics={"dead_air_share": None})[0] == "na"
    assert ask(tmp_path, embedder, dead, tl, metrics={})[0] == "na"
    auth = {"type": "metric", "name": "auth", "op": "in", "value": ["success", "none"]}
    assert ask(tmp_path, embedder, auth, tl, metrics={"auth": "none"})[0] == "yes"
    assert ask(tmp_path, embedder, auth, tl, metrics={"auth": "lockout"})[0] == "no"
    ne = {"type": "metric", "name": "auth", "op": "!=", "value": "lockout"}
    assert ask(tmp_path, embedder, ne, tl, metrics={"auth": "failure"})[0] == "yes"
    tasks = {"type": "metric", "name": "tasks", "op": "in", "value": ["check_balance"]}
    assert ask(tmp_path, embedder, tasks, tl, metrics={"tasks": ["branch_hours", "check_balance"]})[0] == "yes"


def test_sentiment_end(tmp_path, embedder):
    rule = {"type": "sentiment_end", "speaker": "caller", "min": 0}
    tl = timeline([seg(1, "caller", "this is awful", 5, 8), seg(2, "caller", "great, thanks", 33, 36)], duration=40)
    happy = {"caller": {"overall": -0.5, "quarters": [-3.0, None, None, 1.5], "change": 4.5}}
    sad = {"caller": {"overall": 0.5, "quarters": [2.0, 1.0, -1.0, None], "change": -3.0}}
    assert ask(tmp_path, embedder, rule, tl, sentiment=happy) == ("yes", [(2, 33.0)])
    assert ask(tmp_path, embedder, rule, tl, sentiment=sad) == ("no", [])   # third quarter: nothing said in it
    assert ask(tmp_path, embedder, rule, tl, sentiment={"agent": happy["caller"]})[0] == "na"


def test_no_redaction(tmp_path, embedder):
    rule = {"type": "no_redaction", "speaker": "agent", "kinds": ["PAN"]}
    tl = timeline([seg(1, "agent", "Hello.", 0, 2), seg(2, "agent", "Your card number is [PAN].", 10, 15)])
    assert ask(tmp_path, embedder, rule, tl, redactions=[Redaction("PAN", "caller", 3, 6)]) == ("yes", [])
    assert ask(tmp_path, embedder, rule, tl, redactions=[Redaction("CVV", "agent", 12, 13)]) == ("yes", [])
    assert ask(tmp_path, embedder, rule, tl, redactions=[Redaction("PAN", "agent", 12.5, 14)]) == ("no", [(2, 12.5)])
    assert ask(tmp_path, embedder, rule, tl, redactions=[Redaction("PAN", "agent", None, None)]) == ("no", [(2, 10.0)])
    assert ask(tmp_path, embedder, rule, timeline([seg(1, "ivr", "Hi.", 0, 1)]))[0] == "na"


# -- when, totals, auto-fail -------------------------------------------------------------------------------------
def test_when_conditions(tmp_path, embedder):
    yes = {"type": "metric", "name": "x", "op": "==", "value": 1}
    card = card_of(tmp_path, [{"when": {"complaint": True}, "rule": yes},
                              {"when": {"intent": "report_lost_card"}, "rule": yes},
                              {"when": {"speaker_present": "agent"}, "rule": yes},
                              {"when": {"event": ["auth_success"]}, "rule": yes},
                              {"when": {"complaint": False, "speaker_present": "caller"}, "rule": yes}])
    tl = timeline([seg(1, "caller", "I lost my card", 0, 2, intent="report_lost_card")],
                  [Event(seq=2, kind="auth_success", at=3)])
    assert answers(run(card, tl, embedder, metrics={"x": 1}, complaint=(True, "fees"))) == {
        "q0": "yes", "q1": "yes", "q2": "na", "q3": "yes", "q4": "na"}
    assert answers(run(card, timeline([seg(1, "agent", "hi", 0, 1)]), embedder, metrics={"x": 1})) == {
        "q0": "na", "q1": "na", "q2": "yes", "q3": "na", "q4": "na"}


def metric_q(name, weight, auto_fail=False):
    return {"weight": weight, "auto_fail": auto_fail, "rule": {"type": "metric", "name": name, "op": "==", "value": 1}}


def test_exact_total_and_to_dict(tmp_path, embedder):
    card = card_of(tmp_path, [metric_q("a", 5), metric_q("b", 3), metric_q("c", 2)])
    result = run(card, timeline(), embedder, metrics={"a": 1, "b": None, "c": 0})
    assert (result.total, result.auto_failed) == (71.4, False)
    d = result.to_dict()
    assert (d["scorecard"], d["total"], d["auto_failed"]) == ("test_card", 71.4, False)
    assert [(i["id"], i["answer"], i["earned"], i["possible"]) for i in d["items"]] == [
        ("q0", "yes", 5, 5), ("q1", "na", 0, 0), ("q2", "no", 0, 2)]
    assert set(d["items"][0]) >= {"id", "question", "answer", "earned", "possible", "evidence"}
    assert run(card, timeline(), embedder, metrics={}).total is None


def test_auto_fail_zeroes_the_total(tmp_path, embedder):
    card = card_of(tmp_path, [metric_q("a", 5), metric_q("b", 3, auto_fail=True)])
    failed = run(card, timeline(), embedder, metrics={"a": 1, "b": 0})
    assert (failed.total, failed.auto_failed) == (0.0, True)
    assert run(card, timeline(), embedder, metrics={"a": 1, "b": None}).total == 100.0   # n/a does not fail


# -- loading ----------------------------------------------------------------------------------------------------
def test_broken_yaml_names_the_file_and_question(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("sections: [{name: A, questions: [{id: q1, question: Q, weight: 1\n")
    with pytest.raises(IvrError, match="bad.yaml: not valid YAML"):
        load_scorecard(str(bad))
    bad.write_text(yaml.safe_dump({"sections": [{"name": "A", "questions": [
        {"id": "greets", "question": "Q?", "weight": 1,
         "rule": {"type": "said", "speaker": "robot", "phrases": ["x"]}}]}]}))
    with pytest.raises(IvrError, match=r"bad.yaml: question 'greets': rule.said.speaker"):
        load_scorecard(str(bad))
    bad.write_text(yaml.safe_dump({"sections": [{"name": "A", "questions": [
        {"id": "m", "question": "Q?", "weight": 1, "rule": {"type": "metric", "name": "x", "op": "~", "value": 1}}]}]}))
    with pytest.raises(IvrError, match=r"bad.yaml: question 'm': rule.metric.op"):
        load_scorecard(str(bad))
    with pytest.raises(IvrError, match="no_such_card.yaml"):
        load_scorecard("no_such_card")


def test_scorecard_for_channel():
    assert scorecard_for("import") == "banking_agent"
    assert scorecard_for("sip") == scorecard_for("chat") == "banking_ivr"
    assert load_scorecard("banking_agent").channels == ["import"]


# -- the shipped scorecards on realistic calls -----------------------------------------------------------------
IVR_METRICS = {"duration_s": 45.0, "no_input": 0, "no_match": 1, "latency_p95_ms": 820.0, "contained": 1,
               "zero_out": 0, "self_service_completed": 1, "dead_air_share": 0.04, "auth": "success",
               "intents": ["check_balance"], "tasks": ["check_balance"]}
CALLER_HAPPY = {"caller": {"overall": 0.8, "quarters": [0.0, 0.0, 0.5, 1.9], "change": 1.9}}


def ivr_call(auth_at: float = 12.5) -> CallTimeline:
    """A SIP call: greeting, PIN, balance, anything else, goodbye (prompt texts from config/prompts/en.yaml)."""
    return timeline([
        seg(1, "ivr", PROMPTS["welcome"], 0.0, 5.0, state="welcome"),
        seg(2, "ivr", PROMPTS["ask_pin"], 5.2, 9.0, state="ask_pin"),
        seg(3, "caller", "[PIN]", 10.0, 12.0, state="ask_pin"),
        seg(5, "ivr", PROMPTS["main_menu"], 13.0, 20.0, state="main_menu"),
        seg(6, "caller", "um check my balance please", 21.0, 23.0, state="main_menu", intent="check_balance"),
        seg(7, "ivr", "The balance of your checking account ending 4 3 2 1 is two hundred dollars.", 23.8, 29.0,
            state="balance"),
        seg(9, "ivr", PROMPTS["anything_else"], 29.5, 32.0, state="anything_else"),
        seg(10, "caller", "no that's great thanks", 33.0, 35.0, state="anything_else", intent="no"),
        seg(11, "ivr", PROMPTS["goodbye"], 35.5, 39.0, state="goodbye"),
    ], [Event(seq=4, kind="auth_success", at=auth_at, state="ask_pin"),
        Event(seq=8, kind="task_done", at=29.0, state="balance", detail={"task": "check_balance"})], duration=45.0)


def test_ivr_scorecard_on_a_good_call(embedder):
    card = load_scorecard("banking_ivr")
    result = score(card, ivr_call(), IVR_METRICS, CALLER_HAPPY, [], (False, None), embedder)
    assert answers(result) == {"greeting": "yes", "verified_before_data": "yes", "few_no_input": "yes",
                               "few_no_match": "yes", "fast_replies": "yes", "served": "yes",
                               "no_pan_read_back": "yes", "closing": "yes", "caller_sentiment_end": "yes",
                               "little_dead_air": "yes"}
    assert (result.total, result.auto_failed) == (100.0, False)
    by_id = {i.id: i for i in result.items}
    assert [(e.seq, e.start_s) for e in by_id["verified_before_data"].evidence] == [(4, 12.5)]
    assert {e.seq for e in by_id["closing"].evidence} == {9, 11}


def test_ivr_scorecard_auto_fails_data_before_authentication(embedder):
    card = load_scorecard("banking_ivr")
    metrics = {**IVR_METRICS, "latency_p95_ms": 2400.0, "dead_air_share": 0.3}
    result = score(card, ivr_call(auth_at=30.5), metrics, CALLER_HAPPY, [], (False, None), embedder)
    item = next(i for i in result.items if i.id == "verified_before_data")
    assert (item.answer, [e.seq for e in item.evidence]) == ("no", [7])
    assert answers(result)["fast_replies"] == answers(result)["little_dead_air"] == "no"
    assert (result.total, result.auto_failed) == (0.0, True)


def test_ivr_scorecard_on_a_lockout_transferred_chat(embedder):
    tl = timeline([seg(1, "ivr", PROMPTS["welcome"], 0, 1), seg(2, "ivr", PROMPTS["ask_pin"], 1, 2),
                   seg(3, "caller", "[PIN]", 2, 3), seg(5, "ivr", PROMPTS["pin_locked"], 3, 4),
                   seg(6, "ivr", PROMPTS["transfer_to_agent"], 4, 5)],
                  [Event(seq=4, kind="lockout", at=None), Event(seq=7, kind="transfer_accepted", at=None)],
                  channel="chat", duration=5)
    metrics = {**IVR_METRICS, "latency_p95_ms": None, "self_service_completed": 0, "contained": 0,
               "auth": "lockout", "dead_air_share": 0.0}
    result = score(load_scorecard("banking_ivr"), tl, metrics, {}, [], (False, None), embedder)
    a = answers(result)
    assert (a["verified_before_data"], a["fast_replies"], a["caller_sentiment_end"]) == ("na", "na", "na")
    assert (a["served"], a["closing"], a["greeting"]) == ("yes", "yes", "yes")
    assert result.total == 100.0


def agent_call(leak: bool = False) -> CallTimeline:
    lines = [
        ("agent", "Good morning, thank you for calling Demo Bank, my name is Priya. How can I help you today?"),
        ("caller", "Hi. I've been charged twice for the same shopping and nobody has sorted it out, it's really "
                   "annoying."),
        ("agent", "Oh no, I'm really sorry about that, that must be very frustrating."),
        ("agent", "Before we look into it, can you confirm your full name and date of birth for me please?"),
        ("caller", "Sure, Jane Smith, fourth of May nineteen eighty."),
        ("agent", "Thank you, you're verified. I can see both payments on the debit card ending 7 7 1 2."),
        ("caller", "Yes, that's the one, twice at the supermarket."),
        ("agent", "I've refunded the duplicate payment, it will be back in your account in two to three days."),
        ("caller", "Oh brilliant, thank you."),
        ("agent", "Is there anything else I can help you with today?"),
        ("caller", "No, that's everything, thanks so much, you've been great."),
        ("agent", "You're welcome. Thanks for calling Demo Bank, have a lovely day."),
    ]
    if leak:
        lines[3] = ("agent", "Right, your card number is [PAN] and your balance is four hundred dollars. Calm down.")
        lines[5] = ("agent", "Now, for security, can you confirm your date of birth? Whatever, shut up, that's not "
                             "my problem.")
    return timeline([seg(i + 1, who, text, i * 8.0, i * 8.0 + 6.0) for i, (who, text) in enumerate(lines)],
                    channel="import")


AGENT_SENTIMENT = {"caller": {"overall": 0.6, "quarters": [-2.4, 0.0, 1.2, 2.8], "change": 5.2},
                   "agent": {"overall": 1.0, "quarters": [1.0, 1.0, 1.0, 1.0], "change": 0.0}}


def test_agent_scorecard_on_a_good_complaint_call(embedder):
    card = load_scorecard(scorecard_for("import"))
    result = score(card, agent_call(), {"duration_s": 95.0}, AGENT_SENTIMENT, [], (True, "duplicate payment"), embedder)
    assert answers(result) == {"agent_greeting": "yes", "agent_named_bank": "yes", "agent_named_self": "yes",
                               "verified_before_data": "yes", "no_pan_read_back": "yes", "empathy": "yes",
                               "anything_else": "yes", "thanks_for_calling": "yes", "professional": "yes",
                               "caller_sentiment_end": "yes"}
    assert (result.total, result.auto_failed) == (100.0, False)
    by_id = {i.id: i for i in result.items}
    assert [e.seq for e in by_id["verified_before_data"].evidence] == [4]
    assert [e.seq for e in by_id["empathy"].evidence] == [3]


def test_agent_scorecard_on_a_bad_call(embedder):
    card = load_scorecard("banking_agent")
    redactions = [Redaction("PAN", "agent", 25.0, 27.0)]
    sentiment = {"caller": {"overall": -2.0, "quarters": [-1.0, -2.0, -2.5, -3.0], "change": -2.0}}
    result = score(card, agent_call(leak=True), {}, sentiment, redactions, (False, None), embedder)
    a = answers(result)
    assert (a["verified_before_data"], a["no_pan_read_back"], a["professional"]) == ("no", "no", "no")
    assert (a["empathy"], a["caller_sentiment_end"], a["agent_greeting"]) == ("na", "no", "yes")
    by_id = {i.id: i for i in result.items}
    assert [(e.seq, e.start_s) for e in by_id["no_pan_read_back"].evidence] == [(4, 25.0)]
    assert {e.seq for e in by_id["professional"].evidence} == {4, 6}
    assert (result.total, result.auto_failed) == (0.0, True)


def test_scoring_a_long_call_is_fast(embedder):
    """A 10-minute agent call, nothing cached: few batched embedding calls keep it well under a second."""
    card = load_scorecard("banking_agent")
    filler = ["Let me just pull up the details on the account and have a look at what happened with that payment.",
              "Okay, I can see the transaction from Tuesday, it was taken twice by the merchant, I'll raise a dispute.",
              "So what happens next is the merchant has ten working days to respond, and we'll write to you."]
    segments = [seg(i, "agent" if i % 2 else "caller", filler[i % 3], i * 10.0, i * 10.0 + 8) for i in range(60)]
    card.vectors.clear()
    began = time.perf_counter()
    score(card, timeline(segments, channel="import"), {}, AGENT_SENTIMENT, [], (True, "fees"), embedder)
    assert time.perf_counter() - began < 1.5
