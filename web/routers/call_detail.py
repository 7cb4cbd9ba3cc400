"""One call: the page, its detail JSON, the redacted recording (logged), its waveform and QA reviews of its score."""
from __future__ import annotations

import re
import threading
from collections import OrderedDict
from datetime import datetime, timedelta
from pathlib import Path as FilePath
from typing import Literal

import numpy as np
import soundfile as sf
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from analytics import review as qa
from analytics.report import call_detail
from analytics.timeline import other_party
from config import IvrError
from models import Analysis, Call, RecordingAccess, Segment

from ..auth import CALL_READERS, Principal, guard, user_of
from ..console import Console, console_of, page, utcnow

router = APIRouter()
CALL_ID = Path(ge=1, le=2**31 - 1)
SIGNED_IN = Depends(user_of)
DOWNLOAD = Query(False)
PEAKS = 1000
LOG_WINDOW = timedelta(seconds=60)       # one access row per user, call and action within this window
FROM_START = re.compile(r"\s*bytes\s*=\s*0+\s*-")
REDACTED_TOKEN = re.compile(r"\[[A-Z]+\]")
ACCESS_LOG_ROWS = 200
SPEAKER_SUFFIX = re.compile(r"_(caller|ivr|agent)$")
LABEL_WORDS = {"wpm": "speaking rate", "ratio": "share", "p50": "median", "p95": "p95"}


class ReviewIn(BaseModel):
    item: str = Field(min_length=1, max_length=64)
    answer: Literal["yes", "no", "na"]
    comment: str = Field(min_length=1, max_length=qa.MAX_COMMENT)


def _job(s: Session, call_id: int) -> Analysis | None:
    return s.scalar(select(Analysis).where(Analysis.call_id == call_id))


def _score_view(s: Session, job: Analysis | None, automated: dict | None) -> dict | None:
    """The automated score with the QA view next to it: each question's automated and current answer."""
    if automated is None or job is None:
        return None
    now = {a.item: a for a in qa.answered(s, job)}
    items = []
    for item in automated["items"]:
        current = now.get(item["id"])
        items.append({**item, "automated_answer": item["answer"],
                      "current_answer": current.answer if current else item["answer"],
                      "current_earned": current.earned if current else item["earned"],
                      "current_possible": current.possible if current else item["possible"],
                      "reviewed": bool(current and current.reviewed)})
    qa_total = job.qa_score if job.qa_score is not None else job.score
    return {**automated, "items": items, "qa_total": qa_total, "qa_auto_failed": bool(job.qa_auto_failed),
            "reviewed": bool(job.reviewed)}


def _history(s: Session, console: Console, call_id: int) -> list[dict]:
    return [{**h, "at": console.show(datetime.fromisoformat(h["at"].rstrip("Z")), seconds=True)}
            for h in qa.history(s, call_id)]


def _access_log(s: Session, console: Console, call_id: int) -> list[dict]:
    rows = s.scalars(select(RecordingAccess).where(RecordingAccess.call_id == call_id)
                     .order_by(RecordingAccess.id.desc()).limit(ACCESS_LOG_ROWS))
    return [{"user": r.user_name, "action": r.action, "at": console.show(r.at, seconds=True)} for r in rows]


def _words(s: Session, call_id: int) -> dict[int, list[dict]]:
    rows = s.execute(select(Segment.seq, Segment.words).where(Segment.call_id == call_id))
    return {seq: [{"text": w, "start_s": start, "end_s": end, "redacted": bool(REDACTED_TOKEN.search(w))}
                  for w, start, end in words] for seq, words in rows if words}


