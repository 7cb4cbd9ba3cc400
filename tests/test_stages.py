"""Each stage of a call on its own: a fake clock, frames made in memory, real models where a stage uses one;
no pjsua2."""
from __future__ import annotations

import time

import numpy as np
import pytest
import soundfile as sf

from config import VadSettings
from telephony.audio_buffers import FRAME_BYTES, RATE, OutgoingAudio, Playback
from telephony.frames import CallerTurn, Silence, SpeechStarted
from telephony.keys import DigitEntry, KeyEntry
from telephony.recorder import StreamingRecorder
from telephony.speaker import Speaker
from telephony.turn_taking import TurnTaking

from .conftest import asterisk, pcm16, silence


class FakeClock:
    def __init__(self, t: float = 100.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def frames(samples: np.ndarray) -> list[bytes]:
    data = pcm16(samples)
    return [data[i : i + FRAME_BYTES] for i in range(0, len(data) - FRAME_BYTES + 1, FRAME_BYTES)]


# ---- key entry --------------------------------------------------------------------------------------------
PIN = DigitEntry(min_digits=4, max_digits=6)


def press_all(keys: KeyEntry, digits: str, t: float = 0.0):
    out = [keys.press(d, t + i * 0.2) for i, d in enumerate(digits)]
    return [k for k in out if k]


def test_a_pin_may_start_with_zero_and_zero_is_a_digit_in_digit_entry():
    keys = KeyEntry()
    keys.expect(PIN)
    assert [k.digits for k in press_all(keys, "0246#")] == ["0246"]


def test_star_clears_the_entry_and_the_caller_starts_again():
    keys = KeyEntry()
    keys.expect(PIN)
    assert [k.digits for k in press_all(keys, "13*2468#")] == ["2468"]


@pytest.mark.parametrize("key", ["0", "*"])
def test_zero_or_star_alone_is_delivered_alone_after_the_digit_timeout(key):
    keys = KeyEntry()
    keys.expect(PIN)
    assert keys.press(key, 10.0) is None
    assert keys.poll(10.0 + PIN.inter_digit_s - 0.1) is None
    assert keys.poll(10.0 + PIN.inter_digit_s).digits == key


def test_digit_entry_ends_at_the_maximum_or_sooner_once_the_minimum_is_in():
    keys = KeyEntry()
    keys.expect(PIN)
    assert [k.digits for k in press_all(keys, "123456")] == ["123456"]
    press_all(keys, "2468", t=20.0)
    assert keys.poll(20.6 + PIN.complete_digit_s - 0.1) is None
    assert keys.poll(20.6 + PIN.complete_digit_s).digits == "2468"
    press_all(keys, "24", t=30.0)
    assert keys.poll(30.2 + PIN.complete_digit_s) is None           # too short: waits the longer timeout


def test_outside_digit_entry_every_key_is_an_entry():
    keys = KeyEntry()
    keys.expect(None)
    assert [k.digits for k in press_all(keys, "10*")] == ["1", "0", "*"]


# ---- outgoing audio and the speaker -----------------------------------------------------------------------
class Events:
    def __init__(self):
        self.seen: list[tuple[str, Playback, float]] = []

    def __call__(self, kind, playback, t):
        self.seen.append((kind, playback, t))

    def ended(self):
        return [(pb.text, pb.cut) for kind, pb, _ in self.seen if kind == "end"]


def drain(out: OutgoingAudio, clock: FakeClock, n: int = 10_000) -> int:
    sent = 0
    for _ in range(n):
        clock.t += 0.02
        if out.pop() is None:
            break
        sent += 1
    return sent


def test_a_cut_prompt_ends_where_it_was_cut_and_an_unplayed_one_is_never_reported():
    clock, events = FakeClock(), Events()
    out = OutgoingAudio(on_event=events, clock=clock)
    a, b = Playback("menu"), Playback("next")
    out.push(b"\x01" * FRAME_BYTES * 50, a)
    out.finish(a)
    out.push(b"\x01" * FRAME_BYTES * 50, b)
    out.finish(b)
    for _ in range(10):
        clock.t += 0.02
        out.pop()
    assert out.cut([a, b]) == 90
    assert events.ended() == [("menu", True)] and a.played == 10 and b.played == 0
    assert out.pop() is None


def test_a_legal_notice_is_not_cut():
    clock, events = FakeClock(), Events()
    out = OutgoingAudio(on_event=events, clock=clock)
    notice, menu = Playback("notice", interruptible=False), Playback("menu")
    for pb in (notice, menu):
        out.push(b"\x01" * FRAME_BYTES * 20, pb)
        out.finish(pb)
    out.cut([menu])
    assert drain(out, clock) == 20 and events.ended() == [("notice", False)]


def test_on_hold_nothing_is_sent_and_the_prompt_resumes_where_it_was():
    clock = FakeClock()
    out = OutgoingAudio(clock=clock)
    pb = Playback("menu")
    out.push(b"\x01" * FRAME_BYTES * 30, pb)
    out.finish(pb)
    drain(out, clock, 10)
    out.paused = True
    assert out.pop() is None and pb.played == 10
    out.paused = False
    assert drain(out, clock) == 20


@pytest.fixture(scope="module")
def espeak():
    from tts import get_synthesizer

    return get_synthesizer("espeak", "en-us")


def wait_until(predicate, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return False


@pytest.mark.parametrize("where", ["start", "middle", "tail", "after"])
def test_after_a_barge_in_anywhere_in_a_prompt_the_next_reply_plays_in_full(espeak, where):
    """The defect: a barge-in while the speaker was idle left a cancel flag set, and the next reply was lost."""
    class Say:
        def __init__(self, text):
            self.text, self.interruptible, self.state = text, True, "test"

    clock, events = FakeClock(), Events()
    out = OutgoingAudio(on_event=events, clock=clock)
    speaker = Speaker(espeak, None, out, clock)
    speaker.start()
    try:
        first = speaker.say(Say("Please say or key in your telephone banking PIN."))
        assert wait_until(lambda: first.complete)
        total = first.queued
        played = {"start": 1, "middle": total // 2, "tail": total - 5, "after": total}[where]
        for _ in range(played):
            clock.t += 0.02
            out.pop()
        speaker.barge_in()
        reply = speaker.say(Say("How can I help you today?"))
        assert wait_until(lambda: reply.complete)
        assert reply.queued > 20 and not reply.cut
        drain(out, clock)
        assert reply.played == reply.queued and not speaker.speaking
        assert events.ended() == ([("Please say or key in your telephone banking PIN.", True)] if where != "after"
                                  else [("Please say or key in your telephone banking PIN.", False)]) + [
            ("How can I help you today?", False)]
    finally:
        speaker.stop()


# ---- recorder ---------------------------------------------------------------------------------------------
def test_the_recording_is_playable_while_the_call_goes_on_and_the_pin_is_muted(tmp_path):
    rec = StreamingRecorder(tmp_path / "call.wav", sync_s=0.05)
    voice, ivr = b"\x10\x27" * (FRAME_BYTES // 2), b"\xf0\xd8" * (FRAME_BYTES // 2)
    for i in range(100):                       # 2 s; the middle second is a PIN
        rec.mute_caller = 25 <= i < 75
        rec.caller(voice)
        rec.ivr(ivr)
    time.sleep(0.3)                            # no close(): as after kill -9
    audio, rate = sf.read(tmp_path / "call.wav", dtype="int16")
    assert rate == RATE and audio.shape == (100 * FRAME_BYTES // 2, 2)
    left = audio[:, 0].reshape(100, -1)
    assert (left[:25] == 10000).all() and (left[25:75] == 0).all() and (left[75:] == 10000).all()
    assert (audio[:, 1] == -10000).all()
    rec.close()
    assert sf.info(str(tmp_path / "call.wav")).frames == 100 * FRAME_BYTES // 2


def test_caller_audio_is_kept_when_the_ivr_side_is_not_clocked(tmp_path):
    rec = StreamingRecorder(tmp_path / "held.wav", sync_s=0.05)
    for _ in range(50):
        rec.caller(b"\x10\x27" * (FRAME_BYTES // 2))
    rec.close()
    assert sf.info(str(tmp_path / "held.wav")).frames == 50 * FRAME_BYTES // 2


# ---- turn taking (real VAD, real Whisper tiny.en) ---------------------------------------------------------
def feed(turns: TurnTaking, clock: FakeClock, samples: np.ndarray, may=True) -> list:
    out = []
    for f in frames(samples):
        clock.t += 0.02
        out += turns.feed(f, clock.t, may)
        if turns.speculation is not None:
            turns.speculation.future.exception()   # the worker pool runs at its own pace; wait here
            out += turns.end_early(may)
    return out


class Reading:
    """What the dialog makes of a transcript; only `complete` matters to turn taking."""
    def __init__(self, complete: bool):
        self.complete = complete


def make_turns(live_asr, judge=lambda text: False, **vad):
    clock = FakeClock()
    return TurnTaking(VadSettings(**vad), live_asr, lambda text: Reading(judge(text)), lambda: None, clock), clock


def test_a_spoken_turn_is_recognised_after_the_hangover(live_asr):
    turns, clock = make_turns(live_asr)
    turns.listen(None, 5.0)
    turns.arm()
    events = feed(turns, clock, np.concatenate([silence(0.5), asterisk("vm-goodbye"), silence(1.0)]))
    kinds = [type(e) for e in events]
    assert kinds == [SpeechStarted, CallerTurn], kinds
    turn = events[1]
    assert "goodbye" in turn.text.lower() and turn.timings["end_of_turn"] == "hangover"
    assert turn.start_s <= 0.5 < turn.end_s <= 2.0    # offsets into the caller audio (pre-roll included)


def test_a_whole_answer_ends_the_turn_early(live_asr):
    turns, clock = make_turns(live_asr, judge=lambda text: "goodbye" in text.lower())
    turns.listen(None, 5.0)
    events = feed(turns, clock, np.concatenate([silence(0.5), asterisk("vm-goodbye"), silence(1.0)]))
    turn = next(e for e in events if isinstance(e, CallerTurn))
    assert turn.timings["end_of_turn"] == "early" and turn.timings["endpoint_ms"] < 400
    assert turn.understanding.complete                   # the early reading travels on to the dialog


def test_no_input_fires_only_once_armed_and_not_while_stopped(live_asr):
    turns, clock = make_turns(live_asr)
    turns.listen(None, 1.0)
    assert feed(turns, clock, silence(2.0)) == []          # not armed: the question is still playing
    turns.arm()
    assert [type(e) for e in feed(turns, clock, silence(1.1))] == [Silence]
    turns.stop()
    assert feed(turns, clock, silence(2.0)) == []


def test_a_monologue_cut_at_the_maximum_length_is_one_turn(live_asr):
    turns, clock = make_turns(live_asr, max_utterance_s=2.0)
    turns.listen(None, 5.0)
    long = np.concatenate([asterisk("vm-goodbye"), asterisk("agent-pass"), asterisk("vm-goodbye")])
    events = feed(turns, clock, np.concatenate([silence(0.5), long, silence(1.0)]))
    said = [e for e in events if isinstance(e, CallerTurn)]
    assert len(said) == 1 and said[0].timings.get("parts", 1) >= 2, [e.text for e in said]
    assert "password" in said[0].text.lower() and said[0].text.lower().count("goodbye") >= 1


def test_speech_over_a_prompt_that_must_play_is_not_a_turn(live_asr):
    turns, clock = make_turns(live_asr)
    turns.listen(None, 5.0)
    events = feed(turns, clock, np.concatenate([silence(0.5), asterisk("vm-goodbye"), silence(1.0)]), may=False)
    assert not any(isinstance(e, CallerTurn) for e in events)


def test_calls_carry_20_ms_frames_only(live_asr):
    with pytest.raises(ValueError, match="frame_ms"):
        VadSettings(frame_ms=30)
    with pytest.raises(ValueError, match="20 ms"):
        TurnTaking(VadSettings.model_construct(frame_ms=30), live_asr, lambda t: False, lambda: None)
