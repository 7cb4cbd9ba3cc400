"""`kill -9` the analyzer mid-job (issue 12): real `ivr analyze --follow` processes on PostgreSQL re-transcribe
imported recordings of real speech; one is killed while it holds a job and renews its lease, a second one is
started at once. The killed job must be taken again only when its lease has run out, and be done once (one claim
more, results stored once, like those of the calls nobody interrupted); no other job may be lost or done twice."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sqlalchemy import select

from models import RESULT_TABLES, Analysis, make_engine, session_factory, utcnow
from models.migrate import upgrade

from .conftest import IVR, ROOT, asterisk, silence
from .figures import report

LEASE_S = 5                 # the shortest lease the settings allow; the heartbeat renews it every LEASE_S / 3
CALLS = 4
EXCHANGES = [("pls-hold-while-try", "hello-world"), ("agent-pass", "please-try-again"),
             ("invalid", "cannot-complete-as-dialed"), ("transfer", "all-circuits-busy-now"),
             ("queue-thankyou", "auth-thankyou"), ("demo-thanks", "vm-goodbye")]   # (agent, customer) prompts


def agent_call(path: Path) -> Path:
    """A stereo call recording of Asterisk prompts (real speech, ~35 s): customer left, agent right, in turns."""
    customer, agent = [], []
    for said, answer in (tuple(asterisk(n) for n in pair) for pair in EXCHANGES):
        agent += [silence(0.4), said, silence(0.5 + len(answer) / 8000)]
        customer += [silence(0.9 + len(said) / 8000), answer]
    left, right = np.concatenate(customer), np.concatenate(agent)
    n = max(len(left), len(right)) + 4000
    sf.write(str(path), np.stack([np.pad(left, (0, n - len(left))), np.pad(right, (0, n - len(right)))], axis=1),
             8000, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def warm_models(data_dir):
    """The analyzers' models prepared once in the shared data dir (ONNX export, joined Whisper base), so the
    measured time is the analyzers' own."""
    from asr.model_store import accurate_model_dir
    from embedding import Embedder

    Embedder.load(data_dir / "models")
    accurate_model_dir(data_dir / "models")


class Analyzers:
    """`ivr analyze --follow` processes as an operator starts them, each logging to its own file."""

    def __init__(self, tmp_path: Path, url: str):
        self.tmp_path, self.procs = tmp_path, []
        self.env = {**os.environ, "IVR_DATABASE_URL": url, "IVR_ANALYTICS__LEASE_S": str(LEASE_S),
                    "IVR_ANALYTICS__TRANSCRIBE": "true", "IVR_ANALYTICS__POLL_S": "0.2",
                    "IVR_ANALYTICS__NICE": "0"}   # full priority: the measured recovery is not other tests' CPU

    def start(self) -> tuple[subprocess.Popen, str]:
        log = open(self.tmp_path / f"analyzer-{len(self.procs) + 1}.log", "w")
        proc = subprocess.Popen([IVR, "analyze", "--follow"], env=self.env, cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT)
        log.close()
        self.procs.append(proc)
        return proc, f"{socket.gethostname()}:{proc.pid}"      # the worker id the analyzer claims jobs under

    def log(self, i: int) -> str:
        return (self.tmp_path / f"analyzer-{i}.log").read_text()

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


def result_rows(sessions, call_id: int) -> dict[str, list[tuple]]:
    """Every stored result of a call, per table, without row and call ids (sorted: comparable between calls)."""
    rows = {}
    with sessions() as s:
        for table in RESULT_TABLES:
            cols = [c for c in table.__table__.columns if c.name not in ("id", "call_id")]
            got = s.execute(select(*cols).where(table.call_id == call_id)).all()
            rows[table.__tablename__] = sorted((tuple(map(repr, r)) for r in got))
    return rows


def test_an_analyzer_killed_mid_job_leaves_the_job_to_another_which_does_it_once(tmp_path, postgres, warm_models):
    url = postgres.create_database("analyzer_crash")
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    from analytics.importer import import_files

    recordings = tmp_path / "recordings"
    ids = import_files(sessions, [str(agent_call(tmp_path / "agent-call.wav"))] * CALLS, recordings)  # queued

    def jobs() -> dict[int, Analysis]:
        with sessions() as s:
            return {j.call_id: j for j in s.scalars(select(Analysis))}

    def states() -> dict[int, tuple]:
        return {i: (str(j.status), j.worker, j.attempts, j.lease_until) for i, j in jobs().items()}

    analyzers = Analyzers(tmp_path, url)
    try:
        first, first_id = analyzers.start()
        deadline, victim = time.monotonic() + 60, None
        while victim is None:      # one job done under the first analyzer, the next one running with a renewed lease
            assert first.poll() is None and time.monotonic() < deadline, (states(), analyzers.log(1)[-3000:])
            now = jobs()
            if any(j.status == "done" and j.worker == first_id for j in now.values()):
                victim = next((j for j in now.values() if j.status == "running" and j.worker == first_id
                               and (j.lease_until - j.started_at).total_seconds() > LEASE_S + 0.3), None)
            if all(j.status == "done" for j in now.values()):
                pytest.fail("the first analyzer finished every job before it could be killed mid-job")
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        killed_at = utcnow()
        first.wait(10)
        assert first.returncode == -signal.SIGKILL
        second, second_id = analyzers.start()
        held = jobs()[victim.call_id]
        assert (held.status, held.worker, held.attempts) == ("running", first_id, 1)   # left as the dead one had it

        deadline = time.monotonic() + 90
        while any(j.status != "done" for j in jobs().values()):
            assert second.poll() is None and time.monotonic() < deadline, (states(), analyzers.log(2)[-3000:])
            time.sleep(0.1)
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0
    finally:
        analyzers.close()

    final = jobs()
    done_once = sum(j.status == "done" and j.attempts == 1 + (j.call_id == victim.call_id) for j in final.values())
    assert sorted(final) == sorted(ids)                      # one analysis row per call: none lost, none added
    assert all(j.status == "done" and j.error is None and j.transcribed for j in final.values()), states()
    again = final[victim.call_id]
    assert (again.worker, again.attempts) == (second_id, 2)   # claimed twice in all: the dead try and this one
    assert again.started_at >= held.lease_until              # ... not before the dead analyzer's lease ran out
    others = [j for j in final.values() if j.call_id != victim.call_id]
    assert all(j.attempts == 1 and j.worker in (first_id, second_id) for j in others), states()
    reference = next(j.call_id for j in others if j.worker == first_id)     # a call analysed without interruption
    expected = result_rows(sessions, reference)
    assert expected["transcript_segments"] and any("password" in r[2].lower() for r in expected["transcript_segments"])
    duplicates = 0
    for call_id in ids:                                       # the same recording: the same results, each stored once
        got = result_rows(sessions, call_id)
        duplicates += sum(max(0, len(got[t]) - len(expected[t])) for t in expected)
        assert got == expected, (call_id, got, expected)
    assert all(Path(j.redacted_recording_path).is_file() for j in final.values())
    assert not list(recordings.glob("*.tmp.wav"))
    second_log = analyzers.log(2)
    assert "Traceback" not in second_log and "lease lost" not in second_log, second_log[-3000:]
    retaken, recovered = ((t - killed_at).total_seconds() for t in (again.started_at, again.finished_at))
    report(f"analyzer-kill: jobs {CALLS}, killed mid-job 1, done once {done_once}, duplicates {duplicates}, "
           f"recovered in {recovered:.1f} s (taken again after {retaken:.1f} s, lease {LEASE_S} s)")