def _unit(name: str, value):
    """(value as shown, unit) of a stored metric, from its name."""
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "–", ""
    if value is None or isinstance(value, str):
        return value if value is not None else "–", ""
    if name in ("contained", "zero_out", "self_service_completed"):
        return ("yes" if value else "no"), ""
    if {"ratio", "share"} & set(name.split("_")):
        return round(100 * value, 1), "%"
    if name.endswith("_ms"):
        return round(value), "ms"
    if name.endswith("_s") or name.startswith("talk_s_"):
        return round(value, 2), "s"
    if name.startswith("wpm_"):
        return round(value), "words/min"
    return (int(value) if float(value).is_integer() else value), ""


def _label(name: str) -> str:
    """'talk_s_caller' -> 'talk time (caller)', 'latency_p95_ms' -> 'latency p95'."""
    speaker = SPEAKER_SUFFIX.search(name)
    base = name[:speaker.start()] if speaker else name
    words = [LABEL_WORDS.get(w, w) for w in base.split("_") if w not in ("s", "ms")]
    if base.startswith("talk_s"):
        words = ["talk time"]
    return " ".join(words) + (f" ({speaker.group(1)})" if speaker else "")


def _metric_rows(metrics: dict) -> list[dict]:
    return [{"name": name, "label": _label(name), "value": shown, "unit": unit}
            for name, value in metrics.items() for shown, unit in [_unit(name, value)]]


def _detail(request: Request, call_id: int) -> dict:
    console = console_of(request)
    with console.sessions() as s:
        try:
            detail = call_detail(s, call_id)
        except IvrError as err:
            raise HTTPException(404, str(err)) from None
        call, job = s.get(Call, call_id), _job(s, call_id)
        words = _words(s, call_id)
        for turn in detail["turns"]:
            turn["words"] = words.get(turn["seq"], [])
        detail |= {
            "started_at": console.show(call.started_at, seconds=True), "ended_at": console.show(call.ended_at, True),
            "started_at_utc": detail["started_at"], "zone": console.zone.key,
            "speakers": ["caller", other_party(call)],
            "score": _score_view(s, job, detail["score"]),
            "metrics_table": _metric_rows(detail["metrics"]),
            "review_history": _history(s, console, call_id),
            "access_log": _access_log(s, console, call_id),
            "has_recording": _redacted_path(job) is not None,
        }
        return detail


def _redacted_path(job: Analysis | None) -> FilePath | None:
    """The redacted copy of the call's recording, if it exists (never the original)."""
    if job is None or not job.redacted_recording_path:
        return None
    path = FilePath(job.redacted_recording_path)
    return path if path.is_file() else None


def _recording_of(request: Request, call_id: int) -> tuple[FilePath, str]:
    """(redacted wav path, the other party's speaker name) or 404."""
    with console_of(request).sessions() as s:
        call = s.get(Call, call_id)
        if call is None:
            raise HTTPException(404, f"no call {call_id}")
        path = _redacted_path(_job(s, call_id))
        if path is None:
            raise HTTPException(404, f"call {call_id} has no redacted recording")
        return path, other_party(call)


def _log_access(request: Request, call_id: int, user: str, action: str) -> None:
    """One row per user, call and action within LOG_WINDOW (a player fetches in several range requests)."""
    now = utcnow()
    with console_of(request).sessions.begin() as s:
        recent = s.scalar(select(RecordingAccess.id).where(
            RecordingAccess.call_id == call_id, RecordingAccess.user_name == user,
            RecordingAccess.action == action, RecordingAccess.at > now - LOG_WINDOW).limit(1))
        if recent is None:
            s.add(RecordingAccess(call_id=call_id, user_name=user, action=action, at=now))


@router.get("/calls/{call_id}", include_in_schema=False, **guard(*CALL_READERS))
def call_page(request: Request, call_id: int = CALL_ID):
    console = console_of(request)
    with console.sessions() as s:
        if s.get(Call, call_id) is None:
            raise HTTPException(404, f"no call {call_id}")
        has_recording = _redacted_path(_job(s, call_id)) is not None
        access_log = _access_log(s, console, call_id)
    return page(request, "call.html", call_id=call_id, has_recording=has_recording, access_log=access_log)


