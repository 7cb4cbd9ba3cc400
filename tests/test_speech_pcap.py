"""The speech PCAP for SIPp (tests/speech_pcap.py) and the SIPp speech call (tests/sipp/speech_call.xml)."""
import shutil
import struct

import numpy as np
import pytest
import soundfile as sf

from . import speech_pcap as sp


def test_ulaw_encoder_matches_libsndfile(tmp_path):
    pcm = np.arange(-32768, 32768, dtype=np.int16)
    sf.write(str(tmp_path / "ref.raw"), pcm, 8000, format="RAW", subtype="ULAW")
    assert sp.ulaw_encode(pcm) == (tmp_path / "ref.raw").read_bytes()
    assert sp.SILENCE_BYTE == b"\xff"


def test_timeline_becomes_a_pcap_sipp_can_play(tmp_path):
    tone = (np.sin(np.arange(4000) * 2 * np.pi * 440 / 8000) * 8000).astype(np.int16)
    sf.write(str(tmp_path / "tone.wav"), tone, 8000, subtype="PCM_16")
    timeline = [sp.Silence(0.5), sp.Keys("2#", tone_ms=100, gap_ms=100), sp.Until(2.0),
                sp.Recorded(str(tmp_path / "tone.wav")), sp.Silence(0.2)]
    path = sp.build(timeline, tmp_path / "cache")
    assert sp.build(timeline, tmp_path / "cache") == path                     # cached by content
    raw = path.read_bytes()
    assert struct.unpack("<IHHiIII", raw[:24]) == (0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    packets = sp.read_pcap(path)

    assert [p.t for p in packets] == pytest.approx([i * 0.02 for i in range(len(packets))])
    assert [p.seq for p in packets] == list(range(len(packets)))
    assert packets[0].marker and packets[0].pt == sp.PT_PCMU
    audio = [p for p in packets if p.pt == sp.PT_PCMU]
    assert all(len(p.payload) == 160 for p in audio)
    assert all(b.ts - a.ts == 160 for a, b in zip(audio, audio[1:]) if b.seq - a.seq == 1)
    assert len(audio) == 25 + 5 + 5 + (100 - 25 - 2 * (5 + 3 + 5)) + 25 + 10

    events = [p for p in packets if p.pt == sp.PT_EVENT]
    assert len(events) == 2 * (5 + 3)
    for digit, group in (("2", events[:8]), ("#", events[8:])):
        codes, flags, durations = zip(*(struct.unpack("!BBH", p.payload) for p in group))
        assert set(codes) == {sp.DTMF_EVENTS[digit]}
        assert len({p.ts for p in group}) == 1                                  # one timestamp per event
        assert [p.marker for p in group] == [True] + [False] * 7
        assert list(durations) == [160, 320, 480, 640, 800, 800, 800, 800]     # growing, then the end x3
        assert [f & 0x80 for f in flags] == [0] * 5 + [0x80] * 3

    speech = audio[-35:-10]
    decoded = np.concatenate([sp.ulaw_decode(p.payload) for p in speech])
    assert speech[0].t == pytest.approx(2.0)
    assert np.corrcoef(decoded.astype(float), tone[:len(decoded)].astype(float))[0, 1] > 0.99


def test_alex_call_pcap():
    path = sp.alex_balance_call()
    packets = sp.read_pcap(path)
    lines = sp.describe(packets)
    keys = [line.split()[-1] for line in lines if " key " in line]
    speech = [line for line in lines if line.endswith("speech")]
    assert keys == list("2468#")
    assert len(speech) == 2 and 30 < packets[-1].t < 45
    assert all(b.seq - a.seq == 1 for a, b in zip(packets, packets[1:]))


@pytest.mark.skipif(shutil.which("sipp") is None, reason="sip-tester is not installed")
def test_sipp_speech_call_end_to_end(server, tmp_path):
    """SIPp plays Alex's call to a real `ivr serve`: PIN verified, balance read, goodbye, the IVR hangs up."""
    before = len(server.calls())
    run = sp.run_speech_calls(f"127.0.0.1:{server.port}", tmp_path / "sipp")
    assert (run.returncode, run.successful, run.failed) == (0, 1, 0), run.output
    call = server.calls()[before]
    turns, events = server.turns(call.id), server.events(call.id)
    kinds = [e.kind for e in events]
    said = [(t.intent, t.text) for t in turns if t.speaker == "caller"]
    assert call.ani == "+15550100" and call.outcome == "completed", (call.outcome, said)
    assert "auth_success" in kinds and "caller_hangup" not in kinds
    assert any(e.kind == "task_done" and e.detail == {"task": "check_balance"} for e in events)
    assert [intent for intent, _ in said if intent] == ["check_balance", "goodbye"], said
    balance = next(t for t in turns if t.speaker == "caller" and t.intent == "check_balance")
    assert balance.latency_ms is not None and balance.latency_ms < 3000


@pytest.mark.skipif(shutil.which("sipp") is None, reason="sip-tester is not installed")
def test_sipp_counts_a_call_the_ivr_never_ends_as_failed(server, tmp_path):
    """A caller that stays silent: the IVR does not hang up within the (shortened) wait, the caller does, and
    SIPp counts the call failed instead of hanging."""
    scenario = tmp_path / "speech_call.xml"
    scenario.write_text(sp.SCENARIO.read_text().replace('timeout="90000"', 'timeout="3000"'))
    run = sp.run_speech_calls(f"127.0.0.1:{server.port}", tmp_path / "sipp", pcap=sp.build([sp.Silence(1.0)]),
                              scenario=scenario)
    assert (run.returncode, run.successful, run.failed) == (1, 0, 1), run.output
    assert server.calls()[-1].outcome == "caller_hangup"
