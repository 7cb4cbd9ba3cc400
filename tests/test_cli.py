"""The `ivr` console script as a user runs it: round trip over G.711, and bad input."""
import json

import numpy as np
import pytest
import soundfile as sf

from bench.corpus import wer_normalize

from .conftest import run_ivr

SENTENCE = "The balance of your checking account is $2,450.75. Please say yes to confirm the transfer."


def test_say_then_transcribe_over_ulaw(tmp_path):
    wav = tmp_path / "said.wav"
    r = run_ivr("say", SENTENCE, "-o", str(wav), "--rate", "8000")
    assert r.returncode == 0, r.stderr
    info = sf.info(str(wav))
    assert info.samplerate == 8000 and info.channels == 1 and info.duration > 3
    pcm, _ = sf.read(str(wav), dtype="float32")
    line = tmp_path / "line.wav"
    sf.write(str(line), pcm, 8000, subtype="ULAW")            # G.711 mu-law, as on the phone line
    r = run_ivr("transcribe", str(line), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) >= {"file", "text", "language", "duration_s", "words"}
    assert out["language"] == "en" and abs(out["duration_s"] - info.duration) < 0.05
    heard, said = wer_normalize(out["text"]).split(), wer_normalize(SENTENCE).split()
    import jiwer

    assert jiwer.wer(" ".join(said), " ".join(heard)) <= 0.2, out["text"]
    assert "2450.75" in out["text"].replace(",", "").replace("$", "")
    assert all({"word", "start", "end", "prob"} == set(w) for w in out["words"])


def test_transcribe_several_files_and_engines(tmp_path):
    r = run_ivr("transcribe", "/usr/share/asterisk/sounds/en/auth-thankyou.wav",
                "/usr/share/asterisk/sounds/en/agent-pass.wav")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 2 and "thank you" in lines[0].lower() and "password" in lines[1].lower()
    ko = tmp_path / "ko.wav"
    assert run_ivr("say", "일 이 삼", "-o", str(ko), "--engine", "espeak", "--voice", "ko").returncode == 0
    r = run_ivr("transcribe", str(ko), "--engine", "vosk", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["text"]


def test_understand_runs_the_live_path_on_recorded_speech():
    """Asterisk's recorded prompts (a human voice) at the main menu: words, intent and confidence per file."""
    sounds = "/usr/share/asterisk/sounds/en"
    r = run_ivr("understand", f"{sounds}/hours.wav", f"{sounds}/vm-goodbye.wav", f"{sounds}/agent-pass.wav", "--json")
    assert r.returncode == 0, r.stderr
    hours, goodbye, other = [json.loads(line) for line in r.stdout.splitlines()]
    assert set(hours) >= {"file", "text", "intent", "confidence", "slots"}
    assert (hours["intent"], hours["kind"]) == ("branch_hours", "answer") and hours["file"].endswith("hours.wav")
    assert (goodbye["intent"], goodbye["kind"]) == ("goodbye", "global")
    assert other["intent"] is None and "password" in other["text"].lower()     # heard, but no menu choice
    r = run_ivr("understand", f"{sounds}/vm-goodbye.wav", "--state", "transfer_confirm", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["intent"] == "goodbye", r.stdout + r.stderr


def test_a_menu_word_misheard_at_first_is_heard_again_with_the_menus_phrases(tmp_path):
    """Issue 13's own examples: espeak-ng's m3 voice over G.711 saying "operator" is heard as "Ah, we're ready."
    by open transcription; decoded again with the menu's phrases as Whisper's previous text, it is "Operator."."""
    import subprocess

    from asr import load_audio

    files = []
    for i, words in enumerate(["operator", "customer service"]):
        raw = tmp_path / f"raw{i}.wav"
        subprocess.run(["espeak-ng", "-v", "en-us+m3", "-s", "160", "-w", str(raw), words], check=True)
        files.append(str(tmp_path / f"line{i}.wav"))
        sf.write(files[-1], load_audio(str(raw), 8000), 8000, subtype="ULAW")
    heard = run_ivr("understand", *files, "--json")
    plain = run_ivr("understand", *files, "--json", env={"IVR_ASR__WHISPER_PROMPT_HINTS": "[]"})
    assert heard.returncode == 0 and plain.returncode == 0, heard.stderr + plain.stderr
    heard, plain = ([json.loads(line) for line in r.stdout.splitlines()] for r in (heard, plain))
    assert [h["intent"] for h in heard] == ["speak_to_agent", "speak_to_agent"], heard
    assert [p["intent"] for p in plain] == [None, None], plain           # what open transcription alone made of it


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    (d / "notes.wav").write_text("not audio\n" * 50)
    sf.write(str(d / "empty.wav"), np.zeros(0, np.float32), 8000)
    return d


@pytest.mark.parametrize("args,message", [
    (["transcribe", "{d}/missing.wav"], "no such file"),
    (["transcribe", "{d}/notes.wav"], "not an audio file"),
    (["transcribe", "{d}/empty.wav"], "no audio"),
    (["transcribe", "/usr/share/asterisk/sounds/en/agent-pass.wav", "--engine", "deepspeech"], "invalid choice"),
    (["transcribe", "/usr/share/asterisk/sounds/en/agent-pass.wav", "--model", "{d}"], "unknown model"),
    (["say", "hello", "-o", "{d}/x.wav", "--engine", "festival"], "invalid choice"),
    (["say", "hello", "-o", "{d}/x.wav", "--voice", "nobody"], "unknown piper voice"),
    (["say", "hello", "-o", "{d}/x.wav", "--engine", "espeak", "--voice", "klingon"], "unknown espeak-ng voice"),
    (["say", "hello", "-o", "{d}/x.wav", "--rate", "11025"], "rate must be"),
    (["say", "   ", "-o", "{d}/x.wav"], "empty"),
    (["say", "hello", "-o", "{d}/no/such/dir/x.wav"], "output directory"),
    (["understand", "{d}/notes.wav"], "not an audio file"),
    (["understand", "{d}/missing.wav"], "no such file"),
    (["understand", "/usr/share/asterisk/sounds/en/hours.wav", "--state", "nowhere"], "unknown state"),
    (["frobnicate"], "invalid choice"),
    ([], "required"),
])
def test_bad_input_is_one_line_and_nonzero(bad_files, args, message):
    r = run_ivr(*[a.format(d=bad_files) for a in args])
    assert r.returncode != 0
    assert r.stderr.count("\n") == 1 and message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_an_unreachable_database_is_one_line_and_nonzero():
    r = run_ivr("chat", env={"IVR_DATABASE_URL": "postgresql+psycopg://ivr@127.0.0.1:1/ivr"}, stdin="hello\n")
    assert r.returncode == 1 and r.stderr.startswith("ivr: error: the database is unavailable: "), r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