@router.get("/api/calls/{call_id}", **guard(*CALL_READERS))
def get_call(request: Request, call_id: int = CALL_ID):
    """The call: redacted transcript with word timings, metrics, score with QA reviews, recording access log."""
    return _detail(request, call_id)


@router.get("/api/calls/{call_id}/recording", **guard(*CALL_READERS))
def get_recording(request: Request, call_id: int = CALL_ID, download: bool = DOWNLOAD,
                  user: Principal = SIGNED_IN):
    """The redacted recording as audio/wav (HTTP Range supported); every play or download is logged."""
    path, _ = _recording_of(request, call_id)
    action = "download" if download else "play"
    asked = request.headers.get("range")
    if asked is None or FROM_START.match(asked):
        _log_access(request, call_id, user.name, action)
    return FileResponse(path, media_type="audio/wav", filename=f"call-{call_id}.redacted.wav",
                        content_disposition_type="attachment" if download else "inline")


_peaks_cache: OrderedDict[tuple[str, float], dict] = OrderedDict()
_peaks_lock = threading.Lock()


def _peaks(path: FilePath, speakers: list[str]) -> dict:
    """~PEAKS max-abs values per channel, read block by block (bounded memory on long calls)."""
    with sf.SoundFile(str(path)) as f:
        frames, rate, channels = f.frames, f.samplerate, f.channels
        bucket = max(1, -(-frames // PEAKS))
        peaks = np.zeros((-(-frames // bucket), channels), dtype=np.float32)
        at = 0
        for block in f.blocks(blocksize=bucket * 256, dtype="float32", always_2d=True):
            n = -(-len(block) // bucket)
            padded = np.zeros((n * bucket, channels), dtype=np.float32)
            padded[:len(block)] = np.abs(block)
            peaks[at:at + n] = padded.reshape(n, bucket, channels).max(axis=1)
            at += n
    names = speakers + [f"channel {i + 1}" for i in range(len(speakers), channels)]
    return {"duration_s": round(frames / rate, 3), "rate": rate,
            "channels": [{"speaker": names[c], "peaks": np.round(peaks[:, c], 3).tolist()} for c in range(channels)]}


@router.get("/api/calls/{call_id}/waveform", **guard(*CALL_READERS))
def get_waveform(request: Request, call_id: int = CALL_ID):
    """Max-abs peaks (~1000 per channel) of the redacted recording, one lane per speaker."""
    path, other = _recording_of(request, call_id)
    key = (str(path), path.stat().st_mtime)
    with _peaks_lock:
        cached = _peaks_cache.get(key)
    if cached is None:
        cached = _peaks(path, ["caller", other])
        with _peaks_lock:
            _peaks_cache[key] = cached
            while len(_peaks_cache) > 64:
                _peaks_cache.popitem(last=False)
    return cached


@router.post("/api/calls/{call_id}/reviews", **guard(*CALL_READERS))
def post_review(body: ReviewIn, request: Request, call_id: int = CALL_ID, user: Principal = SIGNED_IN):
    """Change one question's answer with a comment; returns the reviewed score, the answers and the history."""
    console = console_of(request)
    with console.sessions.begin() as s:
        if s.get(Call, call_id) is None:
            raise HTTPException(404, f"no call {call_id}")
        job = _job(s, call_id)
        if job is None or job.status != "done" or job.scorecard is None:
            raise HTTPException(409, f"call {call_id} has no score to review yet")
        try:
            qa.review(s, call_id, body.item, body.answer, body.comment, user.name)
        except IvrError as err:
            raise HTTPException(422, str(err)) from None
    with console.sessions() as s:
        job = _job(s, call_id)
        score = _score_view(s, job, call_detail(s, call_id)["score"])
        return {"qa_score": score["qa_total"], "qa_auto_failed": score["qa_auto_failed"], "score": score,
                "history": _history(s, console, call_id)}
