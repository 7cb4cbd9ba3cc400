"""Whole calls through the post-call pipeline, as a bank runs it: `ivr import` of a recorded agent call in which
the customer says a card number and types another one on the keypad. No card number may be left anywhere:
not in the database, the logs, the JSON, nor the redacted recording (transcribed back and searched)."""
from __future__ import annotations

import json
import re
import sqlite3

import pytest
import soundfile as sf

from bench.agent_call import KEYED_PAN, SPOKEN_PAN, build_agent_call

from .conftest import run_ivr

DIGIT_WORDS = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
               "seven": "7", "eight": "8", "nine": "9"}


def digits_in(text: str) -> str:
    """Every digit said or written in `text`, in order ('four 1 one' -> '411'); spaces, commas, dashes and full
    stops join digits (how a number is said or written), anything else separates them."""
    out = []
    for token in re.findall(r"[a-z]+|\d|[^\s,.\-]", text.lower()):
        out.append(token if token.isdigit() else DIGIT_WORDS.get(token, " "))
    return "".join(out)


MACHINE_NUMBERS = [
    re.compile(r"(?<![\d.])\d+\.\d{5,}(?![\d.])"),                   # 1.4111111 (a ratio, a duration)
    re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d)?([.,]\d+)?"),     # a timestamp: 2026-11-11 11:11:11
]


def words_of(text: str) -> str:
    """The words in `text`: the strings in it when it is JSON, and any number long enough to be a card, but not its
    timings and ids (joined up, "end_s": 11.11 then "start_s": 11.11 would read as digits a caller said)."""
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if not isinstance(data, (dict, list)):
        return text
    words: list[str] = []

    def walk(value) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                words.append(key)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) or (isinstance(value, int) and abs(value) >= 10 ** 12):
            words.append(str(value))

    walk(data)
    return " ".join(words)


def assert_no_card_number(text: str, where: str) -> None:
    """No card's first or last 8 digits anywhere in `text`, however split between words, and no card-length digit
    run; machine numbers (timings, ids, timestamps) are not words."""
    text = words_of(text)
    for machine in MACHINE_NUMBERS:
        text = machine.sub(" ", text)
    said = digits_in(text).replace(" ", "")
    for pan in (SPOKEN_PAN, KEYED_PAN):
        assert pan[:8] not in said and pan[-8:] not in said, f"card digits in {where}: {text[:3000]}"
    assert not re.search(r"\d{13,19}", digits_in(text)), f"a long digit run in {where}: {text[:3000]}"


@pytest.fixture(scope="module")
def call_wav(tmp_path_factory):
    path = tmp_path_factory.mktemp("import") / "agent-call.wav"
    return path, build_agent_call(path)


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
    in_tones = [t for t in call["turns"] if t["speaker"] == "caller" and t["start_s"] >= keyed_from - 0.3
                and t["end_s"] <= keyed_to + 0.3]
    assert all(t["text"] == "[KEYPAD]" for t in in_tones), in_tones       # words Whisper hears in the tones


def test_no_card_number_in_the_json_the_logs_or_the_database(imported):
    assert_no_card_number(imported["json"], "calls show --json")
    progress_bar = re.compile(r"\d+/\d+ \[[^\]]*(it/s|s/it)\]")        # model-loading bars: counts and rates, not call data
    assert_no_card_number(progress_bar.sub(" ", imported["logs"]), "the logs")
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


def test_calls_list_and_topics_show_the_scored_call(imported):
    env, call = imported["env"], imported["call"]
    listed = json.loads(run_ivr("calls", "list", "--since", "1d", "--json", env=env).stdout)
    assert [(c["id"], c["channel"], c["analysis"]) for c in listed] == [(imported["id"], "import", "done")]
    assert listed[0]["score"] == call["score"]["total"] and listed[0]["complaint"] is True
    assert json.loads(run_ivr("calls", "list", "--min-score", "101", "--json", env=env).stdout) == []
    assert json.loads(run_ivr("calls", "list", "--outcome", "transferred", "--json", env=env).stdout) == []
    topics = json.loads(run_ivr("topics", "--since", "7d", "--json", env=env).stdout)
    assert topics["calls"] == 1 and topics["previous_calls"] == 0
    complaints = [t for t in topics["topics"] if t["kind"] == "complaint"]
    assert [(t["topic"], t["count"], t["change"]) for t in complaints] == [(call["complaint"]["subject"], 1, None)]
    for bad in (["topics", "--since", "0d"], ["calls", "show", "999"], ["calls", "list", "--since", "yesterday"]):
        r = run_ivr(*bad, env=env)
        assert r.returncode != 0 and r.stderr.startswith("ivr: error:") and len(r.stderr.splitlines()) == 1, r.stderr


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
