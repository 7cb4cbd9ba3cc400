"""Reliability and security on the session's real cluster (tests/cluster_peer.py: Kamailio, 4 endpoints, PostgreSQL,
analyzer): a short soak (bench/soak.py's checks on 60 speech calls, 10 at a time) with hostile SIP at Kamailio and
a 30 s PostgreSQL outage while it runs, the secrets scan after it, and PIN lockout across endpoints."""
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bench import soak
from ivr.cluster import sip_ping
from models import Call, CallEvent, Customer

from . import rtp_faults as rf
from . import speech_pcap
from .figures import report
from .sip_peers import SIPP_DIR

CALLS, AT_ONCE = 60, 10
OUTAGE_S = 30


def sessions_of(cluster):
    from models import session_factory

    return session_factory(cluster.engine)


class Soak:
    """The short soak, running in a thread while the fault tests of this module act on the cluster."""

    def __init__(self, cluster, work):
        self.cluster, self.sessions = cluster, sessions_of(cluster)
        soak.wait_idle(self.sessions, 0, 0)
        self.first = cluster.last_id()
        self.pids = {n: p for n, p in soak.endpoint_pids(cluster.proc.pid).items()}
        self.before = {n: soak.footprint(p) for n, p in self.pids.items()}
        self.started = time.monotonic()
        self.run = None
        self.thread = threading.Thread(target=self._calls, args=(work,), daemon=True)
        self.thread.start()

    def _calls(self, work):
        self.run = soak.run_calls(f"127.0.0.1:{self.cluster.port}", work, CALLS, AT_ONCE)

    def wait(self) -> soak.CallsRun:
        self.thread.join(900)
        soak.wait_idle(self.sessions, self.first, CALLS)
        return self.run


def post_mortem(cluster, run, stored) -> str:
    lines = [f"SIPp: {run.successful} successful, {run.failed} failed; stored {stored.calls}; lost {stored.lost[:5]}",
             *[out[-1500:] for out in run.outputs[:2]]]
    for call_id in sorted({c for c, _ in stored.lost})[:3]:
        with Session(cluster.engine) as s:
            call = s.get(Call, call_id)
            events = [(e.seq, e.kind, e.state) for e in s.scalars(select(CallEvent).where(CallEvent.call_id == call_id))]
        lines.append(f"call {call_id}: node {call.node}, started {call.started_at}, outcome {call.outcome}, turns "
                     f"{[(t.seq, t.speaker, t.text[:30]) for t in cluster.turns(call_id)]}, events {events}")
    lines.append(soak.thread_dumps(cluster.proc.pid, cluster.data_dir / "cluster" / "logs"))
    return "\n".join(lines)


@pytest.fixture(scope="module")
def short_soak(cluster, tmp_path_factory):
    return Soak(cluster, tmp_path_factory.mktemp("soak"))


def test_hostile_sip_at_kamailio_during_calls(cluster, short_soak):
    """10,000 malformed, mutated, flooding and scanning messages from 10 other addresses (127.101-110.0.1, the
    public), while the soak's callers (127.0.0.1, the trunk) are in their calls. Pike judges sources and their
    prefixes: once the first source has flooded, the next ones are refused from their first request."""
    import urllib.request

    from bench.hostile_sip import Hostile

    time.sleep(5)
    before = cluster.last_id()
    figures = [Hostile(f"127.0.0.1:{cluster.port}", seed=i, rate=1000, source_ip=f"127.{101 + i}.0.1").run(1000)
               for i in range(10)]
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{cluster.metrics}/metrics", timeout=5).read().decode()
    blocked = {reason: sum(float(line.split()[1]) for line in metrics.splitlines()   # name value timestamp
                           if line.startswith("kamailio_ivr_blocked_total") and f'reason="{reason}"' in line)
               for reason in ("flood", "scanner")}
    with Session(cluster.engine) as s:
        through = s.scalars(select(Call.id).where(Call.id > before, Call.ani != "+15550100")).all()
    replies = Counter()
    for f in figures:
        replies.update(f.replies)
    report(f"hostile-sip at Kamailio: {sum(f.sent for f in figures)} messages from 10 sources in "
           f"{sum(f.elapsed_s for f in figures):.0f} s, replies {dict(sorted(replies.items()))}, sources banned "
           f"{blocked['flood']:.0f} flood + {blocked['scanner']:.0f} scanner, hostile INVITEs that reached an "
           f"endpoint {len(through)}, Kamailio alive {sip_ping('127.0.0.1', cluster.port) == 200}")
    assert sip_ping("127.0.0.1", cluster.port) == 200                 # the trunk is still served
    assert blocked["flood"] + blocked["scanner"] >= 10                # every hostile source ended up banned
    assert len(through) <= 10 * 15, through                            # only what came before each ban
    assert cluster.proc.poll() is None and "RUNNING" in cluster.ctl("status", "kamailio")


