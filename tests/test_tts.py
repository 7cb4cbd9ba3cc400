"""Synthesizers, banking normalisation, edge-tts fallback and the prompt cache, all for real."""
import logging
import threading
import time
from datetime import date, time as clock

import numpy as np
import pytest
import soundfile as sf

from config import Settings
from tts import PromptCache, TtsError, get_synthesizer, load_prompts, normalize
from tts.normalize import date_to_words, number_to_words, time_to_words


@pytest.mark.parametrize("text,spoken", [
    ("$2,450.75", "two thousand four hundred fifty dollars and seventy-five cents"),
    ("$10,200.00", "ten thousand two hundred dollars"),
    ("$0.05", "five cents"),
    ("$1.01", "one dollar and one cent"),
    ("-$20.50", "minus twenty dollars and fifty cents"),
    ("account ending 4321", "account ending four three two one"),
    ("card ending in 1111", "card ending in one one one one"),
    ("reference number 508213", "reference number five zero eight two one three"),
    ("opens at 9:00", "opens at nine a.m."),
    ("closes at 17:30", "closes at five thirty p.m."),
    ("at 12:00", "at noon"),
    ("at 8:05 pm", "at eight oh five p.m."),
    ("on 2026-11-03", "on November third"),
    ("the 21st", "the twenty-first"),
    ("1250 points", "one thousand two hundred fifty points"),
    ("3.5%", "three point five percent"),
])
def test_banking_normalisation(text, spoken):
    assert normalize(text) == spoken


def test_number_words():
    assert number_to_words(1_000_001) == "one million one"
    assert number_to_words(99) == "ninety-nine"
    assert date_to_words(date(2026, 2, 22)) == "February twenty-second"
    assert time_to_words(clock(0, 0)) == "midnight"


def test_piper_streams_sentence_by_sentence_and_cancels():
    piper = get_synthesizer("piper")
    text = "Welcome to Demo Bank. Your balance is $2,450.75. Is there anything else I can help you with?"
    start = time.perf_counter()
    stream = piper.stream(text, 8000)
    first = next(stream)
    first_at = time.perf_counter() - start
    rest = list(stream)
    total = time.perf_counter() - start
    assert len(rest) >= 2 and first_at < total / 2        # audio starts before the whole text is rendered
    assert len(first) % 2 == 0 and np.abs(np.frombuffer(first, "<i2")).max() > 1000

    cancel = threading.Event()
    chunks = []
    for chunk in piper.stream(text, 8000, cancel):
        chunks.append(chunk)
        cancel.set()                                        # barge-in after the first chunk
    assert len(chunks) == 1


def test_rates():
    espeak = get_synthesizer("espeak")                     # deterministic (piper adds sampling noise)
    a8, a16 = espeak.synthesize("Thank you.", 8000), espeak.synthesize("Thank you.", 16000)
    assert abs(len(a16) / len(a8) - 2.0) < 0.02


def test_espeak_speaks_mandarin_and_korean():
    for voice, text in (("cmn", "您的余额是两千元"), ("ko", "안녕하세요")):
        pcm = get_synthesizer("espeak", voice).synthesize(text, 8000)
        assert len(pcm) > 8000                              # > 0.5 s of audio


def test_unknown_engine_and_voices():
    for engine, voice in (("piper", "nl_NL-nobody"), ("espeak", "klingon"), ("edge", "Aria")):
        with pytest.raises(TtsError, match="unknown"):
            get_synthesizer(engine, voice)
    with pytest.raises(TtsError, match="unknown TTS engine"):
        get_synthesizer("festival")


def test_edge_offline_falls_back_within_timeout(caplog, tmp_path):
    s = Settings(data_dir=tmp_path, tts={"edge_timeout_s": 2.0, "fallback_engine": "espeak"})
    edge = get_synthesizer("edge", "en-US-AriaNeural", s)
    caplog.set_level(logging.WARNING)
    start = time.perf_counter()
    pcm = edge.synthesize("Your balance is $5.00. Goodbye.", 8000)
    assert time.perf_counter() - start < 2.0 + 1.5          # never a hang
    assert len(pcm) > 8000
    warnings = [r for r in caplog.records if "edge-tts unreachable" in r.getMessage()]
    assert len(warnings) == 1                              # one warning, not one per sentence


