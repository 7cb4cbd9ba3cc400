"""The Prometheus metrics every process may export (one registry per process; names start with `ivr_`).
Labels stay few: the endpoint's node name, an outcome, a stage or a queue; never a call id."""
from __future__ import annotations

import threading
import time

from prometheus_client import Counter, Gauge, Histogram

_node = ""
OUTCOMES = ("completed", "transferred", "caller_hangup", "failed", "interrupted")
STAGES = {"endpoint_ms": "end_of_turn", "asr_ms": "asr", "dialog_ms": "dialog", "tts_first_chunk_ms": "tts",
          "media_ms": "media"}

ACTIVE_CALLS = Gauge("ivr_active_calls", "Calls this endpoint is carrying now", ["node"])
CALLS = Counter("ivr_calls", "Calls ended, by outcome", ["node", "outcome"])
TURN_LATENCY = Histogram("ivr_turn_latency_seconds", "End of the caller's turn to the first audio of the reply",
                         ["node"], buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 2.0, 2.5,
                                            3.0, 5.0))
STAGE = Histogram("ivr_stage_seconds", "Where a turn's latency went: end_of_turn, asr, dialog, tts, media",
                  ["node", "stage"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0,
                                              1.5, 2.0, 3.0))
QUEUE_WAIT = Histogram("ivr_queue_wait_seconds", "Time work waited before a worker started it (asr pool, tts)",
                       ["node", "queue"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                                                   2.5, 5.0))
ANALYZER_BACKLOG = Gauge("ivr_analyzer_backlog", "Ended calls waiting for analysis (queued or due for a retry)")
ANALYSES = Counter("ivr_analyses", "Post-call analyses finished, by result (done, failed, lost)", ["result"])
ANALYSIS_SECONDS = Histogram("ivr_analysis_seconds", "Time to analyse one call",
                             buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600))
HTTP_REQUESTS = Counter("ivr_http_requests", "Console HTTP requests, by route template and status",
                        ["route", "status"])


def set_node(name: str | None) -> None:
    """The endpoint's node name (`telephony.node`), the one label value of this process's call metrics."""
    global _node
    _node = name or ""


def node() -> str:
    return _node


def queue_wait(queue: str, seconds: float) -> None:
    QUEUE_WAIT.labels(_node, queue).observe(max(0.0, seconds))


def timed(queue: str, fn):
    """`fn` wrapped so that, when a worker runs it, the wait since now is observed as `queue`'s wait."""
    queued = time.monotonic()

    def run(*args, **kwargs):
        queue_wait(queue, time.monotonic() - queued)
        return fn(*args, **kwargs)

    return run


def turn(timings: dict, latency_ms: float | None) -> None:
    """One finished turn: its latency (when the reply had audio) and each stage it went through."""
    if latency_ms is not None:
        TURN_LATENCY.labels(_node).observe(max(0.0, latency_ms) / 1000)
    for key, stage in STAGES.items():
        value = timings.get(key)
        if isinstance(value, (int, float)):
            STAGE.labels(_node, stage).observe(max(0.0, value) / 1000)


class CallTracker:
    """Counts one call in `ivr_active_calls` from creation until `end`, exactly once whatever path ends it."""

    def __init__(self):
        self._lock = threading.Lock()
        self._open = True
        self.node = _node
        ACTIVE_CALLS.labels(self.node).inc()

    def end(self, outcome: str | None) -> None:
        with self._lock:
            if not self._open:
                return
            self._open = False
        ACTIVE_CALLS.labels(self.node).dec()
        CALLS.labels(self.node, outcome if outcome in OUTCOMES else "failed").inc()
