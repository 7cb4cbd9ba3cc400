"""Call metrics: voice activity, talk time, dead air and overtalk measured on a constructed stereo recording of
real speech at known offsets; event- and outcome-based metrics on constructed timelines."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from analytics.metrics import compute, voice_activity
from analytics.timeline import CallTimeline, Event, Segment

RATE = 8000
SOUNDS = "/usr/share/asterisk/sounds/en"


def speech(name: str) -> np.ndarray:
    """An Asterisk prompt trimmed of its leading and trailing silence (chosen to have no inner pause > 0.25 s)."""
    x, rate = sf.read(f"{SOUNDS}/{name}.wav", dtype="float32")
    assert rate == RATE
    loud = np.flatnonzero(np.abs(x) > 0.02)
    return x[loud[0]:loud[-1] + 1]


def length(x: np.ndarray) -> float:
    return len(x) / RATE


def place(channel: np.ndarray, clip: np.ndarray, at: float) -> None:
    i = round(at * RATE)
    channel[i:i + len(clip)] += clip


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """Stereo call, caller left and IVR right, over a -60 dBFS noise floor:
    0.5 s silence | IVR prompt | 2.5 s both silent | caller | 4.0 s both silent (dead air) | IVR prompt,
    the caller barging in 1.2 s before it ends | caller | 1.0 s silence."""
    prompt1, prompt2 = speech("conf-getpin"), speech("pls-hold-while-try")
    said1, said2 = speech("vm-sorry"), speech("transfer")
    p1 = 0.5
    s1 = p1 + length(prompt1) + 2.5
    p2 = s1 + length(said1) + 4.0
    s2 = p2 + length(prompt2) - 1.2
    duration = s2 + length(said2) + 1.0
    stereo = np.random.default_rng(7).normal(0, 0.001, (round(duration * RATE), 2)).astype(np.float32)
    place(stereo[:, 1], prompt1, p1)
    place(stereo[:, 0], said1, s1)
    place(stereo[:, 1], prompt2, p2)
    place(stereo[:, 0], said2, s2)
    path = tmp_path_factory.mktemp("rec") / "call.wav"
    sf.write(path, stereo, RATE, subtype="PCM_16")
    expected = {"caller": [(s1, s1 + length(said1)), (s2, s2 + length(said2))],
                "ivr": [(p1, p1 + length(prompt1)), (p2, p2 + length(prompt2))], "duration": duration}
    return path, expected


def test_voice_activity_finds_each_utterance(recording):
    path, expected = recording
    audio, rate = sf.read(path, dtype="float32")
    for column, speaker in ((0, "caller"), (1, "ivr")):
        spans = voice_activity(audio[:, column], rate)
        assert len(spans) == 2
        for (s, e), (xs, xe) in zip(spans, expected[speaker]):
            assert s == pytest.approx(xs, abs=0.05) and e == pytest.approx(xe, abs=0.05)


def test_talk_dead_air_and_overtalk_from_audio(recording):
    path, expected = recording
    audio, rate = sf.read(path, dtype="float32")
    duration = expected["duration"]
    words = "I would like to check my balance please"          # 8 words per caller turn
    t = CallTimeline(1, "sip", "completed", duration,
                     segments=[Segment(i, "caller", words, s, e) for i, (s, e) in enumerate(expected["caller"])],
                     activity={"caller": voice_activity(audio[:, 0], rate), "ivr": voice_activity(audio[:, 1], rate)})
    m = compute(t)
    caller_talk = sum(e - s for s, e in expected["caller"])
    ivr_talk = sum(e - s for s, e in expected["ivr"])
    assert m["duration_s"] == pytest.approx(duration, abs=0.01)
    assert m["talk_s_caller"] == pytest.approx(caller_talk, abs=0.1)
    assert m["talk_s_ivr"] == pytest.approx(ivr_talk, abs=0.1)
    assert m["talk_ratio_caller"] == pytest.approx(caller_talk / duration, abs=0.01)
    assert m["wpm_caller"] == pytest.approx(16 / (caller_talk / 60), rel=0.03)
    assert m["wpm_ivr"] == 0.0                                # the IVR has audio but no transcribed words
    assert m["dead_air_count"] == 1                           # the 4.0 s gap; not the 0.5, 2.5 or 1.0 s ones
    assert m["dead_air_s"] == pytest.approx(4.0, abs=0.1)
    assert m["dead_air_max_s"] == pytest.approx(4.0, abs=0.1)
    assert m["dead_air_share"] == pytest.approx(4.0 / duration, abs=0.01)
    assert m["overtalk_count"] == 1
    assert m["overtalk_s"] == pytest.approx(1.2, abs=0.1)


def test_voice_activity_bridges_pauses_and_drops_clicks():
    word = speech("transfer")
    gap = lambda s: np.zeros(round(s * RATE), np.float32) 
    click = np.full(round(0.05 * RATE), 0.5, np.float32)
    x = np.concatenate([gap(1.0), word, gap(0.2), word, gap(0.5), word, gap(1.0), click, gap(1.0)])
    spans = voice_activity(x, RATE)
    assert len(spans) == 2                                   # 0.2 s pause bridged, 0.5 s not; click dropped
    assert spans[0][1] - spans[0][0] == pytest.approx(2 * length(word) + 0.2, abs=0.05)
    assert voice_activity(gap(2.0), RATE) == []
    assert voice_activity(np.zeros(RATE, np.float32), 16000) == []
    with pytest.raises(ValueError):
        voice_activity(gap(1.0), 44100)


def timeline(**kw) -> CallTimeline:
    kw.setdefault("outcome", "completed")
    return CallTimeline(call_id=1, channel="sip", duration_s=kw.pop("duration_s", 60.0), **kw)


def ev(seq: int, kind: str, **detail) -> Event:
    return Event(seq, kind, float(seq), detail=detail)


def test_dead_air_and_overtalk_from_segments():
    # 3.5 s leading silence counts as dead air; exactly 3.0 s between turns and 2.0 s trailing do not;
    # an overlap under 0.1 s is not overtalk.
    t = timeline(duration_s=20.0, segments=[
        Segment(0, "ivr", "Welcome.", 3.5, 6.0),
        Segment(1, "caller", "balance", 5.95, 9.0),
        Segment(2, "ivr", "Your balance is ten dollars.", 12.0, 18.0)])
    m = compute(t)
    assert (m["dead_air_count"], m["dead_air_s"], m["dead_air_max_s"]) == (1, 3.5, 3.5)
    assert (m["overtalk_count"], m["overtalk_s"]) == (0, 0.0)
    assert m["talk_s_ivr"] == 8.5 and m["talk_s_caller"] == 3.05
    assert m["wpm_caller"] == round(1 / (3.05 / 60), 2)
    assert "talk_s_agent" not in m


def test_transferred_call_is_not_contained():
    t = timeline(outcome="transferred", segments=[
        Segment(0, "caller", "check my balance", 1, 2, intent="check_balance"),
        Segment(1, "caller", "agent please", 3, 4, intent="speak_to_agent"),
        Segment(2, "agent", "how can I help", 10, 12)],
        events=[ev(3, "task_done", task="check_balance"), ev(4, "transfer_requested"), ev(5, "hold"),
                ev(6, "resume"), ev(7, "transfer_accepted")])
    m = compute(t)
    assert (m["contained"], m["zero_out"], m["self_service_completed"], m["holds"]) == (0, 1, 0, 1)
    assert m["tasks"] == ["check_balance"] and "talk_s_agent" in m


def test_self_service_call_is_contained():
    t = timeline(tasks=["check_balance"], segments=[
        Segment(0, "ivr", "What can I do for you?", 0, 2, intent="check_balance"),
        Segment(1, "caller", "recent transactions", 3, 4, intent="recent_transactions"),
        Segment(2, "caller", "say that again", 6, 7, intent="repeat"),
        Segment(3, "caller", "my balance", 9, 10, intent="check_balance"),
        Segment(4, "caller", "um", 11, 12),
        Segment(5, "caller", "bye", 14, 15, intent="goodbye")],
        events=[ev(6, "barge_in"), ev(7, "no_input"), ev(8, "no_input"), ev(9, "no_match"), ev(10, "repeat"),
                ev(11, "task_done", task="recent_transactions"), ev(12, "task_done", task="check_balance"),
                ev(13, "transfer_refused")])
    m = compute(t)
    assert (m["contained"], m["zero_out"], m["self_service_completed"]) == (1, 0, 1)
    assert m["intents"] == ["recent_transactions", "repeat", "check_balance", "goodbye"]
    assert m["tasks"] == ["check_balance", "recent_transactions"]
    assert (m["barge_ins"], m["no_input"], m["no_match"], m["repeats"]) == (1, 2, 1, 1)


def test_transfer_request_alone_is_a_zero_out():
    m = compute(timeline(outcome="caller_hangup", events=[ev(1, "transfer_requested"), ev(2, "caller_hangup")]))
    assert (m["zero_out"], m["contained"], m["self_service_completed"]) == (1, 1, 0)


@pytest.mark.parametrize("kinds, expected", [
    ([], "none"),
    (["auth_success"], "success"),
    (["auth_failure"], "failure"),
    (["auth_failure", "auth_success"], "success"),
    (["auth_failure", "auth_failure", "auth_failure", "lockout"], "lockout"),
    (["auth_failure", "lockout", "auth_failure"], "lockout"),
])
def test_auth(kinds, expected):
    assert compute(timeline(events=[ev(i, k) for i, k in enumerate(kinds)]))["auth"] == expected


def test_auth_already_locked_account_is_lockout():
    assert compute(timeline(events=[ev(1, "auth_failure", reason="locked")]))["auth"] == "lockout"


def test_latency_percentiles_nearest_rank():
    m = compute(timeline(latencies_ms=[1000, 100, 900, 200, 800, 300, 700, 400, 600, 500]))
    assert (m["latency_p50_ms"], m["latency_p95_ms"]) == (500, 1000)
    m = compute(timeline(latencies_ms=[812.345]))
    assert (m["latency_p50_ms"], m["latency_p95_ms"]) == (812.35, 812.35)
    m = compute(timeline())
    assert (m["latency_p50_ms"], m["latency_p95_ms"]) == (None, None)


def test_empty_call():
    m = compute(timeline(duration_s=0.0))
    assert (m["duration_s"], m["dead_air_s"], m["dead_air_count"], m["overtalk_count"]) == (0.0, 0.0, 0, 0)
    assert (m["contained"], m["auth"], m["intents"], m["tasks"]) == (1, "none", [], [])
