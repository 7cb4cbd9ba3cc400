"""Real SIP peers for the tests: an `ivr serve` process, SIPp (sip-tester) and the project's softphone (`ivr call`)."""
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from sqlalchemy import select

from models import Call, CallEvent, Turn, make_engine, session_factory

from .conftest import IVR, ROOT, run_ivr

SIPP_DIR = Path(__file__).parent / "sipp"


def free_port(kind=socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data_dir: Path, env: dict | None = None, port: int | None = None, prefix: tuple = ()):
        """`prefix`: a command `ivr serve` runs under (e.g. a mount namespace); it must exec it, same pid."""
        self.port = port or free_port()
        self.data_dir = data_dir
        self.env = {**os.environ, "IVR_DATA_DIR": str(data_dir), "IVR_TELEPHONY__RTP_PORT": str(free_port() // 2 * 2),
                    **(env or {})}
        assert run_ivr("db", "init", "--demo", env=self.env).returncode == 0
        self.proc = subprocess.Popen([*prefix, IVR, "serve", "--sip-port", str(self.port)], env=self.env, cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.output: list[str] = []
        ready = threading.Event()

        def read():
            for line in self.proc.stdout:
                self.output.append(line)
                if "IVR listening" in line:
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        assert ready.wait(120), "".join(self.output)
        self.uri = f"sip:bank@127.0.0.1:{self.port}"
        self.sessions = session_factory(make_engine(f"sqlite:///{data_dir}/ivr.sqlite3"))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)

    def calls(self):
        with self.sessions() as s:
            return s.scalars(select(Call).order_by(Call.id)).all()

    def turns(self, call_id):
        with self.sessions() as s:
            return s.scalars(select(Turn).where(Turn.call_id == call_id).order_by(Turn.seq)).all()

    def events(self, call_id):
        with self.sessions() as s:
            return s.scalars(select(CallEvent).where(CallEvent.call_id == call_id).order_by(CallEvent.seq)).all()


def sipp(server, *args, scenario=None, timeout=60, cwd=None):
    work = cwd or Path(server.data_dir) / "sipp"
    (work / "pcap").mkdir(parents=True, exist_ok=True)
    for pcap in Path("/usr/share/sip-tester").glob("*.pcap"):
        shutil.copy(pcap, work / "pcap" / pcap.name)
    shutil.copy(pin_then_agent_pcap(), work / "pcap" / "pin_then_agent.pcap")
    cmd = ["sipp", f"127.0.0.1:{server.port}", "-s", "bank", "-i", "127.0.0.1", "-p", str(free_port()),
           "-mp", str(free_port() // 2 * 2), "-nostdin", "-timeout", str(timeout), "-timeout_error", *args]
    if scenario:
        cmd += ["-sf", str(scenario)]
    return subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=timeout + 30)


def pin_then_agent_pcap() -> Path:
    """One RTP stream as a phone sends it: Alex's PIN (RFC 2833), then 0 for an agent (transfer_accepted.xml)."""
    from . import speech_pcap as sp

    return sp.build([sp.Silence(2.0), sp.Keys("2468#"), sp.Silence(2.5), sp.Keys("0"), sp.Silence(30.0)])


def scenario_expecting(tmp_path, status: int, codec_pt: int = 0, codec: str = "PCMU/8000") -> Path:
    text = (SIPP_DIR / "expect_status.xml").read_text()
    text = text.replace("[status]", str(status)).replace("[codec_pt]", str(codec_pt)).replace("[codec]", codec)
    path = tmp_path / f"expect_{status}_{codec_pt}.xml"
    path.write_text(text)
    return path


def ivr_call(server, *args, timeout=240):
    r = subprocess.run([IVR, "call", server.uri, *args, "--json"], capture_output=True, text=True, timeout=timeout,
                       env=server.env, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def sipp_call(server, scenario: str, timeout: int = 60):
    """Run one SIPp call from a scenario; return the stored call and its turns."""
    before = len(server.calls())
    r = sipp(server, "-m", "1", scenario=SIPP_DIR / scenario, timeout=timeout)
    assert r.returncode == 0, r.stdout[-2500:] + r.stderr[-1500:]
    time.sleep(1.0)
    call = server.calls()[before]
    return call, server.turns(call.id)