def test_edge_serves_its_disk_cache_offline(tmp_path):
    s = Settings(data_dir=tmp_path, tts={"fallback_engine": "espeak"})
    edge = get_synthesizer("edge", "en-US-AriaNeural", s)
    audio, rate = get_synthesizer("espeak").render("hello from the cache")
    cached = edge._cache_file("hello from the cache")
    cached.parent.mkdir(parents=True)
    sf.write(str(cached), audio, rate, format="MP3")        # as if fetched earlier while online
    samples, got_rate = edge.render("hello from the cache")
    assert got_rate == rate and abs(len(samples) - len(audio)) < rate * 0.2


def test_prompt_cache_renders_once(tmp_path):
    cache = PromptCache(tmp_path, get_synthesizer("espeak"), 8000)
    prompts = load_prompts("en")
    paths = cache.render_all(prompts)
    assert set(paths) == set(prompts) and all(p.is_file() for p in paths.values())
    mtimes = {p: p.stat().st_mtime_ns for p in paths.values()}
    cache.render_all(prompts)
    assert mtimes == {p: p.stat().st_mtime_ns for p in paths.values()}
    pcm = cache.get(prompts["goodbye"])
    assert pcm is not None and len(pcm) > 8000
    assert cache.get("a sentence nobody rendered") is None


@pytest.mark.parametrize("text,spoken", [
    ("您尾号4 3 2 1的活期账户余额为¥2,450.75。", "您尾号四三二一的活期账户余额为两千四百五十元七角五分。"),
    ("支出84.12元", "支出八十四元一角二分"),
    ("存入5.05元", "存入五元零五分"),
    ("¥0.50", "五角"),
    ("¥10200", "一万零二百元"),
    ("11月29日，Grocery Mart", "十一月二十九日，Grocery Mart"),
    ("周一至周五上午9点到下午5点", "周一至周五上午九点到下午五点"),
    ("13:30", "下午一点三十分"),
    ("最近的5笔交易", "最近的五笔交易"),
    ("2024-11-29", "十一月二十九日"),
])
def test_mandarin_normalisation(text, spoken):
    assert normalize(text, "zh") == spoken


@pytest.mark.parametrize("n,words", [(0, "零"), (10, "十"), (15, "十五"), (20, "二十"), (105, "一百零五"),
                                     (1010, "一千零一十"), (1250, "一千二百五十"), (2450, "两千四百五十"),
                                     (10086, "一万零八十六"), (12000, "一万二千"), (20000, "两万"),
                                     (100000005, "一亿零五")])
def test_mandarin_number_words(n, words):
    from tts.normalize_zh import number_to_zh

    assert number_to_zh(n) == words


def test_mandarin_is_cut_into_phrases_after_its_particles():
    from tts.synthesizer import split_for_speech

    assert split_for_speech("您尾号四三二一的活期账户余额为两千四百五十元七角五分。") == [
        "您尾号", "四三二一的活期账户余额为", "两千四百五十元七角五分。"]   # the first phrase: the same for any card
    assert split_for_speech("请问有什么可以帮您？您可以说：查余额、转账。") == [
        "请问有什么可以帮您？", "您可以说：", "查余额、", "转账。"]
    assert split_for_speech("您的通话将被录音。", eager=False) == ["您的通话将被录音。"]


def test_the_mandarin_voice_speaks_without_long_silences(tmp_path):
    """Kokoro-82M (packaged weights) reads Mandarin (`ivr say --language zh`, in its own process as ivr serve runs
    it); its ~0.3 s lead and ~0.75 s trail of silence are trimmed."""
    from .conftest import run_ivr

    out = tmp_path / "zh.wav"
    r = run_ivr("say", "您好，欢迎致电演示银行。", "--language", "zh", "-o", str(out), env={"IVR_DATA_DIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    pcm, rate = sf.read(str(out), dtype="float32")
    assert rate == 8000
    loud = np.flatnonzero(np.abs(pcm) > 0.02 * np.abs(pcm).max())
    assert 1.0 < len(pcm) / 8000 < 6.0                     # a second or more of speech
    assert loud[0] / 8000 < 0.1 and (len(pcm) - loud[-1]) / 8000 < 0.3
