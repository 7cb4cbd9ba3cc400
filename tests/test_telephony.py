"""The SIP endpoint with real peers: SIPp (sip-tester) and the project's own pjsua2 softphone (`ivr call`)."""
import json
import re
import shutil
import signal
import socket
import subprocess
import time

import numpy as np
import pytest
import soundfile as sf

from .conftest import IVR, ROOT
from .sip_peers import (
    SIPP_DIR,
    Server,
    free_port,
    ivr_call,
    scenario_expecting,
    sipp,
    sipp_call,
)

pytestmark = pytest.mark.skipif(shutil.which("sipp") is None, reason="sip-tester is not installed")


@pytest.mark.parametrize("scenario", ["pin_by_rfc2833.xml", "pin_by_sip_info.xml"])
def test_sipp_call_with_dtmf_pin(server, scenario):
    call, turns = sipp_call(server, scenario)
    assert call.ani == "+15550100" and call.outcome == "caller_hangup"
    assert [t.text for t in turns if t.speaker == "caller"][:1] == ["[PIN]"]
    assert any(t.state == "main_menu" and t.speaker == "ivr" for t in turns)   # the PIN was accepted


def test_unknown_user_gets_404(server, tmp_path):
    r = sipp(server, "-m", "1", scenario=scenario_expecting(tmp_path, 404))
    r2 = subprocess.run(["sipp", f"127.0.0.1:{server.port}", "-s", "nobody", "-i", "127.0.0.1", "-p",
                         str(free_port()), "-m", "1", "-nostdin", "-timeout", "20", "-timeout_error",
                         "-sf", str(scenario_expecting(tmp_path, 404))], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0                      # the right user is answered, not refused
    assert r2.returncode == 0, r2.stdout[-1500:]


def test_unknown_codec_only_gets_488(server, tmp_path):
    r = sipp(server, "-m", "1", scenario=scenario_expecting(tmp_path, 488, 9, "G722/8000"))
    assert r.returncode == 0, r.stdout[-1500:]


def test_malformed_sip_never_crashes(server, tmp_path):
    garbage = [b"\x00\xff" * 100, b"INVITE\r\n\r\n", b"HELLO WORLD SIP/2.0\r\n\r\n",
               b"INVITE sip:bank@127.0.0.1 SIP/2.0\r\nVia: broken\r\nContent-Length: 99999\r\n\r\nv=0",
               ("INVITE sip:bank@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx1\r\n"
                "From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:bank@127.0.0.1>\r\nCall-ID: bad-sdp-1\r\nCSeq: 1 INVITE\r\n"
                "Contact: <sip:a@127.0.0.1:9>\r\nContent-Type: application/sdp\r\nContent-Length: 20\r\n\r\n"
                "v=0\r\nm=garbage\r\nxx\r\n" % server.port).encode()]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for datagram in garbage:
            s.sendto(datagram, ("127.0.0.1", server.port))
    time.sleep(1.0)
    assert server.proc.poll() is None
    out = ivr_call(server, "--ani", "+15550101", "--dtmf", "1357", "--say", "goodbye")
    heard = " ".join(p["text"].lower() for p in out["prompts"]).replace(".", "").replace(",", "")
    assert "telephone banking" in heard, (out, "".join(server.output[-40:]))
    call = server.calls()[-1]                       # what the IVR did, not tiny.en's hearing of its voice
    assert call.ani == "+15550101" and call.outcome == "completed", (call.outcome, heard)
    assert any(t.state == "main_menu" and t.speaker == "ivr" for t in server.turns(call.id))   # PIN accepted


def test_ivr_call_balance_end_to_end(server, tmp_path):
    before = len(server.calls())
    out = ivr_call(server, "--ani", "+15550100", "--say", "two four six eight", "--say", "what is my balance",
                   "--say", "goodbye", "--record", str(tmp_path / "heard.wav"))
    heard = " ".join(p["text"].lower() for p in out["prompts"])
    assert "2,450" in heard or "two thousand four hundred fifty" in heard, heard
    assert "goodbye" in heard.replace(" ", "").replace("-", "") or "bye" in heard
    call = server.calls()[before]
    assert call.outcome == "completed" and call.customer_id is not None
    turns = server.turns(call.id)
    caller = [t for t in turns if t.speaker == "caller"]
    assert caller[0].text == "[PIN]" and caller[1].intent == "check_balance"
    assert caller[1].latency_ms > 0 and {"endpoint_ms", "asr_ms", "dialog_ms", "tts_first_chunk_ms", "media_ms"} <= set(
        caller[1].timings)
    assert 0 < caller[1].start_ms < caller[1].end_ms and caller[1].slots is None
    # the stored recording: stereo, caller left, IVR right; the caller side is silent while the PIN is said
    audio, rate = sf.read(call.recording_path, dtype="float32")
    assert rate == 8000 and audio.shape[1] == 2
    pin_said_at = out["steps"][0]["at_s"]
    pin_window = audio[int((pin_said_at + 0.2) * rate): int((pin_said_at + 1.2) * rate), 0]
    later = audio[int(out["steps"][1]["at_s"] * rate): int((out["steps"][1]["at_s"] + 1.0) * rate), 0]
    assert np.abs(pin_window).max() == 0.0 and np.abs(later).max() > 0.05
    assert np.abs(audio[:, 1]).max() > 0.1


def test_a_proactive_offer_accepted_by_voice_lifts_the_card_hold(server):
    """Wei Chen's declined payment is offered once his PIN is accepted; he answers the offer and the question to
    lift the hold by voice (the softphone speaking, the live recognizer hearing), and the card works again."""
    from sqlalchemy import select

    from models import Card

    before = len(server.calls())
    out = ivr_call(server, "--ani", "+15550102", "--dtmf", "8080#", "--say", "yes", "--say", "yes please",
                   "--say", "no thanks")
    heard = " ".join(p["text"].lower() for p in out["prompts"])
    assert re.search(r"fresh ?market", heard) and "declined" in heard, heard   # Whisper writes it either way
    call = server.calls()[before]
    kinds = [e.kind for e in server.events(call.id)]
    assert kinds.index("auth_success") < kinds.index("offer_made") < kinds.index("offer_accepted"), kinds
    caller = [t for t in server.turns(call.id) if t.speaker == "caller"]
    assert [t.state for t in caller[1:3]] == ["offer_reason", "lift_hold_confirm"], [(t.state, t.text) for t in caller]
    with server.sessions() as s:
        assert s.scalar(select(Card.status).where(Card.last4 == "7070")) == "active"
    assert call.outcome == "completed"


def test_a_whole_answer_ends_the_turn_before_the_hangover(tmp_path):
    """Semantic end of turn: with a long VAD hangover, a complete command is answered once its early transcript
    is in; a phrase that trails off waits for the whole hangover."""
    srv = Server(tmp_path / "early", env={"IVR_VAD__HANGOVER_MS": "1500"})
    try:
        ivr_call(srv, "--ani", "+15550100", "--dtmf", "2468#", "--say", "what is my balance", "--say",
                 "I want to hear my", "--say", "goodbye", "--no-transcribe")
        spoken = [t for t in srv.turns(srv.calls()[0].id)
                  if t.speaker == "caller" and t.timings and t.timings["end_of_turn"] != "keys"]
        assert len(spoken) == 3 and "balance" in spoken[0].text.lower(), [t.text for t in spoken]
        whole, trailing = spoken[0].timings, spoken[1].timings
        assert whole["end_of_turn"] == "early" and whole["endpoint_ms"] < 1200, whole
        assert trailing["end_of_turn"] == "hangover" and trailing["endpoint_ms"] >= 1480, trailing
    finally:
        srv.stop()


def test_blind_transfer_by_refer_with_context(server):
    call, turns = sipp_call(server, "transfer_accepted.xml", timeout=90)   # the scenario checks the headers
    assert call.outcome == "transferred" and call.transfer_reason == "caller_request"
    assert [e.detail["code"] for e in server.events(call.id) if e.kind == "transfer_accepted"] == [200]


def test_refused_refer_keeps_the_call(server):
    call, turns = sipp_call(server, "transfer_refused.xml", timeout=90)
    texts = [t.text for t in turns]
    assert [e.detail["code"] for e in server.events(call.id) if e.kind == "transfer_refused"] == [603]
    assert any(t.startswith("Sorry, I couldn't reach an agent") for t in texts)
    assert "Is there anything else I can help you with?" in texts      # back in the menu, call kept
    assert call.outcome == "caller_hangup"


def test_flood_beyond_four_calls_gets_486_and_endpoint_survives(server, tmp_path):
    work = tmp_path / "flood"
    r = sipp(server, "-m", "7", "-l", "7", "-r", "7", "-trace_msg", "-message_file", str(tmp_path / "msgs.log"),
             scenario=SIPP_DIR / "hold_call.xml", timeout=60, cwd=work)
    log = (tmp_path / "msgs.log").read_text(errors="replace")
    busy, answered = set(), set()
    for block in log.split("\n\n"):
        call_id = next((line.split(":", 1)[1].strip() for line in block.splitlines() if line.startswith("Call-ID")), "")
        if "SIP/2.0 486 Busy Here" in block:
            busy.add(call_id)
        elif "SIP/2.0 200 OK" in block and "CSeq: 1 INVITE" in block:
            answered.add(call_id)
    busy, answered = len(busy), len(answered)
    assert (answered, busy) == (4, 3), (busy, answered, r.stdout[-1500:])
    time.sleep(2)
    assert server.proc.poll() is None
    out = ivr_call(server, "--ani", "+15550101", "--dtmf", "1357", "--say", "goodbye")
    assert out["status"].startswith("200") and any("help you" in p["text"].lower() for p in out["prompts"])


def rms_track(x: np.ndarray, rate: int = 8000, win: float = 0.05) -> np.ndarray:
    n = int(rate * win)
    frames = x[: len(x) // n * n].reshape(-1, n)
    return np.sqrt((frames**2).mean(axis=1))


def test_barge_in_cuts_an_interruptible_prompt(server):
    before = len(server.calls())
    out = ivr_call(server, "--ani", "+15550100", "--dtmf", "2468#", "--wait", "1.5", "--say", "what is my balance",
                   "--say", "goodbye")
    call = server.calls()[before]
    audio, rate = sf.read(call.recording_path, dtype="float32")
    said_at = out["steps"][2]["at_s"]
    left, right = rms_track(audio[:, 0]), rms_track(audio[:, 1])
    onset = next(i for i in range(int(said_at / 0.05), len(left)) if left[i] > 0.02) * 0.05
    # the menu prompt lasts ~8 s; after barge-in the IVR side goes quiet within half a second of the caller
    quiet_after = next(i for i in range(int(onset / 0.05), len(right)) if right[i : i + 6].max() < 0.005) * 0.05
    assert quiet_after - onset < 0.6, (onset, quiet_after)
    assert any(e.kind == "barge_in" for e in server.events(call.id))
    menu = next(t for t in server.turns(call.id) if t.state == "main_menu" and t.speaker == "ivr")
    assert menu.interrupted and menu.end_ms / 1000 - onset < 0.6   # stored as heard: cut where the caller spoke


def test_non_interruptible_prompt_plays_to_the_end(server):
    before = len(server.calls())
    out = ivr_call(server, "--ani", "+15550100", "--wait", "1.0", "--say", "hello hello hello", "--dtmf", "2468",
                   "--say", "goodbye")
    call = server.calls()[before]
    audio, rate = sf.read(call.recording_path, dtype="float32")
    right = rms_track(audio[:, 1])
    said_at = out["steps"][1]["at_s"]
    # the welcome notice (~5 s) keeps playing while the caller talks over it
    assert right[int((said_at + 0.6) / 0.05): int((said_at + 1.6) / 0.05)].max() > 0.02
    assert not any(e.kind == "barge_in" and e.state == "welcome" for e in server.events(call.id))
    assert call.outcome == "completed"


def test_four_simultaneous_callers_and_a_fifth_is_busy(server):
    before = len(server.calls())
    cmd = lambda ani, pin: [IVR, "call", server.uri, "--ani", ani, "--dtmf", pin, "--say", "what is my balance",  # noqa: E731
                            "--say", "goodbye", "--json"]
    procs = [subprocess.Popen(cmd(*caller), env=server.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for caller in [("+15550100", "2468"), ("+15550101", "1357")] * 2]
    time.sleep(3)
    fifth = subprocess.run([IVR, "call", server.uri, "--ani", "+15550100", "--wait", "1"], env=server.env,
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    results = [p.communicate(timeout=400) for p in procs]
    assert fifth.returncode != 0 and "486" in fifth.stderr
    for stdout, stderr in results:
        out = json.loads(stdout.strip().splitlines()[-1])
        heard = " ".join(p["text"].lower() for p in out["prompts"])
        assert "balance of your checking account" in heard, heard
    new = server.calls()[before:]
    assert len(new) == 4 and all(c.outcome == "completed" for c in new)


def calls_on_a_reused_id(server, held_ms: int, short_ms: int):
    """Three held calls take three of pjsua's 4 call ids; four short calls in a row then each get the id the one
    before just gave back. Returns the SIPp runs of both (the short ones', the held ones' (rc, out, err))."""
    held = subprocess.Popen(["sipp", f"127.0.0.1:{server.port}", "-sn", "uac", "-s", "bank", "-i", "127.0.0.1",
                             "-p", str(free_port()), "-m", "3", "-l", "3", "-r", "10", "-d", str(held_ms), "-nostdin",
                             "-timeout", "60", "-timeout_error"], cwd=server.data_dir,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.0)
    row = sipp(server, "-sn", "uac", "-m", "4", "-l", "1", "-d", str(short_ms), timeout=60)
    out, err = held.communicate(timeout=90)
    time.sleep(1.5)
    return row, (held.returncode, out, err)


def test_a_call_given_the_sip_id_of_a_call_that_just_ended_runs_to_its_end(server):
    """The ended call's object must be gone by the time its id is reused: freed later, pjsua2's ~Call() took the
    new call's callbacks and hung it up (in a database outage, a call left open for ever)."""
    before = len(server.calls())
    row, (rc, out, err) = calls_on_a_reused_id(server, 14000, 1500)
    assert row.returncode == 0, row.stdout[-2000:] + row.stderr[-1000:]   # no call hung up by the IVR mid-call
    assert rc == 0, out[-2000:] + err[-1000:]
    calls = server.calls()[before:]
    assert len(calls) == 7 and all(c.outcome == "caller_hangup" and c.ended_at for c in calls), \
        [(c.id, c.outcome) for c in calls]


def test_an_ended_calls_object_freed_late_leaves_the_next_call_on_its_id_alone(tmp_path):
    """In a database outage an exception's traceback kept an ended call's Python object alive until the next cycle
    collection; by then pjsua had given its id to a new call, and the late ~Call() cleared that call's callbacks and
    hung it up (stored as never disconnected). Here every ended call's object is kept and dropped a second into the
    next call on its id: the next call must run to its end all the same."""
    import sys

    srv = Server(tmp_path / "late", prefix=(sys.executable, str(ROOT / "tests" / "late_free_serve.py")))
    try:
        row, (rc, out, err) = calls_on_a_reused_id(srv, 12000, 2500)
        calls = srv.calls()
    finally:
        srv.proc.send_signal(signal.SIGTERM)
        try:
            srv.proc.wait(30)
        except subprocess.TimeoutExpired:   # a call left open keeps the drain waiting
            srv.proc.kill()
            srv.proc.wait(10)
    assert row.returncode == 0, row.stdout[-2000:] + row.stderr[-1000:]   # no call hung up by the IVR mid-call
    assert rc == 0, out[-2000:] + err[-1000:]
    assert "without a disconnect" not in "".join(srv.output)
    assert len(calls) == 7 and all(c.outcome == "caller_hangup" and c.ended_at for c in calls), \
        [(c.id, c.outcome) for c in calls]
    assert srv.proc.returncode == 0, "".join(srv.output[-30:])


def test_sigterm_drains_active_calls(tmp_path):
    srv = Server(tmp_path / "drain", env={"IVR_TELEPHONY__DRAIN_TIMEOUT_S": "60"})
    caller = subprocess.Popen([IVR, "call", srv.uri, "--ani", "+15550101", "--dtmf", "1357#", "--say",
                               "what is my balance", "--say", "goodbye", "--no-transcribe", "--json"], env=srv.env,
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    srv.proc.send_signal(signal.SIGTERM)
    time.sleep(1)
    assert srv.proc.poll() is None                              # still serving the active call
    late = subprocess.run([IVR, "call", srv.uri, "--ani", "+15550100", "--wait", "1"], env=srv.env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert late.returncode != 0 and "503" in late.stderr   # no new calls while draining: 503, so a proxy fails over
    out, err = caller.communicate(timeout=240)
    assert caller.returncode == 0, err[-1500:]
    assert srv.proc.wait(60) == 0, "".join(srv.output[-15:])
    assert [c.outcome for c in srv.calls()] == ["completed"]


def test_registers_to_a_pbx_with_digest_credentials(tmp_path):
    registrar_port = free_port()
    registrar = subprocess.Popen(["sipp", "-sf", str(SIPP_DIR / "registrar.xml"), "-i", "127.0.0.1", "-p",
                                  str(registrar_port), "-m", "1", "-nostdin", "-timeout", "90", "-timeout_error"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    srv = Server(tmp_path / "reg", env={"IVR_TELEPHONY__REGISTRAR": f"sip:127.0.0.1:{registrar_port}",
                                        "IVR_TELEPHONY__USERNAME": "ivr-trunk",
                                        "IVR_TELEPHONY__PASSWORD": "s3cret"})
    try:
        out, err = registrar.communicate(timeout=60)
        assert registrar.returncode == 0, out[-1500:] + err[-1500:]   # challenged, then authenticated
    finally:
        srv.stop()
    assert srv.proc.returncode == 0
