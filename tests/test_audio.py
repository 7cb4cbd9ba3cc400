"""Any common file format and rate decodes to 16 kHz mono through a real band-limited resampler."""
import numpy as np
import pytest
import soundfile as sf

from asr.audio import AudioError, load_audio, resample

from .conftest import asterisk


def tone(freq: float, rate: int, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_hz(x: np.ndarray, rate: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.fft.rfftfreq(len(x), 1 / rate)[int(np.argmax(spec))]


@pytest.mark.parametrize("rate,channels,subtype,fmt,ext", [
    (8000, 1, "PCM_16", "WAV", "wav"),
    (16000, 1, "PCM_16", "WAV", "wav"),
    (44100, 2, "PCM_16", "WAV", "wav"),
    (8000, 1, "ULAW", "WAV", "wav"),
    (8000, 1, "ALAW", "WAV", "wav"),
    (48000, 2, "PCM_24", "FLAC", "flac"),
    (44100, 1, "MPEG_LAYER_III", "MP3", "mp3"),
])
def test_formats_decode_to_16k_mono(tmp_path, rate, channels, subtype, fmt, ext):
    x = tone(440, rate)
    data = np.stack([x] * channels, axis=1) if channels > 1 else x
    path = tmp_path / f"t.{ext}"
    sf.write(str(path), data, rate, subtype=subtype, format=fmt)
    y = load_audio(path)
    assert abs(len(y) / 16000 - 1.0) < 0.1            # MP3 adds encoder padding
    assert abs(dominant_hz(y, 16000) - 440) < 5


def test_resampler_is_band_limited():
    """A 10 kHz tone cannot exist at 16 kHz: soxr removes it, linear interpolation would alias it to 6 kHz."""
    y = resample(tone(10000, 44100), 44100, 16000)
    inband = resample(tone(3000, 44100), 44100, 16000)
    assert np.sqrt(np.mean(y**2)) < 0.01 * np.sqrt(np.mean(inband**2))
    assert abs(dominant_hz(inband, 16000) - 3000) < 5


def test_real_speech_keeps_its_length():
    x8 = asterisk("agent-pass", 8000)
    x16 = asterisk("agent-pass", 16000)
    assert abs(len(x16) - 2 * len(x8)) <= 2


def test_bad_files(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        load_audio(tmp_path / "missing.wav")
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio at all\n" * 20)
    with pytest.raises(AudioError, match="not an audio file"):
        load_audio(text)
    empty = tmp_path / "empty.wav"
    sf.write(str(empty), np.zeros(0, np.float32), 8000)
    with pytest.raises(AudioError, match="no audio"):
        load_audio(empty)
