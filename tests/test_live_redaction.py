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
