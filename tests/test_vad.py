"""The endpointer on real recorded speech (Asterisk prompts) with silences, clicks and a little line noise."""
import numpy as np
import pytest

from asr.vad import Endpointer, NoInput, SpeechStarted, Utterance, split_utterances
from config import VadSettings

from .conftest import asterisk, pcm16, silence

RATE = 8000
NOISE = np.random.default_rng(7)


def line(*parts: np.ndarray) -> np.ndarray:
    x = np.concatenate(parts)
    return x + NOISE.normal(0, 10 ** (-65 / 20), len(x)).astype(np.float32)  # -65 dBFS line hiss


def run(ep: Endpointer, samples: np.ndarray) -> list:
    data = pcm16(samples)
    events = []
    for i in range(0, len(data) - ep.frame_bytes + 1, ep.frame_bytes):
        events += ep.process(data[i : i + ep.frame_bytes])
    return events


def speech_bounds(x: np.ndarray) -> tuple[float, float]:
    loud = np.flatnonzero(np.abs(x) > 0.02)
    return loud[0] / RATE, loud[-1] / RATE


def test_three_utterances_between_silences():
    a, b, c = asterisk("agent-pass"), asterisk("auth-thankyou"), asterisk("cannot-complete-as-dialed")
    audio = line(silence(0.8), a, silence(1.5), b, silence(1.5), c, silence(1.0))
    utts = split_utterances(pcm16(audio), VadSettings(), RATE)
    assert len(utts) == 3
    offset = 0.8
    for utt, clip, gap in zip(utts, (a, b, c), (1.5, 1.5, 1.0)):
        start, end = speech_bounds(clip)
        assert utt.start_s <= offset + start                      # pre-roll: nothing clipped at the front
        assert utt.start_s >= offset + start - 0.7
        assert abs(utt.end_s - (offset + end)) < 0.25
        offset += len(clip) / RATE + gap


def test_clicks_and_short_bursts_are_not_speech():
    click = np.zeros(160, np.float32)
    click[3] = 0.9                                               # a line click
    burst = NOISE.normal(0, 0.3, int(0.06 * RATE)).astype(np.float32)  # 60 ms crackle / cough-like burst
    audio = line(silence(0.5), click, silence(0.7), burst, silence(0.7), click, burst, silence(1.0))
    ep = Endpointer(VadSettings(), RATE)
    assert not [e for e in run(ep, audio) if isinstance(e, (SpeechStarted, Utterance))]


def test_speech_started_fires_early_and_once():
    ep = Endpointer(VadSettings(), RATE)
    events = run(ep, line(silence(0.5), asterisk("agent-pass"), silence(1.0)))
    starts = [e for e in events if isinstance(e, SpeechStarted)]
    assert len(starts) == 1
    onset = 0.5 + speech_bounds(asterisk("agent-pass"))[0]
    assert onset < starts[0].at_s < onset + 0.4                  # what barge-in reacts to
    assert isinstance(events[-1], Utterance)


def test_no_input_after_timeout():
    ep = Endpointer(VadSettings(no_input_s=2.0), RATE)
    ep.listen()
    events = run(ep, line(silence(3.0)))
    assert events == [NoInput(2.0)]
    ep.listen()                                                  # re-armed: speech in time means no NoInput
    events = run(ep, line(silence(1.0), asterisk("auth-thankyou"), silence(1.0)))
    assert not [e for e in events if isinstance(e, NoInput)]


def test_long_speech_is_cut_at_max_utterance():
    speech = np.concatenate([asterisk("basic-pbx-ivr-main")])     # ~20 s of continuous prompt
    utts = split_utterances(pcm16(line(speech)), VadSettings(max_utterance_s=5.0, hangover_ms=1500), RATE)
    assert utts[0].truncated and abs(len(utts[0].audio) / 2 / RATE - 5.0) < 0.05


def test_endpointer_at_16k_and_frame_size_checked():
    ep = Endpointer(VadSettings(), 16000)
    assert ep.frame_bytes == 640
    try:
        ep.process(b"\x00" * 320)
    except ValueError as err:
        assert "640" in str(err)
    else:
        raise AssertionError("a short frame was accepted")
    utts = split_utterances(pcm16(line(silence(0.5, 16000), asterisk("agent-pass", 16000), silence(0.5, 16000))),
                            VadSettings(), 16000)
    assert len(utts) == 1 and utts[0].sample_rate == 16000


def test_cut_ends_the_turn_before_the_hangover_with_the_same_audio():
    clip = asterisk("agent-pass")
    ep = Endpointer(VadSettings(), RATE)
    events = run(ep, line(silence(0.5), clip, silence(0.2)))  # 200 ms of a 400 ms hangover
    assert ep.in_speech and not [e for e in events if isinstance(e, Utterance)]
    assert ep.trailing_silence_ms >= 140
    early, last_voiced = ep.audio_so_far()
    utt = ep.cut()
    assert not ep.in_speech and ep.trailing_silence_ms == 0
    assert utt.end_frame == last_voiced and utt.audio == early
    full = split_utterances(pcm16(line(silence(0.5), clip, silence(1.0))), VadSettings(), RATE)
    assert len(full) == 1 and abs(full[0].end_s - utt.end_s) <= 0.06  # where the speech ended does not change
    with pytest.raises(RuntimeError):
        ep.cut()
