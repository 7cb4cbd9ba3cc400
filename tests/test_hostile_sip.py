"""Hostile SIP against one real `ivr serve` that trusts only the legit caller's address: 10,000 malformed, mutated,
flooding and scanning messages (bench/hostile_sip.py) while that caller completes a call; and a caller's REFER to an
outside number (toll fraud) refused with 403 while the call goes on."""
import socket
import threading
import time

import pytest

from bench.hostile_sip import Hostile, render

from .figures import report
from .sip_peers import SIPP_DIR, Server, free_port, sipp


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    """An endpoint whose only trusted source of new INVITEs is 127.0.0.1:<caller_port>, SIPp's fixed port."""
    caller_port = free_port()
    srv = Server(tmp_path_factory.mktemp("hostile"),
                 env={"IVR_TELEPHONY__TRUSTED_SOURCES": f'["127.0.0.1:{caller_port}"]'})
    srv.caller_port = caller_port
    yield srv
    if srv.proc.poll() is None:
        srv.stop()


def crash_report(srv) -> str:
    """The server's last warnings and the abort, without the list of extension modules Python prints."""
    signs = ("WARNING", "ERROR", "Error", "Assert", "Traceback", "Fatal")
    return "".join([line for line in srv.output if any(s in line for s in signs)][-25:])


def test_caller_refer_to_an_outside_number_is_refused_and_the_call_goes_on(endpoint):
    before = len(endpoint.calls())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as outside:   # where a followed REFER would call
        outside.bind(("127.0.0.1", 0))
        outside.settimeout(1.0)
        target = "sip:+4930123456@127.0.0.1:%d" % outside.getsockname()[1]
        run = sipp(endpoint, "-m", "1", "-p", str(endpoint.caller_port), "-key", "refer_to", target,
                   scenario=SIPP_DIR / "caller_refer.xml", timeout=30)
        try:
            leaked = outside.recv(65535)
        except OSError:
            leaked = b""
    # the scenario itself checks: REFER answered 403, then the caller's BYE answered 200 (the call went on)
    assert run.returncode == 0, run.stdout[-2500:] + run.stderr[-1500:]
    assert leaked == b"", f"the endpoint followed the caller's REFER: {leaked[:200]!r}"
    time.sleep(1.0)
    calls = endpoint.calls()[before:]
    assert len(calls) == 1 and calls[0].outcome == "caller_hangup"
    events = endpoint.events(calls[0].id)
    refused = [e for e in events if e.kind == "refer_refused"]
    assert len(refused) == 1 and "+4930123456" in refused[0].detail["target"]
    assert not [e for e in events if "transfer" in e.kind]
    report(f"caller-refer: REFER to an outside number answered 403, refer_refused events {len(refused)}, "
           f"INVITEs sent to the REFER target {len(leaked) and 1}, call went on to the caller's BYE: yes")


def test_the_fuzzer_hangs_up_every_call_the_endpoint_answers(endpoint):
    """From the trusted address the flood is answered (up to 4 calls at once): each call gets ACK and BYE."""
    before = len(endpoint.calls())
    fig = Hostile(f"127.0.0.1:{endpoint.port}", seed=2, rate=10, bind_port=endpoint.caller_port,
                  only=["invite_flood"]).run(20)
    report(fig.line().replace("hostile-sip:", "hostile-sip (trusted flood):"))
    assert fig.calls_answered >= 4 and fig.invite_finals[200] == fig.calls_answered, fig.line()
    time.sleep(1.5)
    calls = endpoint.calls()[before:]
    assert len(calls) == fig.calls_answered
    assert all(c.outcome == "caller_hangup" and c.ended_at for c in calls), [(c.id, c.outcome) for c in calls]


def test_ten_thousand_hostile_messages_while_the_trusted_caller_is_served(endpoint):
    before = len(endpoint.calls())
    legit = {}

    def caller():   # keys the PIN by RFC 2833, listens, hangs up: ~11 s, inside the fuzzing
        legit["run"] = sipp(endpoint, "-m", "1", "-p", str(endpoint.caller_port),
                            scenario=SIPP_DIR / "pin_by_rfc2833.xml", timeout=60)

    thread = threading.Thread(target=caller)
    thread.start()
    fig = Hostile(f"127.0.0.1:{endpoint.port}", seed=1, rate=800).run(10000)
    thread.join(90)
    report(fig.line())

    assert endpoint.proc.poll() is None, crash_report(endpoint)
    output = "".join(endpoint.output)
    for sign in ("Traceback", "Assertion", "Fatal Python error"):
        assert sign not in output, crash_report(endpoint)
    assert fig.sent == 10000 and fig.alive_before and fig.alive_after
    assert set(fig.by_family) >= {"invite_flood", "svmap", "svwar", "mutations", "bad_sdp", "tcp"}
    assert fig.invite_finals[403] > 0, fig.line()
    assert not [s for s in fig.invite_finals if 200 <= s < 300] and fig.calls_answered == 0, fig.line()
    assert legit["run"].returncode == 0, legit["run"].stdout[-2500:] + legit["run"].stderr[-1500:]
    time.sleep(1.0)
    calls = endpoint.calls()[before:]
    assert [c.ani for c in calls] == ["+15550100"], "only the trusted caller's call may exist"
    assert calls[0].outcome == "caller_hangup" and endpoint.turns(calls[0].id)


def test_delayed_offer_invites_refused_from_a_trusted_source_leave_the_endpoint_up(endpoint):
    """INVITEs without SDP (delayed offer, legal) from the trusted address to an unknown user: each answered 404."""
    fuzzer = Hostile(f"127.0.0.1:{endpoint.port}", bind_port=endpoint.caller_port)
    sock = fuzzer.udp["flood"]
    for _ in range(5):
        line, hdrs, _ = fuzzer.valid("INVITE", sock, user="nobody")
        fuzzer.send(sock, render(line, [h for h in hdrs if h[0] != "Content-Type"]))
        fuzzer.fig.sent += 1
        deadline = time.monotonic() + 0.4
        while time.monotonic() < deadline:
            fuzzer.poll(0.05)
    sock.close()
    assert endpoint.proc.poll() is None, crash_report(endpoint)
    assert fuzzer.fig.invite_finals == {404: 5} and fuzzer.alive()


def test_a_call_whose_audio_never_starts_is_hung_up_and_stored_as_ended(endpoint):
    """An answered call with no audio (here an inactive stream, no RTP, no BYE) must not stay open for ever: the
    IVR hangs up after 10 s and stores it as ended (outcome failed, event no_media)."""
    before = len(endpoint.calls())
    started = time.monotonic()
    run = sipp(endpoint, "-m", "1", "-p", str(endpoint.caller_port), scenario=SIPP_DIR / "no_media.xml", timeout=60)
    assert run.returncode == 0, run.stdout[-2500:] + run.stderr[-1500:]    # the IVR's BYE came
    waited = time.monotonic() - started
    time.sleep(1.0)
    calls = endpoint.calls()[before:]
    assert len(calls) == 1 and calls[0].outcome == "failed" and calls[0].ended_at, [(c.id, c.outcome) for c in calls]
    assert "no_media" in [e.kind for e in endpoint.events(calls[0].id)]
    report(f"no-media call: answered, audio never started -> IVR BYE after {waited:.0f} s, outcome failed, "
           f"event no_media")
