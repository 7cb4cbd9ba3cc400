"""Real calls the way callers make them: talking or keying over prompts, keying ahead, putting the call on hold,
PINs that start with 0. Each test places a real SIP call (the project's pjsua2 softphone, or SIPp) to `ivr serve`
and reads what was stored and recorded."""
import shutil

import pytest
import numpy as np
import soundfile as sf
from sqlalchemy import func, select, update

from models import Account, Card, Customer, Transaction
from models.pins import hash_pin

from .conftest import run_ivr
from .sip_peers import Server, ivr_call, sipp_call

pytestmark = pytest.mark.skipif(shutil.which("sipp") is None, reason="sip-tester is not installed")
# The demo prompts as Piper renders them: the welcome notice plays 0-4.7 s, the PIN request 4.7-9.8 s.
PIN_PROMPT = (4.7, 9.8)


def last_call(server, before):
    call = server.calls()[before]
    return call, server.turns(call.id), server.events(call.id)


def prompts(turns, state):
    return [t for t in turns if t.speaker == "ivr" and t.state == state]


@pytest.mark.parametrize("at", ["start", "middle", "tail"])
@pytest.mark.parametrize("how", ["speech", "keys"])
def test_a_barge_in_anywhere_in_a_prompt_leaves_the_next_prompt_whole(server, how, at):
    """Issue: a caller who spoke as the PIN prompt ended heard 6.5 s of silence, then "Sorry..." (the main menu
    was lost, yet stored as said)."""
    begin, end = PIN_PROMPT
    wait = {"start": begin + 0.3, "middle": (begin + end) / 2, "tail": end - 0.2}[at]
    step = ["--say", "two four six eight"] if how == "speech" else ["--dtmf", "2468#"]
    before = len(server.calls())
    ivr_call(server, "--ani", "+15550100", "--wait", str(wait), *step, "--wait", "10", "--no-transcribe")
    call, turns, events = last_call(server, before)
    pin = next(t for t in turns if t.speaker == "caller")
    assert pin.text == "[PIN]" and pin.latency_ms < 1500, (pin.latency_ms, pin.timings)
    menu = prompts(turns, "main_menu")
    assert len(menu) == 1 and not menu[0].interrupted and menu[0].end_ms - menu[0].start_ms > 7000, \
        (menu, [(t.speaker, t.state, t.text) for t in turns], [(e.kind, e.state) for e in events])
    assert menu[0].start_ms - pin.end_ms < 1500
    assert not any(e.kind == "no_input" for e in events), [e.kind for e in events]
    asked = prompts(turns, "ask_pin")
    assert all(t.end_ms <= pin.end_ms + 600 for t in asked)          # the PIN prompt stopped when answered


def test_a_key_over_the_menu_plays_the_answer_and_the_record_says_what_was_heard(server):
    """Issue: keying 1 during the main menu gave 6 s of silence and a no-input reprompt; the balance was stored as
    said but never heard."""
    before = len(server.calls())
    ivr_call(server, "--ani", "+15550100", "--dtmf", "2468#", "--wait", "4", "--dtmf", "1", "--wait", "14",
             "--no-transcribe")
    call, turns, events = last_call(server, before)
    menu, balance = prompts(turns, "main_menu"), prompts(turns, "balance")
    key = [t for t in turns if t.speaker == "caller"][1]
    assert key.text == "dtmf:1" and key.latency_ms < 1000
    assert len(menu) == 1 and menu[0].interrupted and 3000 < menu[0].end_ms - menu[0].start_ms < 5500
    assert len(balance) == 2 and not any(t.interrupted for t in balance)
    assert balance[0].start_ms - menu[0].end_ms < 1000
    assert not any(e.kind == "no_input" for e in events)
    assert [e.kind for e in events if e.kind == "barge_in"] == ["barge_in"]


def test_a_pin_keyed_during_the_welcome_skips_the_pin_request(server):
    before = len(server.calls())
    ivr_call(server, "--ani", "+15550100", "--wait", "1.5", "--dtmf", "2468#", "--wait", "12", "--no-transcribe")
    call, turns, events = last_call(server, before)
    welcome = prompts(turns, "welcome")
    assert len(welcome) == 1 and not welcome[0].interrupted          # the legal notice plays to the end
    assert prompts(turns, "ask_pin") == []                            # never played, so never stored as said
    assert len(prompts(turns, "main_menu")) == 1


