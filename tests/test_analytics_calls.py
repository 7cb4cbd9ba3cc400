"""Whole calls through the post-call pipeline, as a bank runs it: `ivr import` of a recorded agent call in which
the customer says a card number and types another one on the keypad. No card number may be left anywhere:
not in the database, the logs, the JSON, nor the redacted recording (transcribed back and searched)."""
from __future__ import annotations

import json
import re
import sqlite3

import numpy as np
import pytest
import soundfile as sf

from .conftest import run_ivr

RATE = 8000
SPOKEN_PAN = "4111111111111111"
KEYED_PAN = "5555555555554444"
DIGIT_WORDS = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
               "seven": "7", "eight": "8", "nine": "9"}
KEYS = {"1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "4": (770, 1209), "5": (770, 1336),
        "6": (770, 1477), "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "0": (941, 1336)}
SCRIPT = [          # (speaker, what is said); "KEYS" is the customer typing a card number on the keypad
    ("agent", "Thank you for calling First Demo Bank, this is Sam. How can I help you today?"),
    ("customer", "Hi. My card was declined at the supermarket twice today and I am really annoyed about it."),
    ("agent", "I'm sorry to hear that. Can you give me the card number please?"),
    ("customer", "Sure. My card number is four one one one, one one one one, one one one one, one one one one."),
    ("agent", "Thank you. Please type the number of your other card on the keypad now."),
    ("customer", "KEYS"),
    ("agent", "Thank you, both cards are checked. Is there anything else I can help you with?"),
    ("customer", "No thanks, that's all."),
    ("agent", "Thank you for calling First Demo Bank. Goodbye."),
]
GAP_S = 0.8


def digits_in(text: str) -> str:
    """Every digit said or written in `text`, in order ('four 1 one' -> '411'); spaces, commas, dashes and full
    stops join digits (how a number is said or written), anything else separates them."""
    out = []
    for token in re.findall(r"[a-z]+|\d|[^\s,.\-]", text.lower()):
        out.append(token if token.isdigit() else DIGIT_WORDS.get(token, " "))
    return "".join(out)


def assert_no_card_number(text: str, where: str) -> None:
    said = digits_in(text).replace(" ", "")
    for pan in (SPOKEN_PAN, KEYED_PAN):
        assert pan[:8] not in said and pan[-8:] not in said, f"card digits in {where}: {text[:3000]}"
    assert not re.search(r"\d{13,19}", digits_in(text)), f"a long digit run in {where}: {text[:3000]}"


def tones(keys: str) -> np.ndarray:
    on, off = int(0.09 * RATE), int(0.07 * RATE)
    t = np.arange(on) / RATE
    parts = []
    for k in keys:
        lo, hi = KEYS[k]
        parts += [0.25 * (np.sin(2 * np.pi * lo * t) + np.sin(2 * np.pi * hi * t)), np.zeros(off)]
    return np.concatenate(parts).astype(np.float32)


@pytest.fixture(scope="module")
def call_wav(tmp_path_factory):
    """A stereo agent-call recording: customer left (Piper), agent right (espeak-ng), keypad tones on the left.
    Returns the file and where the card numbers are (seconds)."""
    from tts import get_synthesizer

    voices = {"customer": get_synthesizer("piper"), "agent": get_synthesizer("espeak")}
    parts, spans, at = [], {}, 0.5
    for speaker, text in SCRIPT:
        if text == "KEYS":
            sound = tones(KEYED_PAN)
        else:
            sound = np.frombuffer(voices[speaker].synthesize(text, RATE), "<i2").astype(np.float32) / 32768
        parts.append((0 if speaker == "customer" else 1, at, sound))
        if "four one one one" in text or text == "KEYS":
            spans["keyed" if text == "KEYS" else "spoken"] = (at, at + len(sound) / RATE)
        at += len(sound) / RATE + GAP_S
    audio = np.zeros((int((at + 0.5) * RATE), 2), np.float32)
    for channel, start, sound in parts:
        audio[int(start * RATE):int(start * RATE) + len(sound), channel] = sound
    path = tmp_path_factory.mktemp("import") / "agent-call.wav"
    sf.write(str(path), audio, RATE, subtype="PCM_16")
    return path, spans


@pytest.fixture(scope="module")
def imported(call_wav, tmp_path_factory):
    call_wav, spans = call_wav
    data = tmp_path_factory.mktemp("import-db")
    env = {"IVR_DATA_DIR": str(data), "IVR_LOG_LEVEL": "DEBUG"}
    assert run_ivr("db", "init", env=env).returncode == 0
    r = run_ivr("import", str(call_wav), "--json", env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    call_id = json.loads(r.stdout.splitlines()[0])["call_id"]
    shown = run_ivr("calls", "show", str(call_id), "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    return {"env": env, "data": data, "spans": spans, "id": call_id, "logs": r.stderr + shown.stderr, "json": shown.stdout,
            "call": json.loads(shown.stdout)}


def test_the_import_is_analysed_with_both_parties_in_one_timeline(imported):
    call = imported["call"]
    assert call["channel"] == "import" and call["analysis"]["status"] == "done", call["analysis"]
    speakers = {t["speaker"] for t in call["turns"]}
    assert speakers == {"caller", "agent"}
    agent = " ".join(t["text"] for t in call["turns"] if t["speaker"] == "agent").lower()
    assert "first demo bank" in agent or "calling" in agent
    assert all(t["end_s"] >= t["start_s"] for t in call["turns"])
    assert [t["start_s"] for t in call["turns"]] == sorted(t["start_s"] for t in call["turns"])
    assert call["score"]["scorecard"] == "banking_agent" and call["score"]["items"]
    assert call["complaint"]["flag"] is True
    assert call["sentiment"]["caller"]["overall"] is not None


def test_both_card_numbers_are_redacted_and_located(imported):
    call = imported["call"]
    caller_text = " ".join(t["text"] for t in call["turns"] if t["speaker"] == "caller")
    assert "[PAN]" in caller_text, caller_text
    pans = [r for r in call["redactions"] if r["type"] == "PAN" and r["speaker"] == "caller"]
    assert len(pans) == 2, call["redactions"]
    spoken, keyed = sorted(pans, key=lambda r: r["start_s"])
    said_from, said_to = imported["spans"]["spoken"]
    keyed_from, keyed_to = imported["spans"]["keyed"]
    assert said_from < spoken["start_s"] < spoken["end_s"] <= said_to + 0.3, (spoken, said_from, said_to)
    assert abs(keyed["start_s"] - keyed_from) < 0.05 and abs(keyed["end_s"] - keyed_to) < 0.15, (keyed, keyed_from)


def test_no_card_number_in_the_json_the_logs_or_the_database(imported):
    assert_no_card_number(imported["json"], "calls show --json")
    assert_no_card_number(imported["logs"], "the logs")
    db = sqlite3.connect(imported["data"] / "ivr.sqlite3")
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        for row in db.execute(f"SELECT * FROM {table}"):
            for value in row:
                if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?", value):
                    assert_no_card_number(value, f"table {table}")


def test_the_redacted_recording_has_no_card_number_in_speech_or_tones(imported):
    from analytics.dtmf import detect_keys
    from asr import get_recognizer
    from asr.audio import resample

    path = imported["data"] / "recordings"
    redacted = next(path.glob("*.redacted.wav"))
    audio, rate = sf.read(str(redacted), dtype="float32")
    assert detect_keys(audio[:, 0], rate) == []
    heard = get_recognizer("whisper", "accurate").transcribe(resample(audio[:, 0], rate, 16000), language="en")
    assert "declined" in heard.text.lower()                     # the rest of what the customer said is there
    assert_no_card_number(heard.text, "the redacted recording")
    original, _ = sf.read(str(next(p for p in path.glob("*.wav") if ".redacted" not in p.name)), dtype="float32")
    assert [k for k, _, _ in detect_keys(original[:, 0], rate)] == list(KEYED_PAN)   # it was there before


def test_a_mono_recording_is_split_into_agent_and_customer(call_wav, tmp_path):
    audio, rate = sf.read(str(call_wav[0]), dtype="float32")
    mono = tmp_path / "mono.flac"
    sf.write(str(mono), audio.mean(axis=1), rate)
    env = {"IVR_DATA_DIR": str(tmp_path), "IVR_ANALYTICS__TRANSCRIBE": "true"}
    assert run_ivr("db", "init", env=env).returncode == 0
    r = run_ivr("import", str(mono), "--json", env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    call = json.loads(run_ivr("calls", "show", str(json.loads(r.stdout)["call_id"]), "--json", env=env).stdout)
    said = {sp: " ".join(t["text"] for t in call["turns"] if t["speaker"] == sp).lower() for sp in ("agent", "caller")}
    assert "how can i help" in said["agent"] and "declined" in said["caller"], said
    assert "declined" not in said["agent"] and "how can i help" not in said["caller"], said


@pytest.mark.parametrize("content", [b"", b"not audio at all, just text" * 50, b"RIFF\x00\x01WAVEfmt "])
def test_a_bad_file_is_one_clear_line_and_nothing_is_stored(tmp_path, content):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    env = {"IVR_DATA_DIR": str(tmp_path)}
    assert run_ivr("db", "init", env=env).returncode == 0
    r = run_ivr("import", str(bad), env=env)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stderr.startswith(f"ivr: error: {bad}:"), r.stderr
    listed = run_ivr("calls", "list", "--json", env=env)
    assert json.loads(listed.stdout) == []
    assert not list((tmp_path / "recordings").glob("*")) if (tmp_path / "recordings").exists() else True
