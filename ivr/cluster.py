"""`ivr cluster`: the whole stack on one host under supervisord — Kamailio's dispatcher on the public SIP port,
N `ivr serve` endpoints on their own SIP ports and RTP ranges, the analyzer and the console (and a local
PostgreSQL when several endpoints need a shared database and none is configured).

`plan()` is the one place that says what each process runs; supervisord.conf, Kamailio's dispatcher list and
deploy/compose.yaml all follow it (tests/test_deploy.py checks the compose file against it)."""
from __future__ import annotations

import glob
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from config import IvrError, Settings

DEPLOY_DIR = Path(__file__).resolve().parent.parent / "deploy"
KAMAILIO_CFG = DEPLOY_DIR / "kamailio.cfg"
DISPATCHER_SET = 1
ALGORITHMS = {"call-load": 10, "round-robin": 4}    # Kamailio dispatcher algorithm numbers
SQLITE_REFUSED = ("several endpoints write calls at once and SQLite takes one writer at a time (calls would wait "
                  "on its lock); set IVR_DATABASE_URL to PostgreSQL, leave it empty for a local PostgreSQL, or "
                  "pass --allow-sqlite")


@dataclass
class Program:
    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)   # what differs from the shared environment
    priority: int = 50                                 # supervisord: lower starts first and stops last
    group: str | None = None
    user: str | None = None                            # run as this user (PostgreSQL when started as root)


