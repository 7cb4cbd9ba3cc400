"""Recognizers with the real bundled models: Asterisk's recorded prompts, Korean Vosk, the base model."""
import numpy as np
import pytest

from asr import get_recognizer, load_audio
from asr.model_store import BASE_MODEL_BIN_SIZE
from bench.corpus import corpus_wer, sample
from tts import get_synthesizer

from .conftest import asterisk

# tiny.en is benchmarked at <= 6 % WER on the corpus (bench/asr.py); a 30-prompt sample scatters around it,
# so the test allows 8 %: far below what a broken resampler, window or decoder gives (> 20 %).
WER_BOUND = 0.08


def test_asterisk_sample_wer(live_asr):
    items = sample(30)
    hyps = [live_asr.transcribe(load_audio(p.path), word_timestamps=False).text for p in items]
    wer = corpus_wer([p.text for p in items], hyps)
    print(f"WER on 30 Asterisk prompts: {wer:.3f}")
    assert wer <= WER_BOUND


def test_words_have_times_and_probabilities(live_asr):
    audio = asterisk("agent-pass", 16000)
    t = live_asr.transcribe(audio)
    assert t.language == "en" and 0.0 < t.confidence <= 1.0
    assert abs(t.duration_s - len(audio) / 16000) < 0.01
    assert [w.word.strip(".,").lower() for w in t.words][:3] == ["please", "enter", "your"]
    starts = [w.start for w in t.words]
    assert starts == sorted(starts) and all(w.end >= w.start for w in t.words)
    assert t.words[-1].end <= t.duration_s + 0.01 and all(0 <= w.prob <= 1 for w in t.words)


def test_silence_gives_no_text(live_asr):
    assert live_asr.transcribe(np.zeros(16000 * 2, np.float32)).text == ""


def test_long_audio_uses_the_30s_path(live_asr):
    audio = np.concatenate([asterisk(n, 16000) for n in ("basic-pbx-ivr-main", "agent-pass", "agent-user")])
    assert len(audio) / 16000 > 29
    t = live_asr.transcribe(audio, word_timestamps=False)
    assert "super awesome company" in t.text.lower() and "password" in t.text.lower()


def test_hints_and_shared_pool(live_asr):
    assert live_asr.uses_hints("intent") and not live_asr.uses_hints("digits")   # asr.whisper_prompt_hints
    futures = [live_asr.submit(asterisk(n, 16000), hints=["password", "pound key"], word_timestamps=False)
               for n in ("agent-pass", "auth-thankyou")]
    texts = [f.result(timeout=60).text.lower() for f in futures]
    # the main menu's 25 hints: a prompt that long crashed ctranslate2 (no-speech probability) and, counted in
    # the decoding length, left no room for the words
    menu = ["0", "advisor", "again", "agent", "associate", "balance", "balances", "branch", "bye", "goodbye",
            "history", "hours", "human", "operator", "person", "repeat", "representative", "statement",
            "transactions", "transfer", "check my balance", "recent transactions", "lost card", "transfer money",
            "branch hours"]
    long_prompt = live_asr.transcribe(asterisk("agent-pass", 16000), hints=menu, word_timestamps=False).text.lower()
    assert "password" in texts[0] and "thank you" in texts[1]
    assert "enter your password" in long_prompt, long_prompt
    # one word after the menu's phrases: Whisper once went on "goodbye, goodbye, goodbye..." into the padding
    for name in ("goodbye", "hours"):
        heard = live_asr.transcribe(asterisk(name, 16000), hints=menu, word_timestamps=False).text
        assert heard.lower().strip(".!") == name, heard


@pytest.mark.parametrize("ids, first", [
    ([7, 8, 7, 8, 7], [7, 8]), ([5, 1, 2, 3, 1, 2, 3, 1], [5, 1, 2, 3]), ([1, 2, 3], [1, 2, 3]), ([4, 4], [4]),
    ([], []),
])
def test_a_decode_said_again_into_the_padding_keeps_its_first_saying(ids, first):
    from asr.whisper_backend import _first_of_repeats

    assert _first_of_repeats(ids) == first


def test_accurate_model_is_joined_once_and_detects_language(data_dir):
    rec = get_recognizer("whisper", "accurate")
    joined = data_dir / "models" / "whisper-base" / "model.bin"
    assert joined.stat().st_size == BASE_MODEL_BIN_SIZE
    t = rec.transcribe(asterisk("agent-pass", 16000), language=None)
    assert t.language == "en" and "password" in t.text.lower()


def test_vosk_korean_streaming_with_bundled_model():
    """espeak-ng speaks Korean digits; the bundled Vosk Korean model hears them, streaming partials first."""
    voice = get_synthesizer("espeak", "ko")
    pcm = voice.synthesize("일 이 삼 사 오", 16000)
    rec = get_recognizer("vosk")
    stream = rec.stream(16000)
    partials = [stream.accept(pcm[i : i + 3200]) for i in range(0, len(pcm), 3200)]
    final = stream.finish()
    assert final.language == "ko" and final.text.strip()
    assert any(p for p in partials)
    assert final.words and final.words[0].start < final.words[-1].end


def test_vosk_grammar_restricts_the_result():
    voice = get_synthesizer("espeak", "ko")
    pcm = voice.synthesize("네", 16000)
    stream = get_recognizer("vosk").stream(16000, hints=["네", "아니요"])
    stream.accept(pcm)
    assert stream.finish().text in ("네", "아니요", "")


@pytest.mark.parametrize("engine", ["whisper", "vosk"])
def test_unknown_model_path_is_an_error(engine, tmp_path):
    from config import IvrError

    with pytest.raises(IvrError):
        get_recognizer(engine, str(tmp_path))
