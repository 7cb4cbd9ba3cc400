"""Card and account numbers given to the IVR in a live SIP call are never written: not in a turn's text or slots,
not in the keys stored as events."""
import re
import shutil

import pytest

from .sip_peers import ivr_call

pytestmark = pytest.mark.skipif(shutil.which("sipp") is None, reason="sip-tester is not installed")


def stored(server, before):
    call = server.calls()[before]
    return call, server.turns(call.id), server.events(call.id)


def test_an_account_number_keyed_at_the_lookup_is_stored_masked(server):
    before = len(server.calls())
    ivr_call(server, "--ani", "+15559999", "--wait", "3", "--dtmf", "50015555", "--wait", "4", "--no-transcribe")
    call, turns, events = stored(server, before)
    keys = [e.detail["key"] for e in events if e.kind == "dtmf"]
    assert keys == ["[DIGIT]"] * 8, keys
    entry = [t for t in turns if t.speaker == "caller" and t.state == "ask_account"]
    assert entry and all("50015555" not in t.text and "50015555" not in str(t.slots) for t in entry), entry
    assert any(t.state == "ask_pin" for t in turns if t.speaker == "ivr")      # the lookup itself still worked


def test_a_card_number_said_to_the_ivr_is_redacted_before_it_is_stored(server):
    before = len(server.calls())
    ivr_call(server, "--ani", "+15550100", "--dtmf", "2468#",
             "--say", "my card number is 4111 1111 1111 1111", "--wait", "3", "--no-transcribe")
    call, turns, events = stored(server, before)
    said = [t for t in turns if t.speaker == "caller" and t.text != "[PIN]"]
    assert said, [(t.speaker, t.text) for t in turns]
    text = " ".join(t.text + " " + str(t.slots) for t in said)
    assert "[PAN]" in text or "[ACCOUNT]" in text, text
    assert not re.search(r"\d{6,}", text.replace(" ", "")), text


def test_a_number_redacted_from_the_words_is_not_kept_in_the_slots_understood_from_them(tmp_path):
    """The soak's secrets scan found this: "the security code is 739" was stored as [CVV], but the amount the NLU
    took from the same words kept 739."""
    from sqlalchemy import select

    from ivr.call_log import CallLog
    from models import Turn

    from .conftest import demo_app

    app = demo_app(tmp_path)
    log = CallLog(app.sessions, "+15550100", channel="chat")
    said = "my card number is 4111 1111 1111 1111, the security code is 739"
    log.turn("caller", said, "main_menu", "make_transfer", 0.8,
             slots={"amount": "739.00", "digits": "4111111111111111", "account": "checking"})
    log.turn("caller", "transfer 250 dollars", "main_menu", "make_transfer", 0.9, slots={"amount": "250.00"})
    log.close()
    with app.sessions() as s:
        first, second = s.scalars(select(Turn).order_by(Turn.seq)).all()
    assert first.text == "my card number is [PAN], the security code is [CVV]"
    assert first.slots == {"amount": "[REDACTED]", "digits": "[PAN]", "account": "checking"}
    assert second.slots == {"amount": "250.00"}                  # an amount said as an amount stays