@dataclass
class Layout:
    """Ports and paths of one host's cluster, from the settings."""
    settings: Settings
    endpoints: int
    sip_port: int

    @property
    def host(self) -> str:
        return self.settings.cluster.host

    @property
    def dir(self) -> Path:
        return (self.settings.data_dir / "cluster").resolve()

    def endpoint_port(self, i: int) -> int:
        return self.settings.cluster.endpoint_sip_port + i

    def endpoint_uri(self, i: int) -> str:
        return f"sip:{self.host}:{self.endpoint_port(i)}"

    def rtp_port(self, i: int) -> int:
        tel = self.settings.telephony
        return tel.rtp_port + (i - 1) * tel.rtp_port_range

    def relay_ports(self) -> tuple[int, int]:
        """rtpengine's RTP ports: the range after the endpoints' ranges."""
        first = self.rtp_port(self.endpoints + 1)
        return first, first + self.settings.telephony.rtp_port_range - 1

    def relay_control(self) -> str:
        """rtpengine's NG control socket (UDP), next to the metrics ports."""
        return f"{self.host}:{self.settings.cluster.metrics_port + 3}"

    def metrics_port(self, name: str, i: int = 0) -> int:
        base = self.settings.cluster.metrics_port
        return {"kamailio": base, "analyzer": base + 1, "console": base + 2}.get(name, base + 10 + i)

    def threads(self) -> int:
        chosen = self.settings.cluster.threads_per_endpoint
        return chosen or max(1, len(os.sched_getaffinity(0)) // self.endpoints)


def dispatcher_list(layout: Layout) -> str:
    """Kamailio's dispatcher list: set, URI, flags, priority, attributes (duid and maxload for call load)."""
    lines = ["# rendered by `ivr cluster` from the settings: one line per endpoint"]
    for i in range(1, layout.endpoints + 1):
        lines.append(f"{DISPATCHER_SET} {layout.endpoint_uri(i)} 0 0 "
                     f"duid=ep{i};maxload={layout.settings.telephony.max_calls}")
    return "\n".join(lines) + "\n"


def trunks_regex(settings: Settings) -> str:
    """Kamailio's regular expression for the trunk addresses (validated IPs: only the dots need care)."""
    ips = [str(ip).replace(".", "[.]") for ip in settings.cluster.trunks]
    return f"^({'|'.join(ips)})$" if ips else "^$"


def _bin(name: str) -> str:
    """A console script of this environment (ivr, supervisord), else whatever is on PATH."""
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else name


def plan(settings: Settings, endpoints: int, sip_port: int) -> list[Program]:
    """Every process of the cluster, in start order."""
    layout = Layout(settings, endpoints, sip_port)
    host, run = layout.host, layout.dir / "run"
    ivr = _bin("ivr")
    relay = settings.cluster.media_relay
    kamailio = Program("kamailio", [
        "kamailio", "-DD", "-E", "-f", str(KAMAILIO_CFG), "-Y", str(run),
        "-A", f"LISTEN_UDP=udp:{host}:{sip_port}", "-A", f"LISTEN_TCP=tcp:{host}:{sip_port}",
        "-A", f"LISTEN_HTTP=tcp:{host}:{layout.metrics_port('kamailio')}",
        "-A", f"METRICS_PORT={layout.metrics_port('kamailio')}",
        "-A", f'DS_LIST="{layout.dir / "dispatcher.list"}"',
        "-A", f"DS_ALG={ALGORITHMS[settings.cluster.algorithm]}",
        "-A", f'CTL_SOCKET="unix:{run / "kamailio_ctl"}"', "-A", f'TRUNKS_RE="{trunks_regex(settings)}"',
        "-A", f"PIKE_DENSITY={settings.cluster.rate_limit}",
        "-A", f'BANNED_TABLE="banned=>size=10;autoexpire={settings.cluster.ban_s};"',
        *(["-A", "WITH_RELAY", "-A", f'RELAY_SOCK="udp:{layout.relay_control()}"'] if relay else [])],
        priority=20)
    kamailio_source = f"{host}:{sip_port}"
    threads = str(layout.threads())
    low, high = layout.relay_ports()
    # log level 5 (notice): warnings and errors, not ~30 INFO lines per call (2 MB per 60 calls)
    rtpengine = Program("rtpengine", [
        "rtpengine", "--foreground", "--log-stderr", "--config-file=none", "--table=-1", "--interface", host,
        "--listen-ng", layout.relay_control(), "--port-min", str(low), "--port-max", str(high),
        "--endpoint-learning=off", "--log-level=5", "--pidfile", str(run / "rtpengine.pid")], priority=15)
    programs = [*([rtpengine] if relay else []), kamailio,
                Program("console", [ivr, "web", "--host", host, "--port", str(settings.cluster.console_port)],
                        {"IVR_MONITORING__METRICS_PORT": str(layout.metrics_port("console"))}, priority=30),
                Program("analyzer", [ivr, "analyze", "--follow"],
                        {"IVR_MONITORING__METRICS_PORT": str(layout.metrics_port("analyzer"))}, priority=40)]
    for i in range(1, endpoints + 1):
        programs.append(Program(f"endpoint-{i}", [ivr, "serve", "--host", host, "--sip-port",
                                                  str(layout.endpoint_port(i))],
                                {"IVR_TELEPHONY__RTP_PORT": str(layout.rtp_port(i)),
                                 "IVR_TELEPHONY__TRUSTED_SOURCES": json.dumps([kamailio_source]),
                                 "IVR_MONITORING__METRICS_PORT": str(layout.metrics_port("endpoint", i)),
                                 "IVR_ASR__CPU_THREADS": threads, "IVR_TTS__CPU_THREADS": threads,
                                 "OMP_NUM_THREADS": threads},
                                priority=50, group="endpoints"))
    return programs


# -- PostgreSQL on this host ---------------------------------------------------------------------------------
def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if not found:
        raise IvrError("PostgreSQL is not installed (Debian package `postgresql`): install it or set IVR_DATABASE_URL")
    return Path(found[-1]).parent


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def local_postgres(settings: Settings, prepare: bool = True) -> tuple[Program, str]:
    """A PostgreSQL in $IVR_DATA_DIR/pg (initdb on first use), as a supervised program, and its URL."""
    bin_dir, root = _pg_bin(), (settings.data_dir / "pg").resolve()
    data, port = root / "data", settings.cluster.postgres_port
    if prepare:
        _prepare_postgres(bin_dir, root, data)
    command = [str(bin_dir / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port), "-k", str(root)]
    program = Program("postgres", command, priority=10, user="postgres" if os.geteuid() == 0 else None)
    return program, f"postgresql+psycopg://ivr@127.0.0.1:{port}/ivr"


def _prepare_postgres(bin_dir: Path, root: Path, data: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        if subprocess.run(_as_postgres(["test", "-w", str(root)]), capture_output=True).returncode:
            raise IvrError(f"the postgres user cannot reach {root} (PostgreSQL refuses to run as root): make its "
                           f"parent folders traversable (chmod o+x) or set IVR_DATABASE_URL")
    if not (data / "PG_VERSION").exists():
        done = subprocess.run(_as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-U", "ivr", "--auth=trust",
                                            "-E", "UTF8"]), capture_output=True, text=True)
        if done.returncode:
            raise IvrError(f"initdb failed: {(done.stderr or done.stdout).strip().splitlines()[-1]}")


