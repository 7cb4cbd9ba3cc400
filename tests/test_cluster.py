"""`ivr cluster`: real Kamailio (dispatcher), 4 real `ivr serve` endpoints, a local PostgreSQL, the analyzer and
the console under supervisord; SIPp and the project's softphone as callers, through Kamailio's public port. Many calls
at once, spread over the endpoints: the short soak in test_reliability.py."""
import os
import signal
import subprocess
import time
from pathlib import Path

from ivr.cluster import sip_ping
from models import Call

from .cluster_peer import ENDPOINTS
from .conftest import IVR, ROOT
from .sip_peers import SIPP_DIR, sipp


def softphone(cluster, *steps: str, timeout: float = 120) -> subprocess.Popen:
    return subprocess.Popen([IVR, "call", f"sip:bank@127.0.0.1:{cluster.port}", "--ani", "+15550100",
                             "--no-transcribe", "--json", *steps], env=cluster.env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_calls(cluster, after: int, count: int, ended: bool = True, timeout: float = 60) -> list[Call]:
    deadline = time.monotonic() + timeout
    while True:
        calls = cluster.calls(after)
        if len(calls) >= count and (not ended or all(c.ended_at for c in calls)):
            return calls
        assert time.monotonic() < deadline, [(c.id, c.node, c.outcome) for c in calls]
        time.sleep(0.5)


def test_in_dialog_requests_follow_the_record_route(cluster):
    """PIN by SIP INFO, then a REFER from the IVR answered by the caller's NOTIFY: all through Kamailio."""
    before = cluster.last_id()
    r = sipp(cluster, "-m", "1", scenario=SIPP_DIR / "pin_by_sip_info.xml", timeout=60)
    assert r.returncode == 0, r.stdout[-2000:]
    r = sipp(cluster, "-m", "1", scenario=SIPP_DIR / "transfer_accepted.xml", timeout=90)
    assert r.returncode == 0, r.stdout[-2000:]
    info, transfer = wait_calls(cluster, before, 2)
    turns = cluster.turns(info.id)
    assert info.outcome == "caller_hangup" and [t.text for t in turns if t.speaker == "caller"][:1] == ["[PIN]"]
    assert any(t.state == "main_menu" and t.speaker == "ivr" for t in turns)         # the keyed PIN was accepted
    assert transfer.outcome == "transferred"


def test_draining_endpoint_takes_no_new_calls_and_finishes_its_own(cluster):
    before = cluster.last_id()
    talking = [softphone(cluster, "--wait", "14") for _ in range(ENDPOINTS)]   # call load: one per endpoint
    calls = wait_calls(cluster, before, ENDPOINTS, ended=False)
    assert len({c.node for c in calls}) == ENDPOINTS
    stopper = subprocess.Popen([str(Path(IVR).parent / "supervisorctl"), "-c", str(cluster.conf), "stop",
                                "endpoints:endpoint-4"], stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while sip_ping("127.0.0.1", cluster.endpoint_base + 4) != 503:
        assert time.monotonic() < deadline, "a draining endpoint answers OPTIONS with 503"
        time.sleep(0.2)
    time.sleep(2.5)                                     # Kamailio's next OPTIONS round sees it
    newcomers = [softphone(cluster, "--wait", "2") for _ in range(3)]
    for p in newcomers + talking:
        assert p.communicate(timeout=120) and p.returncode == 0
    stopper.wait(120)
    calls = wait_calls(cluster, before, ENDPOINTS + 3)
    assert all(c.node != cluster.node(4) for c in calls[ENDPOINTS:]), [c.node for c in calls]
    drained = [c for c in calls[:ENDPOINTS] if c.node == cluster.node(4)]
    assert len(drained) == 1 and drained[0].outcome == "caller_hangup"     # finished by the caller, not cut
    assert "STOPPED" in cluster.ctl("status", "endpoints:endpoint-4")        # exited 0: not restarted
    cluster.ctl("start", "endpoints:endpoint-4")
    cluster.wait_ready(4)


def test_killed_endpoint_is_routed_around_restarted_and_back_in_rotation(cluster):
    before = cluster.last_id()
    talking = [softphone(cluster, "--wait", "20") for _ in range(ENDPOINTS)]
    calls = wait_calls(cluster, before, ENDPOINTS, ended=False)
    victim_pid = cluster.pid("endpoints:endpoint-1")
    os.kill(victim_pid, signal.SIGKILL)
    start = time.monotonic()
    newcomers = [softphone(cluster, "--wait", "1") for _ in range(4)]
    outs = [p.communicate(timeout=120) for p in newcomers]
    assert all(p.returncode == 0 for p in newcomers), [(p.returncode, o[0][-200:], o[1][-600:])
                                                       for p, o in zip(newcomers, outs) if p.returncode]
    assert time.monotonic() - start < 30
    for p in talking:
        p.communicate(timeout=120)
    cluster.wait_ready(1)                                       # supervisord restarted it
    assert cluster.pid("endpoints:endpoint-1") not in (0, victim_pid)
    calls = wait_calls(cluster, before, ENDPOINTS + 4, timeout=90)
    cut = [c for c in calls[:ENDPOINTS] if c.node == cluster.node(1)]
    assert cut and all(c.outcome == "interrupted" for c in cut), [(c.node, c.outcome) for c in calls]
    assert all(c.node != cluster.node(1) for c in calls[ENDPOINTS:])
    # Kamailio probes it back into the rotation: with every other endpoint busy, a new call lands on it
    time.sleep(3)
    after = cluster.last_id()
    busy = [softphone(cluster, "--wait", "6") for _ in range(ENDPOINTS)]
    for p in busy:
        p.communicate(timeout=120)
    assert cluster.node(1) in {c.node for c in wait_calls(cluster, after, ENDPOINTS)}


def test_metrics_of_kamailio_and_every_process(cluster):
    import urllib.request

    def scrape(port):
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()

    kamailio = scrape(cluster.metrics)
    assert "kamailio_ivr_dispatched_total" in kamailio and "kamailio_core_rcv_requests" in kamailio
    endpoints = [scrape(cluster.metrics + 10 + i) for i in range(1, ENDPOINTS + 1)]
    assert all("ivr_active_calls" in e and "process_resident_memory_bytes" in e for e in endpoints)
    assert "ivr_analyzer_backlog" in scrape(cluster.metrics + 1)
