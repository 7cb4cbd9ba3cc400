"""Audio in: decode any common file, downmix, resample with soxr, convert PCM16 <-> float32."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from config import IvrError

ASR_RATE = 16000


class AudioError(IvrError):
    """A file that is missing, unreadable as audio, or holds no samples."""


def resample(samples: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Band-limited resampling (soxr, high quality); float32 mono in and out."""
    if src_rate == dst_rate:
        return samples.astype(np.float32, copy=False)
    return soxr.resample(samples, src_rate, dst_rate, quality="HQ").astype(np.float32, copy=False)


def _decode_with_av(path: Path) -> tuple[np.ndarray, int]:
    import av  # ships with faster-whisper; reads MP3, AAC, Opus, μ-law in odd containers, ...

    try:
        with av.open(str(path)) as container:
            stream = next((s for s in container.streams if s.type == "audio"), None)
            if stream is None:
                raise AudioError(f"not an audio file: {path}")
            rate = stream.rate
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
            chunks = [
                out.to_ndarray().reshape(-1)
                for frame in container.decode(stream)
                for out in resampler.resample(frame)
            ]
            chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as err:
        raise AudioError(f"not an audio file: {path}") from err
    return (np.concatenate(chunks) if chunks else np.zeros(0, np.float32)), rate


def load_audio(path: str | Path, rate: int = ASR_RATE) -> np.ndarray:
    """Read WAV/FLAC/MP3/... at any rate and channel count; return float32 mono at `rate`."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"no such file: {path}")
    try:
        data, src_rate = sf.read(str(path), dtype="float32", always_2d=True)
        samples = data.mean(axis=1)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        samples, src_rate = _decode_with_av(path)
    if samples.size == 0:
        raise AudioError(f"no audio in file: {path}")
    return resample(samples, src_rate, rate)


def pcm16_to_float(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def float_to_pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