def create_database(url: str) -> None:
    """The `ivr` database in a fresh local PostgreSQL (initdb makes only `postgres`)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    engine = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}).first() is None:
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    engine.dispose()


# -- supervisord -----------------------------------------------------------------------------------------------
def _ini(value: str) -> str:
    return value.replace("%", "%%")


def _env(env: dict[str, str]) -> str:
    """supervisord's KEY="value" list; a value holding double quotes (JSON) goes in single quotes."""
    return ",".join(f"{k}='{_ini(v)}'" if '"' in v else f'{k}="{_ini(v)}"' for k, v in env.items())


def supervisord_conf(layout: Layout, programs: list[Program], shared_env: dict[str, str]) -> str:
    d, tel = layout.dir, layout.settings.telephony
    out = [f"; rendered by `ivr cluster`; operate it with: supervisorctl -c {d / 'supervisord.conf'} status",
           "[unix_http_server]", f"file={d / 'run' / 'supervisor.sock'}", "chmod=0700", "",
           "[supervisord]", "nodaemon=true", f"logfile={d / 'logs' / 'supervisord.log'}",
           f"pidfile={d / 'run' / 'supervisord.pid'}", f"childlogdir={d / 'logs'}", f"environment={_env(shared_env)}", "",
           "[rpcinterface:supervisor]", "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
           "", "[supervisorctl]", f"serverurl=unix://{d / 'run' / 'supervisor.sock'}", ""]
    for p in programs:
        endpoint = p.group == "endpoints"
        out += [f"[program:{p.name}]", f"command={_ini(shlex.join(p.command))}", f"priority={p.priority}",
                f"autostart={'true' if p.name == 'postgres' else 'false'}",
                # an endpoint that exits 0 was drained on purpose (SIGTERM): it stays down; a crash restarts it
                f"autorestart={'unexpected' if endpoint else 'true'}", "exitcodes=0", "startsecs=2",
                "startretries=10", f"stopsignal={'INT' if p.name == 'postgres' else 'TERM'}",
                f"stopwaitsecs={int(tel.drain_timeout_s) + 20 if endpoint else 20}", "killasgroup=true",
                f"stdout_logfile={d / 'logs' / (p.name + '.log')}", "redirect_stderr=true",
                "stdout_logfile_maxbytes=20MB", "stdout_logfile_backups=3"]
        if p.env:
            out.append(f"environment={_env(p.env)}")
        if p.user:
            out.append(f"user={p.user}")
        out.append("")
    members = [p.name for p in programs if p.group == "endpoints"]
    out += ["[group:endpoints]", f"programs={','.join(members)}", "priority=50", ""]
    return "\n".join(out)


def render(layout: Layout, programs: list[Program], shared_env: dict[str, str]) -> Path:
    for sub in ("run", "logs"):
        (layout.dir / sub).mkdir(parents=True, exist_ok=True)
    (layout.dir / "dispatcher.list").write_text(dispatcher_list(layout))
    conf = layout.dir / "supervisord.conf"
    conf.write_text(supervisord_conf(layout, programs, shared_env))
    return conf


# -- the command -----------------------------------------------------------------------------------------------
def database_for(settings: Settings, endpoints: int, allow_sqlite: bool, prepare: bool = True
                 ) -> tuple[str, Program | None]:
    url = settings.database_url
    if url.startswith("sqlite") or (not url and allow_sqlite) or (not url and endpoints == 1):
        if endpoints > 1 and not allow_sqlite:
            raise IvrError(f"{endpoints} endpoints on SQLite refused: {SQLITE_REFUSED}")
        return settings.db_url, None
    if url:
        return url, None
    program, local_url = local_postgres(settings, prepare)
    return local_url, program


def _wait_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise IvrError(f"nothing answers on {host}:{port} after {timeout:.0f} s")