def test_database_outage_during_calls_is_apologised_for_and_loses_nothing(cluster, short_soak):
    time.sleep(20)                                       # calls in every stage: welcome, PIN, menu, balance
    before = cluster.last_id()
    cluster.ctl("stop", "postgres")
    stopped = time.monotonic()
    time.sleep(OUTAGE_S)
    cluster.ctl("start", "postgres")
    back = time.monotonic()
    cluster.engine.dispose()                             # the test's own pooled connections died with it
    spool = cluster.data_dir / "spool"
    while any(spool.rglob("*.jsonl")) and time.monotonic() - back < 60:
        time.sleep(0.5)
    recovered = time.monotonic() - back
    assert not list(spool.rglob("*.jsonl")), "the spool was not written back"
    with Session(cluster.engine) as s:
        apologies = s.scalars(select(CallEvent.call_id).where(CallEvent.kind == "service_unavailable",
                                                              CallEvent.call_id > short_soak.first)).all()
        during = s.scalars(select(Call.id).where(Call.id > before)).all()
    report(f"db-outage: PostgreSQL down {back - stopped:.0f} s during {AT_ONCE} calls at a time, calls told the bank "
           f"was unavailable {len(set(apologies))}, spool written back {recovered:.1f} s after the restart, "
           f"calls since the outage began {len(during)}")
    assert apologies, "no caller was told the service was unavailable"


def test_soak_every_call_stored_once_complete_and_analysed_nothing_leaked(cluster, short_soak):
    run = short_soak.wait()
    sessions = short_soak.sessions
    soak.wait_analysed(sessions, short_soak.first, timeout=120)
    stored = soak.check_stored(sessions, short_soak.first)
    after = {n: soak.footprint(p) for n, p in soak.endpoint_pids(cluster.proc.pid).items()
             if short_soak.pids.get(n) == p}
    rss, fds, threads = soak.growth(short_soak.before, after)
    with Session(cluster.engine) as s:
        nodes = Counter(s.scalars(select(Call.node).where(Call.id > short_soak.first)).all())
    report(f"soak (short): calls {CALLS} ({AT_ONCE} at a time, 4 endpoints, with the outage and hostile SIP), "
           f"failed {run.failed}, stored {stored.calls}, lost turns {len(stored.lost)}, analysed {stored.analysed}, "
           f"apologised {stored.unavailable}, endpoint RSS growth max {rss:+.0f} MB, fds {fds:+d}, threads "
           f"{threads:+d}, crashes {len(short_soak.pids) - len(after)}, {time.monotonic() - short_soak.started:.0f} s")
    if (run.successful, run.failed) != (CALLS, 0) or stored.calls != CALLS or stored.lost:   # the post-mortem: what the lost calls hold, where
        assert False, post_mortem(cluster, run, stored)        # their endpoints' threads are (and the kept logs)
    assert len(after) == len(short_soak.pids)                # no endpoint crashed (and was restarted)
    assert fds <= 2 and threads <= 2, (short_soak.before, after)   # a pool started by the first calls: not a leak
    assert len(nodes) >= 3, nodes                            # spread over the endpoints
    import urllib.request

    timed = [urllib.request.urlopen(f"http://127.0.0.1:{cluster.metrics + 10 + i}/metrics", timeout=5).read().decode()
             for i in range(1, len(short_soak.pids) + 1)]
    assert all("ivr_turn_latency_seconds_count" in m for m in timed)       # every endpoint timed its turns


@pytest.mark.parametrize("line, secret", [
    ("the security code is 739.", True), ("card 4111 1111 1111 1111", True), ("cvv=739 ok", True),
    ("2026-11-30 04:26:06,739 INFO success: postgres entered RUNNING state", False),   # a log time's milliseconds
    ("INFO spawned: 'endpoint-1' with pid 739", False), ("[739-4242@127.0.0.1]: [core] Creating new call", False),
    ("2026-11-30 18:36:12.345 UTC [739] LOG:  checkpoint starting: time", False),      # PostgreSQL's process id
    (" 0(739) INFO: <core> [main.c:2870]: main(): processes (at least): 13", False),   # Kamailio's
    ("code (739 keyed)", True), ("['739']", True),
    ("amount 1739.50", False), ("id 0x739", False)])
