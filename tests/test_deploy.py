"""The container files mirror the tested native steps: deploy/compose.yaml runs what `ivr cluster` runs
(ivr.cluster.plan), deploy/prometheus.yml scrapes the ports the plan gives, the Dockerfile builds with `make setup`.
No Docker engine here: Kamailio's and Prometheus's own config checks stand in for starting the containers."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from config import Settings
from ivr.cluster import Layout, dispatcher_list, plan

from .conftest import ROOT

DEPLOY = ROOT / "deploy"
IMAGE_ROOT = "/opt/ivr"                       # WORKDIR of the Dockerfile: the repository inside the image
KAMAILIO = shutil.which("kamailio") or ("/usr/sbin/kamailio" if Path("/usr/sbin/kamailio").exists() else None)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


@pytest.fixture
def image_settings(compose, monkeypatch) -> Settings:
    """The settings the containers load: the embedded defaults plus the compose file's shared environment."""
    for name in [n for n in os.environ if n.startswith("IVR_")]:
        monkeypatch.delenv(name)
    for name, value in compose["x-ivr-env"].items():
        monkeypatch.setenv(name, str(value))
    return Settings()


def endpoint_services(compose: dict) -> list[str]:
    return sorted((n for n in compose["services"] if re.fullmatch(r"endpoint-\d+", n)), key=lambda n: int(n[9:]))


def in_image(args: list[str]) -> list[str]:
    """A plan() command as it reads inside the image: repository paths under /opt/ivr, the executable by name."""
    mapped = [a.replace(str(ROOT), IMAGE_ROOT) for a in args]
    return [Path(mapped[0]).name, *mapped[1:]]


def test_compose_runs_exactly_the_plan(compose, image_settings):
    endpoints = len(endpoint_services(compose))
    assert endpoints >= 2
    shared = {k: str(v) for k, v in compose["x-ivr-env"].items()}
    services = compose["services"]
    programs = plan(image_settings, endpoints=endpoints, sip_port=5060)
    assert {p.name for p in programs} == {"rtpengine", "kamailio", "console", "analyzer",
                                            *endpoint_services(compose)}
    for program in programs:
        service = services[program.name]
        assert in_image(service["command"]) == in_image(program.command), program.name
        assert service["command"][0] in (Path(program.command[0]).name, f"{IMAGE_ROOT}/.venv/bin/{Path(program.command[0]).name}")
        assert {k: str(v) for k, v in service["environment"].items()} == {**shared, **program.env}, program.name
        assert service["network_mode"] == "host"
        assert "ivr-data:/var/lib/ivr" in service["volumes"]
        assert service["depends_on"] == {"init": {"condition": "service_completed_successfully"}}
        endpoint = program.group == "endpoints"
        drain = int(image_settings.telephony.drain_timeout_s) + 20 if endpoint else 20
        assert service["stop_grace_period"] == f"{drain}s", program.name     # supervisord's stopwaitsecs
        assert service["restart"] == ("on-failure" if endpoint else "unless-stopped"), program.name


