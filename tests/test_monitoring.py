"""Observability: JSON log lines that name their call and never carry a card number or a PIN, the Prometheus
exporter every process serves, and the metrics of a real SIP call, a real analysis and the console."""
from __future__ import annotations

import io
import json
import logging
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request

from prometheus_client import REGISTRY

import monitoring
from monitoring.logs import JsonFormatter, TextFormatter

from .conftest import IVR, ROOT
from .sip_peers import Server

CARD = "4111 1111 1111 1111"


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def capture(formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    logger = logging.getLogger(f"test.monitoring.{id(out)}")
    logger.propagate, logger.level = False, logging.INFO
    logger.addHandler(handler)
    return logger, out


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


def sample(text: str, name: str, **labels) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    for line in text.splitlines():
        m = re.match(r"([a-zA-Z_:]+)(?:\{(.*)\})? (\S+)$", line)
        if m and m.group(1) == name:
            have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            if all(have.get(k) == v for k, v in labels.items()):
                return float(m.group(3))
    return 0.0


def test_json_lines_name_the_call_and_mask_card_numbers_and_pins():
    logger, out = capture(JsonFormatter("serve", lambda: "host-a:5071"))

    def call_thread():
        with monitoring.call_context(42):
            monitoring.keep_secret(42, "2468")
            logger.warning("caller said card %s and pin 2468 (4111-1111-1111-1111)", CARD)
            try:
                raise ValueError("no account for 4111111111111111 / 2468")
            except ValueError:
                logger.exception("lookup failed")
            monitoring.forget_secrets(42)
            logger.info("the 2468 bus; order 123456789012 of 12 digits")

    t = threading.Thread(target=call_thread)
    t.start()
    t.join()
    logger.info("not in a call")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    said, failed, after, outside = lines
    assert said["call_id"] == 42 and said["node"] == "host-a:5071" and said["process"] == "serve"
    assert said["level"] == "warning" and said["logger"] == logger.name and said["ts"].endswith("+00:00")
    assert said["msg"] == "caller said card [PAN] and pin [PIN] ([PAN])"
    assert "4111" not in failed["exc"] and "2468" not in failed["exc"] and "[PAN]" in failed["exc"]
    assert after["msg"] == "the 2468 bus; order 123456789012 of 12 digits"   # forgotten once the call ends
    assert "call_id" not in outside


def test_text_lines_keep_their_format_and_are_masked_too():
    logger, out = capture(TextFormatter())
    logger.warning("card %s", CARD.replace(" ", ""))
    assert out.getvalue() == "ivr: WARNING: card [PAN]\n"


def test_the_exporter_serves_every_metric_and_the_process_figures(tmp_path):
    port = free_tcp_port()
    code = ("import time, monitoring; from config import get_settings; "
            "monitoring.setup('analyze', get_settings()); monitoring.setup('analyze', get_settings()); "
            "print('up', flush=True); time.sleep(60)")
    env = {"IVR_MONITORING__METRICS_PORT": str(port), "IVR_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "up"
        text = scrape(port)
    finally:
        proc.kill()
        proc.wait()
    for name, kind in [("ivr_active_calls", "gauge"), ("ivr_calls_total", "counter"),
                       ("ivr_turn_latency_seconds", "histogram"), ("ivr_stage_seconds", "histogram"),
                       ("ivr_queue_wait_seconds", "histogram"), ("ivr_analyzer_backlog", "gauge"),
                       ("ivr_analyses_total", "counter"), ("ivr_analysis_seconds", "histogram"),
                       ("ivr_http_requests_total", "counter")]:
        assert f"# TYPE {name} {kind}" in text, name
    assert sample(text, "process_resident_memory_bytes") > 10e6


def test_a_port_in_use_is_one_clear_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = subprocess.run([IVR, "nlu", "goodbye"], capture_output=True, text=True,
                           env={"IVR_MONITORING__METRICS_PORT": str(port), "IVR_DATA_DIR": str(tmp_path),
                                "PATH": "/usr/bin:/bin"}, cwd=ROOT, timeout=120)
    assert r.returncode == 1 and r.stderr.startswith(f"ivr: error: cannot serve metrics on 127.0.0.1:{port}"), r.stderr


def test_a_real_call_is_counted_measured_and_logged_with_its_id(tmp_path):
    port = free_tcp_port()
    srv = Server(tmp_path / "srv", env={"IVR_MONITORING__METRICS_PORT": str(port),
                                        "IVR_MONITORING__LOG_FORMAT": "json", "IVR_LOG_LEVEL": "INFO"})
    try:
        before = scrape(port)
        assert sample(before, "ivr_active_calls") == 0
        phone = subprocess.run([IVR, "call", srv.uri, "--ani", "+15550100", "--dtmf", "2468#", "--say",
                                "what is my balance", "--say", "goodbye", "--no-transcribe"], cwd=ROOT, timeout=240,
                               env={k: v for k, v in srv.env.items() if not k.startswith("IVR_MONITORING")},
                               capture_output=True, text=True)   # the softphone serves no metrics of its own
        assert phone.returncode == 0, phone.stderr[-2000:]
        call = srv.calls()[-1]
        deadline = time.monotonic() + 20
        while sample(text := scrape(port), "ivr_calls_total", outcome=call.outcome) < 1 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        srv.stop()
    assert call.outcome == "completed"
    assert sample(text, "ivr_calls_total", outcome="completed", node=call.node) == 1
    assert sample(text, "ivr_active_calls", node=call.node) == 0
    assert sample(text, "ivr_turn_latency_seconds_count", node=call.node) >= 3   # PIN, balance, goodbye
    assert sample(text, "ivr_turn_latency_seconds_sum") / sample(text, "ivr_turn_latency_seconds_count") < 3.0
    for stage in ("end_of_turn", "asr", "dialog", "tts", "media"):
        assert sample(text, "ivr_stage_seconds_count", node=call.node, stage=stage) >= 1, stage
    assert sample(text, "ivr_queue_wait_seconds_count", queue="tts") >= 3
    assert sample(text, "ivr_queue_wait_seconds_count", queue="asr") >= 1   # speculative recognition on the pool

    logged = [json.loads(line) for line in srv.output if line.startswith("{")]
    assert not [rec for rec in logged if "2468" in json.dumps(rec)]   # the PIN keyed in this call
    plain = [line for line in srv.output if line.strip() and not line.startswith("{")]
    pjlib_start = re.compile(r"\d\d:\d\d:\d\d\.\d{3} ")   # pjlib's own start-up lines, before any log config
    assert all("IVR listening" in line or pjlib_start.match(line) for line in plain), plain   # the rest is JSON
    mine = [rec for rec in logged if rec.get("call_id") == call.id]
    assert {"answered", "ended: completed"} <= {rec["msg"].split(f"call {call.id} ")[-1] for rec in mine}, mine
    assert all(rec["process"] == "serve" and rec["node"] == call.node for rec in mine)


def test_an_analysis_is_counted_and_the_backlog_drains(tmp_path):
    from analytics.worker import Analyzer

    from .test_analyzer import open_db, settings, store_calls

    cfg = settings(tmp_path)
    sessions = open_db(cfg)
    done = REGISTRY.get_sample_value("ivr_analyses_total", {"result": "done"}) or 0
    timed = REGISTRY.get_sample_value("ivr_analysis_seconds_count") or 0
    store_calls(sessions, 2)
    analyzer = Analyzer(sessions, cfg)
    analyzer.enqueue_ended()
    assert analyzer.backlog() == 2 and REGISTRY.get_sample_value("ivr_analyzer_backlog") == 2
    assert analyzer.drain() == 2
    assert analyzer.backlog() == 0 and REGISTRY.get_sample_value("ivr_analyzer_backlog") == 0
    assert REGISTRY.get_sample_value("ivr_analyses_total", {"result": "done"}) == done + 2
    assert REGISTRY.get_sample_value("ivr_analysis_seconds_count") == timed + 2


def test_console_requests_are_counted_by_route_template(tmp_path):
    from fastapi.testclient import TestClient

    from web import create_app

    from .test_analyzer import open_db, settings

    cfg = settings(tmp_path)
    client = TestClient(create_app(cfg, open_db(cfg)), raise_server_exceptions=False)

    def count(route, status):
        return REGISTRY.get_sample_value("ivr_http_requests_total", {"route": route, "status": status}) or 0

    ok, denied = count("/healthz", "200"), count("/api/calls/{call_id}", "401")
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/calls/7").status_code == 401 and client.get("/api/calls/8").status_code == 401
    assert count("/healthz", "200") == ok + 1 and count("/api/calls/{call_id}", "401") == denied + 2


def test_a_call_leaves_the_active_gauge_once_whatever_ends_it():
    from monitoring.metrics import CallTracker

    def value(name, **labels):
        return REGISTRY.get_sample_value(name, {"node": monitoring.node(), **labels}) or 0

    active, failed = value("ivr_active_calls"), value("ivr_calls_total", outcome="failed")
    ended = CallTracker()
    assert value("ivr_active_calls") == active + 1
    ended.end("transferred")
    ended.end("failed")   # a second end (hang-up racing the call's own end) changes nothing
    assert value("ivr_active_calls") == active and value("ivr_calls_total", outcome="failed") == failed
