"""The console's call detail: the page, its JSON (word timings, QA view of the score, access log), the redacted
recording (Range, logged once per playback), the waveform and QA reviews, on the seeded console database."""
from __future__ import annotations

import re
from datetime import UTC, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import soundfile as sf
from sqlalchemy import delete, func, select

from analytics.review import answered
from analytics.scorecard import total_of
from models import Analysis, Call, RecordingAccess, ScoreReview

from .console_data import client
from .test_analytics_calls import assert_no_card_number


@pytest.fixture(scope="module")
def quinn(console_data):
    return client(console_data, "quinn")


@pytest.fixture(scope="module")
def sue(console_data):
    return client(console_data, "sue")


def _access_rows(data, call_id: int, user: str, action: str | None = None) -> list[RecordingAccess]:
    with data.sessions() as s:
        q = select(RecordingAccess).where(RecordingAccess.call_id == call_id, RecordingAccess.user_name == user)
        if action:
            q = q.where(RecordingAccess.action == action)
        return s.scalars(q.order_by(RecordingAccess.id)).all()


def _reviews(data) -> int:
    with data.sessions() as s:
        return s.scalar(select(func.count(ScoreReview.id)))


def _job(data, call_id: int) -> Analysis:
    with data.sessions() as s:
        return s.scalar(select(Analysis).where(Analysis.call_id == call_id))


def test_detail_has_word_timings_bank_zone_times_and_no_card_digits(console_data, quinn):
    r = quinn.get(f"/api/calls/{console_data.import_id}")
    assert r.status_code == 200, r.text
    d = r.json()
    assert_no_card_number(r.text, "the call detail JSON")
    assert d["has_recording"] is True and d["speakers"] == ["caller", "agent"]
    timed = [t for t in d["turns"] if t["words"]]
    assert len(timed) == len(d["turns"]) >= 4, "every re-transcribed segment carries its words"
    for turn in timed:
        assert " ".join(w["text"] for w in turn["words"]) == turn["text"]
        for w in turn["words"]:
            assert turn["start_s"] - 0.01 <= w["start_s"] <= w["end_s"] <= turn["end_s"] + 0.01
    redacted = [w for t in timed for w in t["words"] if w["redacted"]]
    assert redacted and all(re.fullmatch(r"\[[A-Z]+\]\W*", w["text"]) for w in redacted)
    assert "[PAN]" in {w["text"].strip(".,") for w in redacted} <= {"[PAN]", "[KEYPAD]"}   # keypad: tones, no words
    with console_data.sessions() as s:
        call = s.get(Call, console_data.import_id)
        zone_shown = call.started_at.replace(tzinfo=UTC).astimezone(
            ZoneInfo(console_data.settings.console.timezone))
    assert d["started_at"] == zone_shown.strftime("%Y-%m-%d %H:%M:%S")
    assert d["zone"] == console_data.settings.console.timezone
    metrics = {m["name"]: m for m in d["metrics_table"]}
    assert metrics["duration_s"]["unit"] == "s" and metrics["talk_ratio_caller"]["unit"] == "%"
    assert metrics["talk_ratio_caller"]["value"] == round(100 * d["metrics"]["talk_ratio_caller"], 1)
    score = d["score"]
    assert score["total"] == _job(console_data, console_data.import_id).score
    for item in score["items"]:
        assert item["automated_answer"] == item["answer"] and item["current_answer"] in ("yes", "no", "na")


def test_chat_call_detail_has_turns_without_word_timings_and_no_recording(console_data, quinn):
    chat = console_data.chat_ids[2]
    d = quinn.get(f"/api/calls/{chat}").json()
    assert d["channel"] == "chat" and d["has_recording"] is False and d["speakers"] == ["caller", "ivr"]
    assert d["turns"] and all(t["words"] == [] for t in d["turns"])
    assert any(t["text"] == "[PIN]" for t in d["turns"])
    r = quinn.get(f"/api/calls/{chat}/recording")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")
    assert "no redacted recording" in r.json()["error"]
    assert quinn.get(f"/api/calls/{chat}/waveform").status_code == 404
    assert _access_rows(console_data, chat, "quinn") == []


