"""A real `ivr cluster` for the tests (test_cluster, test_reliability share one per session): Kamailio, 4
`ivr serve` endpoints, a local PostgreSQL, the analyzer and the console under supervisord, on a random port block.
The tests' own callers (SIPp, the softphone) come from 127.0.0.1, declared a trunk (not rate-limited); hostile
peers use other loopback addresses (127.0.0.x), which Kamailio treats as the public."""
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from ivr.cluster import sip_ping
from models import Call, Turn

from .conftest import IVR, ROOT

ENDPOINTS = 4
KAMAILIO = shutil.which("kamailio") or ("/usr/sbin/kamailio" if Path("/usr/sbin/kamailio").exists() else None)


def _free(port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_block(size: int, low: int, high: int) -> int:
    """The first port of `size` consecutive free ports in [low, high)."""
    for _ in range(200):
        base = random.randrange(low, high - size, 10)
        if all(_free(p) for p in range(base, base + size)):
            return base
    raise RuntimeError("no free port block")


class Cluster:
    def __init__(self, endpoints: int):
        self.data_dir = Path(tempfile.mkdtemp(prefix="ivr-cluster-"))
        self.data_dir.chmod(0o755)                     # the postgres user reaches $IVR_DATA_DIR/pg
        base = free_block(100, 21000, 29000)
        self.port, self.endpoint_base, self.metrics = base, base + 10, base + 40
        self.pg_port = base + 90
        self.env = {**os.environ, "IVR_DATA_DIR": str(self.data_dir), "IVR_DATABASE_URL": "",
                    "IVR_CLUSTER__ENDPOINT_SIP_PORT": str(self.endpoint_base),
                    "IVR_CLUSTER__METRICS_PORT": str(self.metrics), "IVR_CLUSTER__CONSOLE_PORT": str(base + 80),
                    "IVR_CLUSTER__POSTGRES_PORT": str(self.pg_port),
                    "IVR_TELEPHONY__RTP_PORT": str(free_block(1000, 30000, 39000) // 2 * 2),
                    "IVR_TELEPHONY__DRAIN_TIMEOUT_S": "40", "IVR_ANALYTICS__TRANSCRIBE": "false",
                    "IVR_CLUSTER__TRUNKS": '["127.0.0.1"]', "IVR_CLUSTER__BAN_S": "60"}
        self.proc = subprocess.Popen([IVR, "cluster", "--endpoints", str(endpoints), "--sip-port", str(self.port),
                                      "--demo"], env=self.env, cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.output: list[str] = []
        up = threading.Event()

        def read():
            for line in self.proc.stdout:
                self.output.append(line)
                if line.startswith("cluster up"):
                    up.set()

        threading.Thread(target=read, daemon=True).start()
        if not up.wait(420):
            self.stop()
            raise AssertionError("".join(self.output[-40:]))
        self.engine = create_engine(f"postgresql+psycopg://ivr@127.0.0.1:{self.pg_port}/ivr")
        self.conf = self.data_dir / "cluster" / "supervisord.conf"

    def node(self, i: int) -> str:
        return f"{socket.gethostname()}:{self.endpoint_base + i}"

    def ctl(self, *args: str, timeout: float = 120) -> str:
        r = subprocess.run([str(Path(IVR).parent / "supervisorctl"), "-c", str(self.conf), *args],
                           capture_output=True, text=True, timeout=timeout)
        return r.stdout

    def pid(self, program: str) -> int:
        return int(self.ctl("pid", program).strip() or 0)

    def calls(self, after_id: int = 0) -> list[Call]:
        with Session(self.engine) as s:
            return list(s.scalars(select(Call).where(Call.id > after_id).order_by(Call.id)))

    def turns(self, call_id: int) -> list[Turn]:
        with Session(self.engine) as s:
            return list(s.scalars(select(Turn).where(Turn.call_id == call_id).order_by(Turn.seq)))

    def last_id(self) -> int:
        calls = self.calls()
        return calls[-1].id if calls else 0

    def wait_ready(self, i: int, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while sip_ping("127.0.0.1", self.endpoint_base + i) != 200:
            assert time.monotonic() < deadline, f"endpoint-{i} never answered OPTIONS"
            time.sleep(0.5)

    def stop(self) -> int:
        """Stop the cluster; its logs and spool are kept in a temporary directory (printed) for a post-mortem."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(180)
        finally:
            kept = Path(tempfile.mkdtemp(prefix="ivr-cluster-logs-"))
            for part in ("cluster/logs", "spool"):
                if (self.data_dir / part).is_dir():
                    shutil.copytree(self.data_dir / part, kept / part.replace("/", "-"))
            print(f"cluster logs kept in {kept}")
            shutil.rmtree(self.data_dir, ignore_errors=True)