def test_the_secrets_scan_finds_a_cvv_said_not_a_number_that_only_looks_like_it(line, secret):
    assert bool(soak.secret_patterns()["CVV" if "4111" not in line else "card number"].search(line)) is secret


def test_no_pin_card_number_or_cvv_anywhere_after_the_soak(cluster, short_soak):
    short_soak.wait()
    files = soak.cluster_files(cluster.data_dir)
    hits = soak.scan_secrets(cluster.engine, files)
    report(f"secrets: {len(files)} log/spool files and every table scanned after {CALLS} calls "
           f"({CALLS // 10} reading out a card number and CVV, all keying a PIN): {len(hits)} found")
    assert not hits, "\n".join(hits)


def test_three_wrong_pins_on_three_endpoints_lock_the_account(cluster, tmp_path):
    with Session(cluster.engine) as s:
        s.execute(update(Customer).where(Customer.ani == "+15550101").values(failed_pin_attempts=0, phone_locked=False))
        s.commit()
    before = cluster.last_id()
    pcap = speech_pcap.build([speech_pcap.Silence(1.0), speech_pcap.Keys("9999#"), speech_pcap.Silence(8.0)])
    run = speech_pcap.run_speech_calls(f"127.0.0.1:{cluster.port}", tmp_path, calls=3, concurrent=3, pcap=pcap,
                                       scenario=SIPP_DIR / "wrong_pin.xml")
    assert (run.successful, run.failed) == (3, 0), run.output
    soak.wait_idle(sessions_of(cluster), before, 3)
    with Session(cluster.engine) as s:
        calls = s.scalars(select(Call).where(Call.id > before)).all()
        events = Counter(s.scalars(select(CallEvent.kind).where(CallEvent.call_id > before)).all())
        nodes = {c.node for c in calls}
        priya = s.scalar(select(Customer).where(Customer.ani == "+15550101"))
        locked = priya.phone_locked
        s.execute(update(Customer).where(Customer.id == priya.id).values(failed_pin_attempts=0, phone_locked=False))
        s.commit()
    report(f"pin-lockout: 3 wrong PINs on {len(nodes)} endpoints -> locked {locked}, "
           f"auth failures {events['auth_failure']}, lockouts {events['lockout']}")
    assert len(nodes) == 3, nodes
    assert locked and events["lockout"] == 1 and events["auth_failure"] == 2, events


def test_rtp_injection_is_dropped_by_the_media_relay(cluster, tmp_path):
    """The attack that takes over a bare endpoint's call (test_hostile_rtp.py): 24 packets at once, then real time,
    from another socket to the call's media port, which through Kamailio is rtpengine's (strict source)."""
    before = cluster.last_id()
    pin = rf.with_silence(speech_pcap.read_pcap(speech_pcap.build([speech_pcap.Silence(1.0),
                                                                    speech_pcap.Keys("2468#")])), 4.0)
    tmp_path.mkdir(exist_ok=True)
    speech_pcap.write_pcap(pin, tmp_path / "caller.pcap")
    call = rf.SippCall(f"127.0.0.1:{cluster.port}", tmp_path, tmp_path / "caller.pcap", "rtp_stops.xml")
    port = call.rtp_port()
    time.sleep(0.3)
    attack = rf.send_rtp_from_wrong_source("127.0.0.1", port, 6.0, speech_pcap.read_pcap(
        speech_pcap.build([speech_pcap.Silence(1.0)])), burst=24)
    call.wait()
    soak.wait_idle(sessions_of(cluster), before, 1)
    with Session(cluster.engine) as s:
        kinds = s.scalars(select(CallEvent.kind).where(CallEvent.call_id > before)).all()
    report(f"rtp-injection via relay: {attack.sent} packets from another socket (bursts of 24), IVR packets to it "
           f"{attack.received}, caller's PIN accepted {'yes' if 'auth_success' in kinds else 'no'}")
    assert attack.received == 0 and "auth_success" in kinds, kinds


def test_kamailio_still_answers_after_everything(cluster):
    assert sip_ping("127.0.0.1", cluster.port) == 200
