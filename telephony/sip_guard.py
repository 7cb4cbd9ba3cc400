"""A PJSIP module, registered ahead of pjsua's own, that refuses new work pjsua must not see.

- INVITEs from a source that is not trusted (`telephony.trusted_sources`: Kamailio, the PBX/trunk) get a stateless
  403 here, before pjsua opens RTP and RTCP sockets for them; INVITEs beyond MAX_INVITES_PER_S a stateless 503.
  pjsua takes 2 of its 64 socket slots for every INVITE it sees (answered or refused) and frees them ~0.5 s later;
  the wheel is built with assertions, so running out aborts the process: 33 INVITEs in half a second did.

pjsua answers every out-of-dialog OPTIONS with 200 by itself, so a load balancer probing it (Kamailio's
dispatcher) would keep a draining endpoint in its rotation. This module also sees each request that belongs to no
dialog before pjsua does and, while `draining` is set, answers OPTIONS and INVITE statelessly with 503: the
dispatcher takes the endpoint out of the rotation and routes new calls elsewhere, while BYE, INFO, NOTIFY and
re-INVITEs of the calls in progress (in-dialog, consumed by the dialog layer first) go on as usual.

pjsua2 has no Python API for this, so the module is a C struct made with ctypes over the symbols the wheel's
`_pjsua2` extension exports (pjsip 2.15 `pjsip_module` layout)."""
from __future__ import annotations

import ctypes
import ipaddress
import logging
import time

import pjsua2 as pj

log = logging.getLogger(__name__)

SERVICE_UNAVAILABLE = 503
PRIORITY = 40          # after the transaction (16) and dialog (32) layers, before pjsua's modules (64)
REFUSED_WHILE_DRAINING = ("INVITE", "OPTIONS")


class _PjStr(ctypes.Structure):
    _fields_ = [("ptr", ctypes.c_char_p), ("slen", ctypes.c_ssize_t)]


_ON_RX_REQUEST = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


class _PjsipModule(ctypes.Structure):
    _fields_ = [("prev", ctypes.c_void_p), ("next", ctypes.c_void_p), ("name", _PjStr), ("id", ctypes.c_int),
                ("priority", ctypes.c_int), ("load", ctypes.c_void_p), ("start", ctypes.c_void_p),
                ("stop", ctypes.c_void_p), ("unload", ctypes.c_void_p), ("on_rx_request", _ON_RX_REQUEST),
                ("on_rx_response", ctypes.c_void_p), ("on_tx_request", ctypes.c_void_p),
                ("on_tx_response", ctypes.c_void_p), ("on_tsx_state", ctypes.c_void_p)]


def _pjsip():
    lib = ctypes.CDLL(pj._pjsua2.__file__)
    lib.pjsua_get_pjsip_endpt.restype = ctypes.c_void_p
    lib.pjsip_endpt_register_module.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.pjsip_endpt_unregister_module.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.pjsip_rx_data_get_info.argtypes = [ctypes.c_void_p]
    lib.pjsip_rx_data_get_info.restype = ctypes.c_char_p
    lib.pjsip_endpt_respond_stateless.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                                  ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    return lib


def request_method(info: bytes | None) -> str:
    """The method from pjsip's rdata description, e.g. b"Request msg OPTIONS/cseq=7 (rdata0x...)"."""
    parts = (info or b"").decode("ascii", "replace").split()
    return parts[2].split("/")[0] if len(parts) > 2 and parts[0] == "Request" else ""


class _RxHead(ctypes.Structure):
    """The head of pjsip_rx_data up to pkt_info.src_port (pjsip 2.15, PJSIP_MAX_PKT_LEN 4000, 64-bit; the wheel is
    pinned in requirements.lock). A source that does not read as an IP address means another layout: the guard
    then leaves the check to `IvrServer.incoming` (pjsua2's own srcAddress), which refuses with 403 too."""
    _fields_ = [("tp_info", ctypes.c_void_p * 38), ("timestamp", ctypes.c_long * 2), ("packet", ctypes.c_char * 4000),
                ("zero", ctypes.c_uint32), ("len", ctypes.c_ssize_t), ("src_addr", ctypes.c_byte * 28),
                ("src_addr_len", ctypes.c_int), ("src_name", ctypes.c_char * 46), ("src_port", ctypes.c_int)]


FORBIDDEN = 403
MAX_INVITES_PER_S = 20   # each INVITE pjsua takes holds 2 of its 64 ioqueue slots for >= 0.5 s (RTP + RTCP)


class SipGuard:
    """Register on the pj thread (after libStart) with `install()`; flip `draining` from any thread."""

    def __init__(self, trusted=None):
        self.trusted = trusted or (lambda source: True)
        self.recent: list[float] = []        # when the INVITEs of the last second came
        self._layout_warned = False
        self.draining = False
        self.refused = 0
        self._lib = _pjsip()
        self._callback = _ON_RX_REQUEST(self._on_rx_request)   # kept: pjsip holds a raw pointer to it
        self._name = b"mod-ivr-drain"
        self._module = _PjsipModule(name=_PjStr(self._name, len(self._name)), id=-1, priority=PRIORITY,
                                    on_rx_request=self._callback)
        self._endpt: int | None = None

    def install(self) -> None:
        self._endpt = self._lib.pjsua_get_pjsip_endpt()
        status = self._lib.pjsip_endpt_register_module(self._endpt, ctypes.byref(self._module))
        if status != 0:
            raise RuntimeError(f"cannot register the drain module (pj status {status})")

    def uninstall(self) -> None:
        if self._endpt is not None:
            self._lib.pjsip_endpt_unregister_module(self._endpt, ctypes.byref(self._module))
            self._endpt = None

    def _trusted(self, rx: _RxHead) -> bool:
        try:
            host = rx.src_name.decode("ascii")
            ipaddress.ip_address(host)
        except ValueError:
            if not self._layout_warned:
                log.warning("pjsip_rx_data layout not as expected: untrusted INVITEs are refused by pjsua instead")
                self._layout_warned = True
            return True
        return self.trusted(f"{host}:{rx.src_port}")

    def _on_rx_request(self, rdata: int) -> int:
        try:
            method = request_method(self._lib.pjsip_rx_data_get_info(rdata))
            status = None
            if method == "INVITE":
                rx = _RxHead.from_address(rdata)
                now = time.monotonic()
                self.recent = [t for t in self.recent if now - t < 1.0]
                if not self._trusted(rx):
                    status = FORBIDDEN
                elif len(self.recent) >= MAX_INVITES_PER_S:
                    status = SERVICE_UNAVAILABLE
                else:
                    self.recent.append(now)
            if self.draining and method in REFUSED_WHILE_DRAINING:
                status = SERVICE_UNAVAILABLE
            if status is None:
                return 0
            self._lib.pjsip_endpt_respond_stateless(self._endpt, rdata, status, None, None, None)
            self.refused += 1
            return 1
        except Exception:  # noqa: BLE001 - an exception must never cross back into C
            log.exception("drain module failed; the request goes on to pjsua")
            return 0
