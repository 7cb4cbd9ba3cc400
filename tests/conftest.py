"""Shared fixtures: an isolated data dir per session, real models loaded once, helpers to build audio."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
IVR = str(Path(sys.executable).with_name("ivr"))


@pytest.fixture(scope="session", autouse=True)
def data_dir(tmp_path_factory) -> Path:
    """Every test writes under one throwaway IVR_DATA_DIR."""
    d = tmp_path_factory.mktemp("ivr-data")
    os.environ["IVR_DATA_DIR"] = str(d)
    from config import get_settings

    get_settings.cache_clear()
    return d


def run_ivr(*args: str, env: dict | None = None, stdin: str = "", timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the installed `ivr` console script as a user would."""
    return subprocess.run([IVR, *args], input=stdin, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=ROOT)


def demo_app(path: Path, database_url: str | None = None, calls: bool = False):
    """An App on a fresh demo-bank database (SQLite under `path` unless a URL is given), with the real NLU.
    `calls`: with the demo bank's earlier calls (tests that count stored calls start without them)."""
    from config import Settings
    from ivr.app import App
    from ivr.nlu import get_classifier
    from models.demo import seed_demo
    from models.migrate import upgrade

    a = App(Settings(data_dir=path, database_url=database_url or f"sqlite:///{path}/bank.sqlite3"))
    upgrade(a.engine)
    seed_demo(a.sessions(), calls=calls)
    a.__dict__["nlu"] = get_classifier()
    return a


@pytest.fixture(scope="session")
def live_asr():
    from asr import get_recognizer

    return get_recognizer("whisper", "live")


def asterisk(name: str, rate: int = 8000) -> np.ndarray:
    """An Asterisk prompt (real recorded speech) as float32 mono."""
    from asr.audio import load_audio

    return load_audio(Path("/usr/share/asterisk/sounds/en") / f"{name}.wav", rate)


def pcm16(samples: np.ndarray) -> bytes:
    from asr.audio import float_to_pcm16

    return float_to_pcm16(samples)


def silence(seconds: float, rate: int = 8000) -> np.ndarray:
    return np.zeros(int(seconds * rate), np.float32)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One `ivr serve` on the demo bank for a test module (SIP tests); stopped by SIGTERM, which must exit 0."""
    from .sip_peers import Server

    srv = Server(tmp_path_factory.mktemp("serve"))
    yield srv
    srv.stop()
    assert srv.proc.returncode == 0, "".join(srv.output[-30:])


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for the session (skipped, saying why, where Debian `postgresql` is missing)."""
    from tests.postgres import PostgresServer, pg_bin

    if pg_bin() is None:
        pytest.skip("PostgreSQL is not installed here (apt-get install postgresql); the SQLite runs still count")
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def console_data(tmp_path_factory):
    """The console's database: real chat calls, an imported agent recording, all analysed; one user per role."""
    from .console_data import build

    return build(tmp_path_factory.mktemp("console"))


@pytest.fixture(scope="session")
def cluster():
    """One `ivr cluster` (4 endpoints, PostgreSQL, Kamailio) for the session: see tests/cluster_peer.py."""
    from .cluster_peer import ENDPOINTS, KAMAILIO, Cluster

    if KAMAILIO is None or shutil.which("sipp") is None:
        pytest.skip("kamailio or sip-tester not installed")
    c = Cluster(ENDPOINTS)
    yield c
    assert c.stop() == 0, "".join(c.output[-30:])
    assert not subprocess.run(["pgrep", "-f", str(c.conf)], capture_output=True).stdout   # nothing left behind


def pytest_terminal_summary(terminalreporter):
    """The figures the reliability tests measured (see tests/figures.py), one line each."""
    from .figures import LINES

    if LINES:
        terminalreporter.section("figures")
        for line in LINES:
            terminalreporter.write_line(line)