def test_recording_is_the_redacted_copy_with_ranges_and_logged_once_per_playback(console_data, quinn):
    call_id = console_data.import_id
    with console_data.sessions.begin() as s:
        s.execute(delete(RecordingAccess).where(RecordingAccess.call_id == call_id,
                                                RecordingAccess.user_name == "quinn"))
        original = Path(s.get(Call, call_id).recording_path).read_bytes()
    redacted = Path(_job(console_data, call_id).redacted_recording_path).read_bytes()

    full = quinn.get(f"/api/calls/{call_id}/recording")
    assert full.status_code == 200 and full.headers["content-type"] == "audio/wav"
    assert full.content == redacted and full.content != original
    assert full.headers["accept-ranges"] == "bytes"
    assert len(_access_rows(console_data, call_id, "quinn", "play")) == 1

    first = quinn.get(f"/api/calls/{call_id}/recording", headers={"Range": "bytes=0-99"})
    assert first.status_code == 206 and first.content == redacted[:100]
    assert first.headers["content-range"] == f"bytes 0-99/{len(redacted)}"
    later = quinn.get(f"/api/calls/{call_id}/recording", headers={"Range": "bytes=5000-"})
    assert later.status_code == 206 and later.content == redacted[5000:]
    assert later.headers["content-range"] == f"bytes 5000-{len(redacted) - 1}/{len(redacted)}"
    assert len(_access_rows(console_data, call_id, "quinn", "play")) == 1, "one row per playback, not per range"

    with console_data.sessions.begin() as s:   # a minute later: ranges further on continue the same playback,
        for row in s.scalars(select(RecordingAccess).where(RecordingAccess.call_id == call_id)):
            row.at -= timedelta(seconds=61)
    assert quinn.get(f"/api/calls/{call_id}/recording", headers={"Range": "bytes=200000-"}).status_code == 206
    assert len(_access_rows(console_data, call_id, "quinn", "play")) == 1
    assert quinn.get(f"/api/calls/{call_id}/recording", headers={"Range": "bytes=0-"}).status_code == 206  # a new one
    assert len(_access_rows(console_data, call_id, "quinn", "play")) == 2

    down = quinn.get(f"/api/calls/{call_id}/recording", params={"download": 1})
    assert down.status_code == 200 and down.content == redacted
    assert down.headers["content-disposition"].startswith("attachment")
    assert len(_access_rows(console_data, call_id, "quinn", "download")) == 1
    log = quinn.get(f"/api/calls/{call_id}").json()["access_log"]
    assert log[0]["user"] == "quinn" and log[0]["action"] == "download"
    assert [e["action"] for e in log if e["user"] == "quinn"] == ["download", "play", "play"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", log[0]["at"])
    html = quinn.get(f"/calls/{call_id}", headers={"accept": "text/html"}).text   # shown before any script runs
    shown = html.split('id="access-log"', 1)[1].split("</table>", 1)[0]
    assert f"<td>{log[0]['at']}</td><td>quinn</td><td>download</td>" in shown


def test_waveform_has_one_lane_per_speaker_and_silence_where_the_card_number_was(console_data, quinn):
    r = quinn.get(f"/api/calls/{console_data.import_id}/waveform")
    assert r.status_code == 200, r.text
    wave = r.json()
    assert [c["speaker"] for c in wave["channels"]] == ["caller", "agent"]
    info = sf.info(_job(console_data, console_data.import_id).redacted_recording_path)
    assert wave["rate"] == info.samplerate and abs(wave["duration_s"] - info.duration) < 0.01
    for channel in wave["channels"]:
        peaks = channel["peaks"]
        assert 900 <= len(peaks) <= 1000 and all(0 <= p <= 1 for p in peaks)
    per_s = len(wave["channels"][0]["peaks"]) / wave["duration_s"]
    detail = quinn.get(f"/api/calls/{console_data.import_id}").json()
    pan = next(r for r in detail["redactions"] if r["type"] == "PAN")
    inside = slice(int((pan["start_s"] + 0.3) * per_s), int((pan["end_s"] - 0.3) * per_s))
    assert all(max(c["peaks"][inside]) < 0.002 for c in wave["channels"]), "the redacted span is silent"
    said = next(t for t in detail["turns"] if t["speaker"] == "caller" and not any(w["redacted"] for w in t["words"]))
    caller_speech = slice(int(said["start_s"] * per_s), int(said["end_s"] * per_s) + 1)
    assert max(wave["channels"][0]["peaks"][caller_speech]) > 0.05, "the caller's speech is on the caller lane"
    assert quinn.get(f"/api/calls/{console_data.import_id}/waveform").json() == wave


@pytest.fixture
def review_target(console_data, quinn):
    """A question the automated scorecard answered 'no'; put back to its automated answer afterwards."""
    items = quinn.get(f"/api/calls/{console_data.import_id}").json()["score"]["items"]
    item = next(i for i in items if i["answer"] == "no" and not i["auto_fail"] and i["current_answer"] == "no")
    yield item, items
    quinn.post(f"/api/calls/{console_data.import_id}/reviews",
               json={"item": item["id"], "answer": item["answer"], "comment": "back to the automated answer"})


def test_review_changes_the_qa_score_keeps_the_automated_answer_and_grows_the_history(console_data, quinn,
                                                                                     review_target):
    item, items = review_target
    call_id, before = console_data.import_id, _job(console_data, console_data.import_id)
    history_before = quinn.get(f"/api/calls/{call_id}").json()["review_history"]
    r = quinn.post(f"/api/calls/{call_id}/reviews",
                   json={"item": item["id"], "answer": "yes", "comment": "  The agent did say it at 0:03.  "})
    assert r.status_code == 200, r.text
    out = r.json()
    earned = sum(i["current_earned"] for i in items) + item["current_possible"]
    expected = round(100 * earned / sum(i["current_possible"] for i in items), 1)
    assert out["qa_score"] == expected > before.qa_score and out["qa_auto_failed"] is False
    job = _job(console_data, call_id)
    assert job.qa_score == expected and job.reviewed and job.score == before.score
    with console_data.sessions() as s:
        assert total_of(answered(s, job)) == (expected, False)
    changed = next(i for i in out["score"]["items"] if i["id"] == item["id"])
    assert changed["automated_answer"] == changed["answer"] == "no"
    assert changed["current_answer"] == "yes" and changed["reviewed"] is True
    assert len(out["history"]) == len(history_before) + 1
    assert out["history"][-1] | {"at": None} == {"item": item["id"], "answer": "yes", "previous_answer": "no",
                                                 "comment": "The agent did say it at 0:03.", "user": "quinn",
                                                 "at": None}
    detail = quinn.get(f"/api/calls/{call_id}").json()
    assert detail["score"]["qa_total"] == expected and detail["score"]["total"] == before.score
    assert detail["review_history"] == out["history"]


def test_supervisor_can_review_too(console_data, sue, review_target):
    item, _ = review_target
    r = sue.post(f"/api/calls/{console_data.import_id}/reviews",
                 json={"item": item["id"], "answer": "na", "comment": "not applicable on this call"})
    assert r.status_code == 200, r.text
    assert r.json()["history"][-1]["user"] == "sue"


@pytest.mark.parametrize("body", [
    {"item": "agent_greeting", "answer": "maybe", "comment": "why not"},
    {"item": "agent_greeting", "answer": "yes", "comment": ""},
    {"item": "agent_greeting", "answer": "yes", "comment": "    "},
    {"item": "agent_greeting", "answer": "yes", "comment": "x" * 2001},
    {"item": "no_such_question", "answer": "yes", "comment": "some reason"},
    {"item": "x" * 65, "answer": "yes", "comment": "some reason"},
    {"answer": "yes", "comment": "some reason"},
])
def test_bad_reviews_are_refused_and_nothing_is_stored(console_data, quinn, body):
    before, qa_score = _reviews(console_data), _job(console_data, console_data.import_id).qa_score
    r = quinn.post(f"/api/calls/{console_data.import_id}/reviews", json=body)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/json"), r.text
    assert r.json()["error"]
    assert _reviews(console_data) == before
    assert _job(console_data, console_data.import_id).qa_score == qa_score


def test_review_of_a_call_without_a_score_is_a_conflict(console_data, quinn):
    with console_data.sessions.begin() as s:
        call = Call(channel="sip", ani="+15550199")
        s.add(call)
        s.flush()
        call_id = call.id
    try:
        r = quinn.post(f"/api/calls/{call_id}/reviews",
                       json={"item": "agent_greeting", "answer": "yes", "comment": "some reason"})
        assert r.status_code == 409 and "no score" in r.json()["error"]
        assert quinn.get(f"/api/calls/{call_id}").json()["score"] is None
        assert quinn.get(f"/api/calls/{call_id}/recording").status_code == 404
    finally:
        with console_data.sessions.begin() as s:
            s.execute(delete(Call).where(Call.id == call_id))


def test_roles_sign_in_and_csrf(console_data, quinn):
    call_id = console_data.import_id
    admin, anonymous = client(console_data, "admin"), client(console_data)
    gets = [f"/api/calls/{call_id}", f"/api/calls/{call_id}/recording", f"/api/calls/{call_id}/waveform"]
    body = {"item": "agent_greeting", "answer": "yes", "comment": "some reason"}
    before = _reviews(console_data)
    for url in gets:
        assert admin.get(url).status_code == 403
        assert anonymous.get(url).status_code == 401
    assert admin.get(f"/calls/{call_id}", headers={"accept": "text/html"}).status_code == 403
    assert anonymous.get(f"/calls/{call_id}", headers={"accept": "text/html"},
                         follow_redirects=False).status_code == 303
    assert admin.post(f"/api/calls/{call_id}/reviews", json=body).status_code == 403
    assert anonymous.post(f"/api/calls/{call_id}/reviews", json=body).status_code == 401
    no_csrf = client(console_data, "quinn")
    del no_csrf.headers["X-CSRF-Token"]
    assert no_csrf.post(f"/api/calls/{call_id}/reviews", json=body).status_code == 403
    assert _reviews(console_data) == before
    assert _access_rows(console_data, call_id, "admin") == []


@pytest.mark.parametrize("bad, status", [("0", 422), ("-3", 422), (str(2**31), 422), ("abc", 422), ("999999", 404)])
def test_bad_call_ids(quinn, bad, status):
    for url in (f"/api/calls/{bad}", f"/api/calls/{bad}/recording", f"/api/calls/{bad}/waveform"):
        r = quinn.get(url)
        assert r.status_code == status and r.json()["error"], (url, r.text)
    r = quinn.post(f"/api/calls/{bad}/reviews", json={"item": "agent_greeting", "answer": "yes", "comment": "why"})
    assert r.status_code == status and r.json()["error"]
    page = quinn.get(f"/calls/{bad}", headers={"accept": "text/html"})
    assert page.status_code == (404 if status == 404 else 400) and "text/html" in page.headers["content-type"]


def test_the_page_loads_its_script_and_has_the_stable_ids(console_data, sue):
    r = sue.get(f"/calls/{console_data.import_id}", headers={"accept": "text/html"})
    assert r.status_code == 200
    html = r.text
    assert '<script src="/static/call.js" defer></script>' in html and "/static/call.css" in html
    assert f'data-call-id="{console_data.import_id}"' in html
    assert f'<audio id="player" controls preload="metadata" src="/api/calls/{console_data.import_id}/recording">' in html
    for needed in ('id="waveform"', 'id="transcript"', 'id="scorecard"', 'id="qa-score"', 'id="access-log"'):
        assert needed in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "no inline scripts (CSP)"
    assert not re.search(r"\sstyle=|\son[a-z]+=", html), "no inline styles or handlers (CSP)"
    chat = sue.get(f"/calls/{console_data.chat_ids[0]}", headers={"accept": "text/html"})
    assert chat.status_code == 200 and 'id="player"' not in chat.text and 'id="transcript"' in chat.text
    for asset in ("/static/call.js", "/static/call.css"):
        assert sue.get(asset).status_code == 200


def test_routes_are_guarded_and_documented(console_data, quinn):
    spec = quinn.get("/api/openapi.json").json()["paths"]
    ours = {path: ops for path, ops in spec.items() if path.startswith("/api/calls/{call_id}")}
    mine = {"/api/calls/{call_id}", "/api/calls/{call_id}/recording", "/api/calls/{call_id}/waveform",
            "/api/calls/{call_id}/reviews"}
    assert mine <= set(ours)
    for path in mine:
        for op in ours[path].values():
            assert op["x-roles"] == ["qa", "supervisor"] and op.get("description")