def test_a_pin_starting_with_zero_can_be_keyed(server):
    with server.sessions.begin() as s:
        s.execute(update(Customer).where(Customer.ani == "+15550101").values(pin_hash=hash_pin("0246")))
    try:
        before = len(server.calls())
        ivr_call(server, "--ani", "+15550101", "--dtmf", "0246#", "--wait", "3", "--no-transcribe")
        call, turns, events = last_call(server, before)
        assert [t.text for t in turns if t.speaker == "caller"] == ["[PIN]"]
        assert prompts(turns, "main_menu") and not any(e.kind.startswith("transfer") for e in events)
        assert not any(e.kind == "auth_failure" for e in events)
    finally:
        with server.sessions.begin() as s:
            s.execute(update(Customer).where(Customer.ani == "+15550101").values(pin_hash=hash_pin("1357")))


def test_media_survives_hold_and_resume_on_a_new_rtp_port(server):
    """Issue: after hold and resume the IVR was deaf and mute; the server's recording stopped at the hold."""
    call, turns = sipp_call(server, "hold_resume.xml", timeout=60)
    events = server.events(call.id)
    kinds = [e.kind for e in events]
    assert kinds.index("hold") < kinds.index("resume") < kinds.index("dtmf"), kinds
    hold_at = next(e.at_ms for e in events if e.kind == "hold")
    resume_at = next(e.at_ms for e in events if e.kind == "resume")
    assert [t.text for t in turns if t.speaker == "caller"] == ["[PIN]"]      # keys heard after the resume
    menu = prompts(turns, "main_menu")
    assert menu and menu[0].start_ms > resume_at
    welcome = prompts(turns, "welcome")[0]
    assert welcome.end_ms - welcome.start_ms > 4700 + (resume_at - hold_at) - 500   # paused while held, resumed
    info = sf.info(call.recording_path)
    last = max(t.end_ms for t in turns if t.end_ms is not None)
    assert info.duration * 1000 > max(last - 500, resume_at + 3000), (info.duration, last, resume_at)  # to the end
    ivr_side = sf.read(call.recording_path)[0][:, 1]     # the hold's silence is in it: offsets point at their audio

    def loudness(from_ms, to_ms):
        return float(np.sqrt(np.mean(ivr_side[int(from_ms * 8): int(to_ms * 8)] ** 2)))
    assert loudness(hold_at + 300, resume_at - 300) < 0.003, "the hold is not where its events say"
    assert loudness(menu[0].start_ms + 800, menu[0].start_ms + 4000) > 0.01, "the menu is not where its turn says"


def test_the_softphone_prints_every_prompt_it_heard(server):
    """Issue: prompts that played while a --wait ran were missing from `ivr call --json`."""
    out = ivr_call(server, "--ani", "+15550100", "--wait", "4", "--dtmf", "2468", "--wait", "3", "--say",
                   "what is my balance", "--wait", "9", "--say", "goodbye")
    heard = " ".join(p["text"].lower() for p in out["prompts"])
    for words in ("welcome", "help you today", "balance of your checking", "savings", "thank you for calling"):
        assert words in heard, (words, heard)     # the goodbye prompt was barged into the savings readout


# ---- dialog safety through real calls (the worst three of the "money moved on a no" defects) ----------------
def money_state(server):
    with server.sessions() as s:
        return (s.scalars(select(Account.balance).order_by(Account.id)).all(),
                s.scalar(select(func.count()).select_from(Transaction)))


def test_a_spoken_refusal_at_the_read_back_moves_no_money(server):
    before_money, before = money_state(server), len(server.calls())
    ivr_call(server, "--ani", "+15550100", "--dtmf", "2468#", "--say", "transfer ten dollars to savings",
             "--say", "absolutely not", "--say", "goodbye", "--no-transcribe")
    call, turns, events = last_call(server, before)
    said = [t.text for t in turns if t.speaker == "caller"]
    assert money_state(server) == before_money, said        # heard right or not, nothing moves on a refusal
    assert prompts(turns, "transfer_confirm") and not prompts(turns, "transfer_done"), said


def test_the_last_card_is_the_one_blocked(server):
    before = len(server.calls())
    try:
        ivr_call(server, "--ani", "+15550101", "--dtmf", "1357#", "--say", "I lost my card", "--say",
                 "the last card please", "--say", "yes", "--say", "goodbye", "--no-transcribe")
        call, turns, events = last_call(server, before)
        with server.sessions() as s:
            status = dict(s.execute(select(Card.kind, Card.status).join(Customer).where(
                Customer.ani == "+15550101")).all())
        assert status == {"debit": "active", "credit": "blocked"}, [(t.speaker, t.text) for t in turns]
    finally:
        with server.sessions.begin() as s:
            s.execute(update(Card).values(status="active", block_reference=None, blocked_at=None))


