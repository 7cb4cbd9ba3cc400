"""Post-call analytics throughput on this machine.

    python bench/analytics.py [--calls 120] [--recorded 4] [--threads 1 2]

1. Text stages alone (redaction, sentiment, metrics, topics and complaint, scorecard, store) on IVR calls made
   through the real dialog (`ivr chat` sessions: balance, transactions, lost card, agent, a complaint).
2. With re-transcription: a 50 s stereo agent call (real voices, a card number said and one keyed) imported and
   analysed end to end with the accurate model (faster-whisper base), at the analyzer's thread counts.
Prints calls per minute and the re-transcription real-time factor (transcription time / call duration).
Targets (2 cores): >= 100 calls/min for the text stages; RTF <= 0.15 with the accurate model.
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCRIPTS = [
    ["dtmf:2468#", "what is my balance", "no thanks", "goodbye"],
    ["dtmf:2468#", "I want to hear my recent transactions", "goodbye"],
    ["dtmf:1357#", "I lost my card", "the credit card", "yes", "goodbye"],
    ["dtmf:2468#", "this is ridiculous, I was charged a fee twice and nobody helps me", "talk to an agent"],
    ["dtmf:1357#", "when are you open on saturday", "what is my balance", "goodbye"],
]


def settings(data: Path, threads: int = 1):
    from config import AnalyticsSettings, Settings

    return Settings(data_dir=data, database_url=f"sqlite:///{data}/bench.sqlite3",
                    analytics=AnalyticsSettings(cpu_threads=threads))


def make_chat_calls(app, n: int) -> None:
    from ivr.chat import run_chat

    for i in range(n):
        script = SCRIPTS[i % len(SCRIPTS)]
        ani = "+15550101" if script[0] == "dtmf:1357#" else "+15550100"
        run_chat(app, ani, io.StringIO("\n".join(script) + "\n"), io.StringIO(), io.StringIO())


def time_jobs(analyzer, ids: list[int]) -> tuple[float, list]:
    from sqlalchemy import select

    from models import Analysis

    analyzer.requeue(ids)
    start = time.perf_counter()
    analyzer.drain(set(ids))
    wall = time.perf_counter() - start
    with analyzer.sessions() as s:
        jobs = s.scalars(select(Analysis).where(Analysis.call_id.in_(ids))).all()
    failed = [j for j in jobs if j.status != "done"]
    if failed:
        sys.exit(f"{len(failed)} analyses failed: {failed[0].error}")
    return wall, jobs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=120, help="IVR calls for the text stages")
    ap.add_argument("--recorded", type=int, default=4, help="recorded agent calls to re-transcribe")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="analyzer model threads to try")
    args = ap.parse_args()

    from sqlalchemy import select

    from analytics.importer import import_files
    from analytics.worker import Analyzer
    from bench.agent_call import build_agent_call
    from embedding import Embedder
    from ivr.app import App
    from models import Call
    from models.demo import seed_demo
    from models.migrate import upgrade

    data = Path(tempfile.mkdtemp(prefix="ivr-bench-analytics-"))
    app = App(settings(data))
    upgrade(app.engine)
    seed_demo(app.sessions())
    embedder = Embedder.load(data.parent / "ivr-bench-models")
    print(f"{os.cpu_count()} CPU cores; database {app.settings.db_url}")

    make_chat_calls(app, args.calls)
    with app.sessions() as s:
        ids = list(s.scalars(select(Call.id).where(Call.ended_at.is_not(None))))
    text_only = Analyzer(app.sessions, settings(data).model_copy(update={"analytics": settings(data).analytics
                                                                           .model_copy(update={"transcribe": False})}),
                         embedder=embedder)
    time_jobs(text_only, ids[:3])                                        # warm: scorecards, topic vectors
    wall, _ = time_jobs(text_only, ids)
    print(f"\ntext stages, {len(ids)} IVR calls (chat dialog, live turns): {wall:.1f} s, "
          f"{len(ids) / wall * 60:.0f} calls/min, {wall / len(ids) * 1000:.0f} ms per call   (target >= 100 calls/min)")

    wav = data / "agent-call.wav"
    build_agent_call(wav)
    recorded = import_files(app.sessions, [str(wav)] * args.recorded, data / "recordings")
    for threads in args.threads:
        analyzer = Analyzer(app.sessions, settings(data, threads), embedder=embedder)
        time_jobs(analyzer, recorded[:1])                                # warm: load the model
        wall, jobs = time_jobs(analyzer, recorded)
        audio = sum(j.audio_s for j in jobs)
        asr = sum(j.transcribe_s for j in jobs)
        print(f"\nwith re-transcription (whisper base, {threads} thread(s)), {len(jobs)} agent calls of "
              f"{audio / len(jobs):.0f} s: {wall:.1f} s, {len(jobs) / wall * 60:.1f} calls/min; "
              f"re-transcription RTF {asr / audio:.3f}   (target <= 0.15); "
              f"text stages {(wall - asr) / len(jobs) * 1000:.0f} ms per call")


if __name__ == "__main__":
    main()
