"""Mandarin over a real SIP call: `ivr serve` answers sip:bank-zh@ in Mandarin (Kokoro voice, Whisper base with
the language forced), and the project's pjsua2 softphone speaks Mandarin to it; an English call switches."""
import json
import shutil
import subprocess

import pytest

from .conftest import IVR, ROOT

pytestmark = pytest.mark.skipif(shutil.which("sipp") is None, reason="sip-tester is not installed")


def call(server, user, *args, timeout=240):
    uri = f"sip:{user}@127.0.0.1:{server.port}"
    r = subprocess.run([IVR, "call", uri, *args, "--json"], capture_output=True, text=True, timeout=timeout,
                       env=server.env, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_a_call_to_the_mandarin_number_is_served_in_mandarin(server):
    before = len(server.calls())
    # "营业时间" is served at once, or asked about first ("您是说营业时间吗？") when the reading is unsure: 是的
    # confirms it (or, at once served, answers "anything else?"); 再见 ends the call either way
    out = call(server, "bank-zh", "--language", "zh", "--ani", "+15550100", "--dtmf", "2468#", "--wait", "9",
               "--say", "营业时间", "--wait", "8", "--say", "是的", "--wait", "14", "--say", "再见", "--wait", "6")
    heard = "".join(p["text"] for p in out["prompts"])
    assert "银行" in heard, heard   # what the caller heard was Mandarin (Whisper's reading of it)
    c = server.calls()[before]
    turns = server.turns(c.id)
    ivr = [t.text for t in turns if t.speaker == "ivr"]
    assert c.language == "zh" and c.outcome == "completed", (c.language, c.outcome, ivr)
    assert ivr[0].startswith("欢迎致电演示银行") and ivr[-1] == "感谢您致电演示银行，再见。", ivr
    assert any(t.startswith("我们的网点营业时间为周一至周五") for t in ivr), ivr
    said = [(t.text, t.intent) for t in turns if t.speaker == "caller"]
    assert said[0] == ("[PIN]", None) and said[1][1] == "branch_hours", said


def test_an_english_caller_asks_for_mandarin_mid_call(server):
    before = len(server.calls())
    call(server, "bank", "--ani", "+15550100", "--dtmf", "2468#", "--wait", "8", "--say", "mandarin please",
         "--wait", "10", "--dtmf", "5", "--wait", "14", "--dtmf", "2", "--wait", "5", "--no-transcribe")
    c = server.calls()[before]
    turns = server.turns(c.id)
    ivr = [t.text for t in turns if t.speaker == "ivr"]
    assert c.language == "zh", ivr
    k = next(i for i, t in enumerate(ivr) if t.startswith("请问有什么可以帮您"))   # the menu again, in Mandarin
    assert ivr[k - 1].startswith("How can I help you today?"), ivr
    assert any(t.startswith("我们的网点营业时间") for t in ivr[k:]), ivr   # key 5: hours, said by the Mandarin voice
    assert ivr[-1] == "感谢您致电演示银行，再见。" and c.outcome == "completed", ivr


def test_an_unknown_sip_user_is_still_refused(server):
    r = subprocess.run([IVR, "call", f"sip:bank-fr@127.0.0.1:{server.port}", "--wait", "1"], capture_output=True,
                       text=True, timeout=60, env=server.env, cwd=ROOT)
    assert r.returncode != 0 and "404" in r.stderr