def test_init_prepares_what_the_programs_read(compose, image_settings):
    init = compose["services"]["init"]
    script = shlex.split(init["command"][-1])
    endpoints = len(endpoint_services(compose))
    assert script[:5] == ["ivr", "cluster", "--endpoints", str(endpoints), "--dry-run"]
    assert "--demo" in script and script[script.index("db"):][:3] == ["db", "init", "--demo"]
    assert {k: str(v) for k, v in init["environment"].items()} == {k: str(v) for k, v in compose["x-ivr-env"].items()}
    assert init["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert image_settings.data_dir == Path("/var/lib/ivr")
    assert image_settings.database_url.startswith("postgresql+psycopg://")
    # the dispatcher list init renders sends calls to the endpoint services' own SIP ports
    listed = dispatcher_list(Layout(image_settings, endpoints, 5060))
    for name in endpoint_services(compose):
        cmd = compose["services"][name]["command"]
        uri = f"sip:{cmd[cmd.index('--host') + 1]}:{cmd[cmd.index('--sip-port') + 1]}"
        assert re.search(rf"^1 {re.escape(uri)} ", listed, re.M), (name, listed)


def test_postgres_service_is_the_shared_database(compose, image_settings):
    pg = compose["services"]["postgres"]
    env = pg["environment"]
    url = image_settings.database_url
    assert url == (f"postgresql+psycopg://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}@127.0.0.1:5432/"
                   f"{env['POSTGRES_DB']}")
    assert pg["image"].startswith("postgres:15") and pg["network_mode"] == "host"
    assert "listen_addresses=127.0.0.1" in pg["command"] and "pg_isready" in pg["healthcheck"]["test"]


def _metrics_ports(programs) -> dict[str, int]:
    ports = {}
    for p in programs:
        if p.name == "rtpengine":      # the media relay: no exporter of ours
            continue
        if p.name == "kamailio":
            ports[p.name] = int(next(a for a in p.command if a.startswith("METRICS_PORT=")).split("=")[1])
        else:
            ports[p.name] = int(p.env["IVR_MONITORING__METRICS_PORT"])
    return ports


def test_prometheus_scrapes_every_process(compose, image_settings):
    conf = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    assert conf["global"]["scrape_interval"] == "5s"
    scraped = {}
    for job in conf["scrape_configs"]:
        for group in job["static_configs"]:
            assert set(group["labels"]) >= {"role", "node"}, job["job_name"]
            for target in group["targets"]:
                scraped[group["labels"]["node"]] = target
    programs = plan(image_settings, endpoints=len(endpoint_services(compose)), sip_port=5060)
    ports = _metrics_ports(programs)
    assert len(set(ports.values())) == len(ports), ports                # one exporter port per process
    hosts = {"kamailio": image_settings.cluster.host}
    expected = {name: f"{hosts.get(name, image_settings.monitoring.metrics_host)}:{port}" for name, port in ports.items()}
    assert scraped == expected
    prom = compose["services"]["prometheus"]
    assert "./prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prom["volumes"]
    assert prom["network_mode"] == "host"


def _make_rule(makefile: str, target: str) -> tuple[list[str], list[str]]:
    """A Makefile rule's prerequisites and recipe lines."""
    lines = makefile.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"{re.escape(target)}\s*:(?!=)", line))
    prereqs = lines[start].split(":", 1)[1].split()
    recipe = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return prereqs, recipe


def test_dockerfile_builds_with_make_setup():
    makefile = (ROOT / "Makefile").read_text()
    docker = (ROOT / "Dockerfile").read_text()
    steps = [re.sub(r"\\\n\s*", " ", s).strip() for s in re.split(r"\n(?=[A-Z]+ )", re.sub(r"(?m)^#.*\n", "", docker))]
    assert steps[0].startswith("FROM ") and "bookworm" in steps[0]        # the Debian the native steps run on
    runs = [s for s in steps if s.startswith("RUN ")]
    setup_at = next(i for i, s in enumerate(steps) if s.startswith("RUN ") and re.search(r"\bmake setup\b", s))
    assert any(s.startswith("COPY . ") for s in steps[:setup_at]), "make setup must see the whole repository"
    # `make setup` installs every Debian package of the Makefile and the locked requirements, then the project
    prereqs, _ = _make_rule(makefile, "setup")
    assert "system-packages" in prereqs
    _, apt_recipe = _make_rule(makefile, "system-packages")
    assert any("apt-get install" in line and "$$missing" in line for line in apt_recipe)
    _, pip_recipe = _make_rule(makefile, "$(STAMP)")
    assert "$(BIN)/pip install -q -r requirements.lock" in pip_recipe
    assert "$(BIN)/pip install -q --no-deps -e ." in pip_recipe
    apt = re.search(r"^APT_PACKAGES\s*:=(.*)$", makefile, re.M).group(1).split()
    assert "kamailio" in apt or any(re.search(r"apt-get install .*\bkamailio\b", s) for s in runs)
    assert re.search(r"(?m)^CMD \[\"ivr\", \"cluster\"\]", docker)
    lock = (ROOT / "requirements.lock").read_text()
    for pin in ("supervisor==", "prometheus-client==", "torch==2.13.0"):          # `ivr cluster` and metrics
        assert re.search(rf"(?im)^{re.escape(pin)}", lock), pin
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and "var" in ignored      # the image makes its own venv; no host data goes in


@pytest.mark.skipif(KAMAILIO is None, reason="kamailio not installed")
def test_kamailio_accepts_the_config_with_the_plan_defines(tmp_path, image_settings):
    settings = image_settings.model_copy(update={"data_dir": tmp_path})
    layout = Layout(settings, 2, 5060)
    (layout.dir / "run").mkdir(parents=True)
    (layout.dir / "dispatcher.list").write_text(dispatcher_list(layout))
    command = next(p.command for p in plan(settings, endpoints=2, sip_port=5060) if p.name == "kamailio")
    args = [a for a in command[1:] if a not in ("-DD", "-E")]
    done = subprocess.run([KAMAILIO, "-c", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "config file ok" in done.stdout + done.stderr, done.stderr[-2000:]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian `prometheus`) not installed")
def test_promtool_accepts_prometheus_yml():
    done = subprocess.run(["promtool", "check", "config", str(DEPLOY / "prometheus.yml")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