def test_a_new_request_at_anything_else_is_served_not_hung_up(server):
    before = len(server.calls())
    ivr_call(server, "--ani", "+15550101", "--dtmf", "1357#", "--say", "check my balance", "--say",
             "no, I want to hear my recent transactions", "--say", "goodbye", "--no-transcribe")
    call, turns, events = last_call(server, before)
    states = [t.state for t in turns if t.speaker == "ivr"]
    assert "transactions" in states, [(t.speaker, t.text) for t in turns]
    assert states.index("transactions") < states.index("goodbye")


def test_a_menu_choice_heard_as_other_words_is_asked_about_and_a_yes_serves_it(server):
    """Whisper tiny hears "branch hours" on a phone line as "Brand showers" or "Brand Coward": words that mean
    nothing at the menu, but sound like one of its choices. The IVR asks, and acts only on a yes."""
    before = len(server.calls())
    ivr_call(server, "--ani", "+15550100", "--dtmf", "2468#", "--say", "brand coward", "--say", "yes",
             "--say", "goodbye", "--no-transcribe")
    call, turns, events = last_call(server, before)
    asked = [e.detail for e in events if e.kind == "sounds_like"]
    assert asked and asked[0]["value"] == "branch_hours" and asked[0]["confirmed"], [(t.speaker, t.text) for t in turns]
    assert any("Did you say branch hours" in t.text for t in turns if t.speaker == "ivr")
    assert prompts(turns, "hours"), [(t.speaker, t.text) for t in turns]


def test_a_crash_mid_call_leaves_a_playable_recording_up_to_its_last_second(tmp_path):
    """Issue: after `kill -9` of `ivr serve` in the middle of a call the recording was lost entirely."""
    import signal
    import subprocess
    import time

    from .conftest import IVR, ROOT

    srv = Server(tmp_path / "crash")
    caller = subprocess.Popen([IVR, "call", srv.uri, "--ani", "+15550100", "--wait", "30", "--no-transcribe"],
                              env=srv.env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not srv.calls() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(6.0)
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(10)
    finally:
        caller.kill()
        caller.wait(10)
    call = srv.calls()[0]
    audio, rate = sf.read(call.recording_path, dtype="float32")
    assert rate == 8000 and audio.shape[1] == 2
    assert 4.5 <= len(audio) / rate <= 7.0, len(audio) / rate      # up to its last second
    assert abs(audio[: 4 * rate, 1]).max() > 0.1                    # the welcome notice is in it
    stored = [(t.seq, t.text) for t in srv.turns(call.id)]
    assert call.ended_at is None and stored                         # the crash left it open, its turns stored

    again = Server(tmp_path / "crash", port=srv.port)               # the same endpoint starts again
    try:
        assert any("closed as interrupted" in line for line in again.output), again.output
        call = again.calls()[0]
        assert call.outcome == "interrupted" and call.ended_at is not None
        assert [(t.seq, t.text) for t in again.turns(call.id)] == stored
        r = run_ivr("analyze", str(call.id), env=again.env)          # and it is analysed like any other call
        assert r.returncode == 0, r.stderr
    finally:
        again.stop()


def test_star_repeats_the_prompt_and_is_stored(server):
    before = len(server.calls())
    ivr_call(server, "--ani", "+15550100", "--dtmf", "2468#", "--wait", "2", "--dtmf", "*", "--wait", "10",
             "--no-transcribe")
    call, turns, events = last_call(server, before)
    assert [e.kind for e in events if e.kind == "repeat"] == ["repeat"]
    menus = prompts(turns, "main_menu")
    assert len(menus) == 2 and menus[0].interrupted and not menus[1].interrupted


def test_a_monologue_longer_than_the_maximum_utterance_is_one_turn(tmp_path):
    """Issue: a request cut at `vad.max_utterance_s` was acted on twice, the first half first."""
    srv = Server(tmp_path / "long", env={"IVR_VAD__MAX_UTTERANCE_S": "1.5"})
    try:
        ivr_call(srv, "--ani", "+15550100", "--dtmf", "2468#", "--say",
                 "I would like to hear the balance of my checking account please", "--say", "goodbye",
                 "--no-transcribe")
        turns = srv.turns(srv.calls()[0].id)
        spoken = [t for t in turns if t.speaker == "caller" and t.text != "[PIN]"]
        assert len(spoken) == 2 and spoken[1].intent == "goodbye", [(t.text, t.timings) for t in spoken]
        assert "checking account" in spoken[0].text.lower() and spoken[0].timings["parts"] >= 2, spoken[0].text
    finally:
        srv.stop()
