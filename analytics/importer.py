"""`ivr import`: recordings of human-agent calls stored as calls of channel `import`, queued for analysis.

Stereo files keep one party per channel (`customer_channel` says which is the customer); mono files are split
into two voices by analytics/diarize.py. Every file is decoded before anything is stored, and a call is stored
together with its recording copy (stereo WAV: customer left, agent right) and its queued analysis, or not at all."""
from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import numpy as np
import soundfile as sf
from sqlalchemy.orm import sessionmaker

from config import IvrError
from models import Analysis, AnalysisStatus, Call, utcnow

from .diarize import split_speakers

MIN_DURATION_S = 0.5


def decode(path: str | Path) -> tuple[np.ndarray, int]:
    """(frames × channels float32, rate) of any common audio file; one clear IvrError line otherwise."""
    p = Path(path)
    if not p.is_file():
        raise IvrError(f"{path}: no such file")
    try:
        data, rate = sf.read(str(p), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError):
        data, rate = _decode_with_av(p)
    if len(data) < MIN_DURATION_S * rate:
        raise IvrError(f"{path}: too short to be a call ({len(data) / rate:.2f} s)")
    if data.shape[1] > 2:
        raise IvrError(f"{path}: {data.shape[1]} channels; expected mono or stereo (one party per channel)")
    return data, rate


def _decode_with_av(path: Path) -> tuple[np.ndarray, int]:
    import av

    try:
        with av.open(str(path)) as container:
            stream = next((s for s in container.streams if s.type == "audio"), None)
            if stream is None:
                raise IvrError(f"{path}: no audio stream in this file")
            rate, layout = stream.rate, "stereo" if stream.channels >= 2 else "mono"
            resampler = av.AudioResampler(format="flt", layout=layout, rate=rate)
            parts = [f.to_ndarray().reshape(-1, 2 if layout == "stereo" else 1)
                     for frame in container.decode(stream) for f in resampler.resample(frame)]
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError, StopIteration) as err:
        raise IvrError(f"{path}: not a readable audio file ({type(err).__name__})") from None
    if not parts:
        raise IvrError(f"{path}: no audio in this file")
    return np.concatenate(parts).astype(np.float32), rate


def as_call_recording(data: np.ndarray, rate: int, customer_channel: str) -> np.ndarray:
    """Stereo with the customer on the left and the agent on the right."""
    if data.shape[1] == 1:
        customer, agent = split_speakers(data[:, 0], rate)
        return np.stack([customer, agent], axis=1)
    return data if customer_channel == "left" else data[:, ::-1]


def import_files(sessions: sessionmaker, files: list[str], recordings_dir: Path,
                 customer_channel: str = "left") -> list[int]:
    """Store each file as an imported call with its analysis queued; returns the call ids in order."""
    if customer_channel not in ("left", "right"):
        raise IvrError(f"--customer-channel must be left or right, not {customer_channel!r}")
    decoded = [(f, *decode(f)) for f in files]         # a bad file fails before anything is stored
    recordings_dir.mkdir(parents=True, exist_ok=True)
    ids = []
    for name, data, rate in decoded:
        stereo = as_call_recording(data, rate, customer_channel)
        target = recordings_dir / f"import-{uuid.uuid4().hex[:12]}.wav"
        sf.write(str(target), stereo, rate, subtype="PCM_16")
        try:
            ended = utcnow()
            with sessions.begin() as s:
                call = Call(channel="import", ani=None, started_at=ended - timedelta(seconds=len(stereo) / rate),
                            ended_at=ended, outcome="completed", recording_path=str(target),
                            transfer_reason=None)
                s.add(call)
                s.flush()
                s.add(Analysis(call_id=call.id, status=AnalysisStatus.queued, attempts=0))
                ids.append(call.id)
        except Exception:
            target.unlink(missing_ok=True)
            raise
    return ids
