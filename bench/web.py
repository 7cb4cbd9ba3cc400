"""Console response times with a bank-sized call store.

    python bench/web.py [--calls 10000] [--requests 200] [--users 10] [--seconds 20] [--postgres]

Builds a store of real analysed calls (the console test data: chat calls through the real dialog and an imported,
re-transcribed agent recording), clones them to --calls calls spread over 30 days, starts `ivr web` as its own
process (uvicorn), signs in as a supervisor and measures, over HTTP on loopback:
1. one user: p50/p95 of the calls page (HTML and JSON; default, filtered, full-text search, sorted, deep page), and of
   call detail (HTML and JSON) for random calls;
2. --users concurrent users browsing (calls page, a filter, a call's detail) for --seconds: requests/s, p50/p95, errors.
Target (2 cores): calls page and call detail p95 <= 150 ms with 10,000 stored calls.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD_TABLES = ("turns", "call_events", "transcript_segments", "redactions", "sentiments", "metric_values",
                "score_items", "call_topics")


def clone_calls(sessions, n: int) -> int:
    """Copy the stored calls, with all their rows, until there are n; start times spread over the last 30 days."""
    from sqlalchemy import func, select

    from models import Base, utcnow

    engine = sessions.kw["bind"]
    tables = Base.metadata.tables
    rng = random.Random(7)
    with engine.begin() as conn:
        calls = [dict(r._mapping) for r in conn.execute(select(tables["calls"]))]
        analyses = {r.call_id: dict(r._mapping) for r in conn.execute(select(tables["analyses"]))}
        children = {t: [dict(r._mapping) for r in conn.execute(select(tables[t]))] for t in CHILD_TABLES}
        next_id = conn.scalar(select(func.max(tables["calls"].c.id))) + 1
        now, made = utcnow(), len(calls)
        while made < n:
            batch = {t: [] for t in ("calls", "analyses", *CHILD_TABLES)}
            for _ in range(min(2000, n - made)):
                src = rng.choice(calls)
                start = now - timedelta(seconds=rng.uniform(60, 30 * 86400))
                length = (src["ended_at"] - src["started_at"]) if src["ended_at"] else timedelta(seconds=60)
                batch["calls"].append({**src, "id": next_id, "started_at": start, "ended_at": start + length})
                if src["id"] in analyses:
                    job = analyses[src["id"]]
                    jitter = None if job["score"] is None else max(0.0, min(100.0, job["score"] + rng.uniform(-20, 10)))
                    batch["analyses"].append({**_without_id(job), "call_id": next_id, "score": jitter, "qa_score": jitter})
                for t in CHILD_TABLES:
                    batch[t] += [{**_without_id(row), "call_id": next_id} for row in children[t] if row["call_id"] == src["id"]]
                next_id += 1
                made += 1
            for t, rows in batch.items():
                if rows:
                    conn.execute(tables[t].insert(), rows)
    return made


def _without_id(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "id"}


def signed_in(base: str):
    import httpx

    from tests.console_data import PASSWORDS

    c = httpx.Client(base_url=base, timeout=30)
    r = c.post("/api/login", json={"username": "sue", "password": PASSWORDS["sue"]})
    r.raise_for_status()
    c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return c


def timed(c, url: str, html: bool) -> float:
    t = time.perf_counter()
    r = c.get(url, headers={"accept": "text/html" if html else "application/json"})
    took = (time.perf_counter() - t) * 1000
    if r.status_code != 200:
        raise SystemExit(f"{url}: {r.status_code} {r.text[:300]}")
    return took


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=10000)
    ap.add_argument("--requests", type=int, default=200, help="requests per single-user case")
    ap.add_argument("--users", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--postgres", action="store_true", help="a local PostgreSQL (tests/postgres.py) instead of SQLite")
    args = ap.parse_args()

    from config import get_settings
    from tests.console_data import build, start_web

    work = Path(tempfile.mkdtemp(prefix="bench-web-"))
    os.environ["IVR_DATA_DIR"] = str(work)
    env = {"IVR_DATA_DIR": str(work), "IVR_LOG_LEVEL": "ERROR"}
    pg = None
    if args.postgres:
        from tests.postgres import PostgresServer

        pg = PostgresServer().start()
        env["IVR_DATABASE_URL"] = os.environ["IVR_DATABASE_URL"] = pg.create_database("bench_web")
    get_settings.cache_clear()
    t = time.perf_counter()
    data = build(work, env.get("IVR_DATABASE_URL"))
    env["IVR_DATABASE_URL"] = data.settings.db_url
    made = clone_calls(data.sessions, args.calls)
    print(f"store: {made} calls ({'PostgreSQL' if pg else 'SQLite'}), built in {time.perf_counter() - t:.0f} s")
    console, base = start_web(env)
    try:
        c = signed_in(base)
        rng = random.Random(3)
        ids = [rng.randint(1, made) for _ in range(args.requests)]
        cases = {
            "calls page (HTML)": ("/calls", True),
            "calls API, default": ("/api/calls", False),
            "calls API, filtered": ("/api/calls?outcome=completed&score_min=60&complaint=false", False),
            "calls API, search": ("/api/calls?q=lost%20card", False),
            "calls API, sorted by score": ("/api/calls?sort=score&order=asc", False),
            "calls API, page 100": ("/api/calls?page=100", False),
            "call detail (HTML)": (None, True),
            "call detail API": (None, False),
        }
        print(f"{'one user':28} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        worst = {}
        for name, (url, html) in cases.items():
            timed(c, url or "/calls/1", html)                                # warm
            times = [timed(c, url or (f"/calls/{i}" if html else f"/api/calls/{i}"), html) for i in ids]
            worst[name] = pct(times, 95)
            print(f"{name:28} {statistics.median(times):8.1f} {pct(times, 95):8.1f} {max(times):8.1f}")
        print(concurrent(base, made, args.users, args.seconds))
        calls_p95 = max(v for k, v in worst.items() if k.startswith("calls"))
        detail_p95 = max(v for k, v in worst.items() if k.startswith("call detail"))
        print(f"calls page p95 {calls_p95:.1f} ms, call detail p95 {detail_p95:.1f} ms with {made} calls "
              f"(target <= 150 ms): {'PASS' if max(calls_p95, detail_p95) <= 150 else 'MISS'}")
    finally:
        console.terminate()
        console.wait(20)
        if pg:
            pg.stop()
    return 0


def concurrent(base: str, made: int, users: int, seconds: float) -> str:
    """`users` threads, each signed in, browsing until time is up."""
    times, errors, lock = [], [0], threading.Lock()
    stop_at = time.monotonic() + seconds

    def browse(seed: int):
        c, rng = signed_in(base), random.Random(seed)
        urls = ["/calls", "/api/calls?outcome=transferred", "/api/calls?q=balance&sort=score"]
        while time.monotonic() < stop_at:
            url = rng.choice(urls + [f"/calls/{rng.randint(1, made)}", f"/api/calls/{rng.randint(1, made)}"])
            try:
                took = timed(c, url, not url.startswith("/api"))
                with lock:
                    times.append(took)
            except (SystemExit, Exception):  # noqa: BLE001 - counted, the run goes on
                with lock:
                    errors[0] += 1

    threads = [threading.Thread(target=browse, args=(i,)) for i in range(users)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if not times:
        return f"{users} users: no request answered ({errors[0]} errors)"
    return (f"{users} concurrent users for {seconds:.0f} s: {len(times) / seconds:.1f} requests/s, "
            f"p50 {statistics.median(times):.1f} ms, p95 {pct(times, 95):.1f} ms, errors {errors[0]}")


if __name__ == "__main__":
    sys.exit(main())
