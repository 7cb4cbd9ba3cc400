"""Supervisor: the calls in progress on every endpoint, as a page, a JSON snapshot and a Server-Sent Events stream."""
from __future__ import annotations

import json
import threading
import time

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from models import Role

from ..auth import guard, principal_of
from ..console import console_of, page
from ..live_calls import STUCK_RULE, SnapshotCache, changes, snapshot

router = APIRouter()
POLL_S = 0.5            # how often a stream looks at the database
KEEPALIVE_S = 15.0      # a comment line when nothing changed, so proxies keep the connection
RECHECK_S = 60.0        # how often a stream checks that its session is still valid
MAX_STREAM_S = 3600.0   # then the stream ends; the browser's EventSource reconnects
RETRY_MS = 3000         # the browser's reconnection delay
_cache_lock = threading.Lock()


@router.get("/live", include_in_schema=False, **guard(Role.supervisor))
def live_page(request: Request):
    return page(request, "live.html", stuck_rule=STUCK_RULE)


@router.get("/api/live", **guard(Role.supervisor))
def live_snapshot(request: Request):
    """The calls in progress per node: caller ID, state, last turns, no-match/no-input counts, stuck (first)."""
    console = console_of(request)
    with console.sessions() as s:
        return snapshot(s, console)


@router.get("/api/live/stream", **guard(Role.supervisor))
async def live_stream(request: Request):
    """Server-Sent Events: `snapshot` (the /api/live JSON) at once and on every change, keepalives, ends within 1 h."""
    cache = _cache_of(request)
    return StreamingResponse(_events(request, cache), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _cache_of(request: Request) -> SnapshotCache:
    """The app's shared snapshot cache: N open pages cost one database read per poll, not N."""
    state = request.app.state
    with _cache_lock:
        if getattr(state, "live_cache", None) is None:
            state.live_cache = SnapshotCache(console_of(request), max_age_s=POLL_S * 0.8)
        return state.live_cache


def _event(snap: dict) -> str:
    return f"event: snapshot\ndata: {json.dumps(snap, separators=(',', ':'))}\n\n"


async def _events(request: Request, cache: SnapshotCache):
    """The stream's body; it stops when the client goes, its session ends, or MAX_STREAM_S has passed."""
    import anyio

    started = last_sent = last_check = time.monotonic()
    snap = await run_in_threadpool(cache.get)
    last = changes(snap)
    yield f"retry: {RETRY_MS}\n" + _event(snap)
    while time.monotonic() - started < MAX_STREAM_S:
        await anyio.sleep(POLL_S)
        if await request.is_disconnected():
            return
        now = time.monotonic()
        if now - last_check >= RECHECK_S:
            last_check = now
            if await run_in_threadpool(principal_of, request) is None:
                return   # signed out or expired: the reconnection gets a 401
        snap = await run_in_threadpool(cache.get)
        if changes(snap) != last:
            last, last_sent = changes(snap), time.monotonic()
            yield _event(snap)
        elif now - last_sent >= KEEPALIVE_S:
            last_sent = now
            yield ": keepalive\n\n"