def sip_ping(host: str, port: int, timeout: float = 1.0) -> int | None:
    """Send one SIP OPTIONS over UDP; the status code of the answer, or None when nothing answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.bind((host, 0))
        me = f"{host}:{s.getsockname()[1]}"
        tag = os.urandom(6).hex()
        s.sendto((f"OPTIONS sip:{host}:{port} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{tag}\r\n"
                  f"From: <sip:cluster@{me}>;tag={tag}\r\nTo: <sip:{host}:{port}>\r\nCall-ID: {tag}@{host}\r\n"
                  f"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode(), (host, port))
        try:
            reply = s.recv(4096).decode("latin-1").split(" ", 2)
        except OSError:
            return None
    return int(reply[1]) if len(reply) > 1 and reply[1].isdigit() else None


def wait_ready(layout: Layout, timeout: float, alive) -> list[int]:
    """Wait until every endpoint answers OPTIONS with 200 (models loaded); the endpoints that never did."""
    waiting = set(range(1, layout.endpoints + 1))
    deadline = time.monotonic() + timeout
    while waiting and time.monotonic() < deadline and alive():
        waiting = {i for i in waiting if sip_ping(layout.host, layout.endpoint_port(i), 0.5) != 200}
        if waiting:
            time.sleep(0.5)
    return sorted(waiting)


def run(settings: Settings, endpoints: int, sip_port: int, allow_sqlite: bool, demo: bool, dry_run: bool) -> int:
    from models.demo import seed_demo
    from models.migrate import upgrade

    from .app import App

    if shutil.which("kamailio") is None and not Path("/usr/sbin/kamailio").exists():
        raise IvrError("Kamailio is not installed (Debian package `kamailio`): it is the cluster's SIP front door")
    if settings.cluster.media_relay and shutil.which("rtpengine") is None:
        raise IvrError("rtpengine is not installed (Debian package `rtpengine-daemon`): it relays the callers' RTP; "
                       "install it, or set cluster.media_relay: false (callers then reach the endpoints' RTP ports)")
    layout = Layout(settings, endpoints, sip_port)
    url, postgres = database_for(settings, endpoints, allow_sqlite, prepare=not dry_run)
    programs = ([postgres] if postgres else []) + plan(settings, endpoints, sip_port)
    shared = {"IVR_DATA_DIR": str(settings.data_dir.resolve()), "IVR_DATABASE_URL": url,
              "IVR_MONITORING__LOG_FORMAT": settings.monitoring.log_format,
              "PATH": f"{Path(sys.executable).parent}:/usr/sbin:/usr/bin:/sbin:/bin"}
    conf = render(layout, programs, shared)
    if dry_run:
        print(conf.read_text())
        return 0
    supervisord = subprocess.Popen([_bin("supervisord"), "-n", "-c", str(conf)])
    ctl = [_bin("supervisorctl"), "-c", str(conf)]
    stopping = []

    def stop(*_):
        stopping.append(True)
        supervisord.send_signal(signal.SIGTERM)   # it stops the endpoints first (they drain), Kamailio last

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        if postgres:
            _wait_port("127.0.0.1", settings.cluster.postgres_port, 60)
            create_database(url)
        app = App(settings.model_copy(update={"database_url": url}))
        upgrade(app.engine)
        if demo:
            seed_demo(app.sessions())
        app.engine.dispose()
        deadline = time.monotonic() + 20
        while subprocess.run([*ctl, "pid"], capture_output=True).returncode and time.monotonic() < deadline:
            time.sleep(0.2)
        if supervisord.poll() is not None:
            raise IvrError(f"supervisord stopped at start: see {layout.dir / 'logs' / 'supervisord.log'}")
        if not stopping:
            first = ["rtpengine"] if settings.cluster.media_relay else []
            subprocess.run([*ctl, "start", *first, "kamailio", "console", "analyzer", "endpoints:*"],
                           capture_output=True)
            if late := wait_ready(layout, 300, lambda: not stopping and supervisord.poll() is None):
                print(f"endpoint(s) {late} not answering yet: see {layout.dir / 'logs'}", file=sys.stderr, flush=True)
    except Exception:
        stop()
        supervisord.wait(120)
        raise
    if not stopping:
        print(f"cluster up: sip:{settings.telephony.user}@{layout.host}:{sip_port} (Kamailio) -> {endpoints} "
              f"endpoint(s) on ports {layout.endpoint_port(1)}-{layout.endpoint_port(endpoints)}; console "
              f"http://{layout.host}:{settings.cluster.console_port}/; metrics on ports "
              f"{layout.metrics_port('kamailio')}-{layout.metrics_port('endpoint', endpoints)}; logs in "
              f"{layout.dir / 'logs'}; status: supervisorctl -c {conf} status", flush=True)
    return supervisord.wait()
