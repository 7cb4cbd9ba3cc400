"""`setup(process, settings)`: this process's logging (text or JSON lines) and its Prometheus exporter."""
from __future__ import annotations

import logging
import os

from config import IvrError

from . import metrics
from .logs import JsonFormatter, TextFormatter

QUIET = ("sentence_transformers", "transformers", "huggingface_hub")   # INFO turns on their progress bars
_handler: logging.Handler | None = None
_exporter: tuple[str, int] | None = None


def setup(process: str, settings) -> None:
    """Idempotent: a second call reconfigures logging; the exporter starts once per process."""
    global _handler, _exporter
    cfg = settings.monitoring
    if node := getattr(settings.telephony, "node", None):
        metrics.set_node(node)
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    if cfg.log_format == "json":   # every line a JSON object: no progress bars on stderr
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TQDM_DISABLE", "1")
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    _handler = logging.StreamHandler()
    _handler.setFormatter(JsonFormatter(process, metrics.node) if cfg.log_format == "json" else TextFormatter())
    root.addHandler(_handler)
    level = os.environ.get("IVR_LOG_LEVEL", "WARNING").upper()
    try:
        root.setLevel(level)
    except ValueError:
        raise IvrError(f"IVR_LOG_LEVEL={level!r} is not a log level (DEBUG, INFO, WARNING, ERROR)") from None
    if cfg.metrics_port and _exporter is None:
        from prometheus_client import start_http_server

        try:
            start_http_server(cfg.metrics_port, addr=cfg.metrics_host)
        except OSError as err:
            raise IvrError(f"cannot serve metrics on {cfg.metrics_host}:{cfg.metrics_port}: {err.strerror}") from None
        _exporter = (cfg.metrics_host, cfg.metrics_port)
