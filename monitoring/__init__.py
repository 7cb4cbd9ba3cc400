"""Observability for every process: structured logs that carry the call id (and never a card number or a PIN)
and Prometheus metrics. A leaf package: it imports only config, prometheus_client and the standard library.

    monitoring.setup("serve", settings)      # once per process: logging + the /metrics exporter
    with monitoring.call_context(call_id):   # every log line of this thread (and the work it submits) names the call
        ...
"""
from __future__ import annotations

from .logs import call_context, current_call_id, forget_secrets, keep_secret, redact, set_call_id
from .metrics import node, set_node
from .setup import setup

__all__ = ["call_context", "current_call_id", "forget_secrets", "keep_secret", "node", "redact", "set_call_id",
           "set_node", "setup"]
