"""The session interface the transports use: understand() / CallerSaid(understanding=...), Say.state, Listen
key timing, keys in digit entry, and what the session records (caller turns with slots, call events)."""
import dataclasses

import pytest
from sqlalchemy import select, update

from ivr.call_log import CallLog
from ivr.flow import load_flow
from ivr.session import CallerHungUp, CallerKeyed, CallerSaid, Listen, NoInput, Say
from ivr.understanding import Understanding
from models import Call, CallEvent, Customer, Turn
from models.pins import hash_pin

from .test_dialog import ALEX, PRIYA, app, chat, db  # noqa: F401 - fixtures


def session_at_menu(app, ani=ALEX, call_log=None):
    s = app.new_session(ani, call_log)
    s.start()
    s.handle(CallerKeyed("1357#" if ani == PRIYA else "2468#"))
    assert s.ctx.state == "main_menu"
    return s


def test_understand_is_side_effect_free_and_says_if_the_answer_is_whole(app):
    s = session_at_menu(app)
    u = s.understand("move two hundred dollars from savings to checking", 0.9)
    assert isinstance(u, Understanding) and dataclasses.is_dataclass(u)
    with pytest.raises(dataclasses.FrozenInstanceError):
        u.value = "x"
    assert (u.text, u.confidence, u.state, u.value, u.is_global, u.complete) == (
        "move two hundred dollars from savings to checking", 0.9, "main_menu", "transfer_funds", False, True)
    assert u.nlu.intent == "transfer_funds" and u.slots["amount"] == "200.00"
    assert s.understand("agent").is_global and not s.understand("I want to").complete
    assert s.understand("check my balance").complete and s.ctx.state == "main_menu" and s.ctx.slots == {}


def test_handle_uses_the_understanding_made_for_this_state(app):
    s = session_at_menu(app)
    u = s.understand("check my balance")
    out = s.handle(CallerSaid("check my balance", understanding=dataclasses.replace(u, value="branch_hours")))
    assert any("Monday to Friday" in a.text for a in out if isinstance(a, Say))   # used as given: not redone
    stale = dataclasses.replace(u, value="branch_hours")                    # made for main_menu, now anything_else
    out = s.handle(CallerSaid("check my balance", understanding=stale))
    assert any("balance of your checking account" in a.text for a in out if isinstance(a, Say))


def test_says_carry_their_state_and_the_question_is_marked(app):
    s = app.new_session(ALEX)
    out = s.start()
    welcome, ask, listen = out
    assert (welcome.state, welcome.interruptible, welcome.question) == ("welcome", False, False)
    assert (ask.state, ask.question) == ("ask_pin", True) and isinstance(listen, Listen)
    assert (listen.inter_digit_s, listen.complete_digit_s, listen.min_digits, listen.max_digits) == (3.0, 1.5, 4, 6)
    assert not hasattr(Say("x"), "prompt")


def test_digit_timeouts_per_state_from_the_flow(app, tmp_path):
    from config import CONFIG_DIR

    text = (CONFIG_DIR / "flows" / "banking.yaml").read_text().replace(
        "    sensitive: true\n", "    sensitive: true\n    digit_timeout_s: {between_keys: 5, after_min: 2.5}\n", 1)
    (tmp_path / "flow.yaml").write_text(text)
    app.__dict__["flow"] = load_flow(tmp_path / "flow.yaml", prompts=app.prompts)
    listen = app.new_session(ALEX).start()[-1]
    assert (listen.inter_digit_s, listen.complete_digit_s) == (5.0, 2.5)


def test_a_pin_starting_with_zero_and_star_as_an_editing_key(app):
    with app.sessions.begin() as s:
        s.execute(update(Customer).where(Customer.ani == ALEX).values(pin_hash=hash_pin("0246")))
    said, _ = chat(app, "dtmf:0246#", "check my balance", "no")
    assert any("checking account ending 4 3 2 1 is" in line for line in said)
    said, _ = chat(app, "dtmf:99*0246", "no")               # '*' inside an entry starts it over
    assert "How can I help you today?" in said[2]


@pytest.mark.parametrize("keys,outcome", [("dtmf:0", "transferred"), ("dtmf:0#", "transferred")])
def test_zero_alone_is_the_agent_in_digit_entry(app, keys, outcome):
    said, got = chat(app, keys)
    assert got == outcome and said[-1] == "Please hold while I transfer you to an agent."


def test_star_alone_repeats_and_is_recorded(app):
    said, _ = chat(app, "dtmf:*", "dtmf:2468", "check my balance", "dtmf:*", "no")
    assert said.count("To keep your account safe, please say or key in your telephone banking PIN.") == 2
    assert said.count("The balance of your checking account ending 4 3 2 1 is two thousand four hundred fifty "
                      "dollars and seventy-five cents.") == 2
    call = db(app, select(Call).order_by(Call.id.desc()))[0]
    kinds = [(e.kind, e.state) for e in db(app, select(CallEvent).where(CallEvent.call_id == call.id))]
    assert ("repeat", "ask_pin") in kinds and ("repeat", "anything_else") in kinds


def test_call_events_are_recorded_without_pin_digits(app):
    chat(app, "dtmf:1111", "purple elephants", "silence", "dtmf:2468", "agent")
    chat(app, "dtmf:1111", "dtmf:2222", "dtmf:3333", ani=PRIYA)
    chat(app, "dtmf:2468")
    events = db(app, select(CallEvent).order_by(CallEvent.id))
    kinds = {e.kind for e in events}
    assert {"auth_failure", "no_match", "no_input", "auth_success", "transfer_requested", "lockout",
            "caller_hangup"} <= kinds
    details = " ".join(str(e.detail) for e in events)
    assert not any(pin in details for pin in ("1111", "2222", "3333", "2468", "1357"))


def test_the_session_records_caller_turns_and_chat_records_what_was_said(app):
    said, _ = chat(app, "two four six eight", "transfer 40 dollars to savings", "no", "no")
    call = db(app, select(Call).order_by(Call.id.desc()))[0]
    turns = db(app, select(Turn).where(Turn.call_id == call.id).order_by(Turn.seq))
    ivr = [t for t in turns if t.speaker == "ivr"]
    assert [t.text for t in ivr] == said and ivr[0].state == "welcome" and ivr[1].state == "ask_pin"
    caller = [t for t in turns if t.speaker == "caller"]
    assert caller[0].text == "[PIN]" and caller[0].slots is None
    assert caller[1].intent == "transfer_funds" and caller[1].slots["amount"] == "40.00"
    assert not any("2468" in str(t.slots) or "two four" in t.text for t in turns)


def test_a_session_without_a_transport_records_no_ivr_turns(app):
    log = CallLog(app.sessions, ALEX, channel="chat")
    s = session_at_menu(app, call_log=log)
    s.handle(NoInput())
    s.handle(CallerHungUp())
    log.close()
    turns = db(app, select(Turn).where(Turn.call_id == log.call_id))
    assert turns and all(t.speaker == "caller" for t in turns)
