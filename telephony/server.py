"""`ivr serve`: a pjsua2 SIP endpoint that answers calls and runs each through a CallPipeline."""
from __future__ import annotations

import gc
import logging
import re
import signal
import threading
import time
import weakref
from dataclasses import dataclass, field

import pjsua2 as pj

from .call_pipeline import CallPipeline
from .media import CallMediaPort, PortPool
from .pj_thread import PjThread
from .sip_guard import SipGuard

log = logging.getLogger(__name__)
GC_EVERY_S = 5.0     # the cycle collector's period, on the pj thread (see IvrServer.start)
NO_MEDIA_S = 10.0    # an answered call whose audio never started, or that pjsua no longer knows, is closed then


@dataclass
class Services:
    """What every call shares: the app (db, flow, NLU), one recognizer, one synthesizer, the prompt cache (of the
    default language), and those of the other languages a call may be served in."""
    app: object
    settings: object
    recognizer: object
    synth: object
    prompt_cache: object
    node: str | None = None       # host:port of this endpoint, stored with each call it takes
    languages: dict[str, tuple] = field(default_factory=dict)   # language -> (recognizer, synth, prompt cache)

    def recognizer_for(self, language: str):
        return self.languages[language][0] if language in self.languages else self.recognizer

    def voice_for(self, language: str) -> tuple:
        """(synthesizer, prompt cache) that say a prompt of `language`."""
        return self.languages[language][1:] if language in self.languages else (self.synth, self.prompt_cache)


def request_user(whole_msg: str) -> str:
    m = re.match(r"INVITE\s+sips?:([^@;>\s]+)@", whole_msg)
    return m.group(1) if m else ""


def trusted(source: str, sources: list[str]) -> bool:
    """Is `source` ("ip:port" of a request) one of `sources` ("ip" or "ip:port")? An empty list trusts anyone."""
    host = source.rsplit(":", 1)[0].strip("[]")
    return not sources or source in sources or host in sources


def uri_user(uri: str) -> str | None:
    m = re.search(r"sips?:([^@;>\s]+)@", uri or "")
    return m.group(1) if m else None


class IvrCall(pj.Call):
    def __init__(self, server: "IvrServer", account: pj.Account, call_id: int):
        super().__init__(account, call_id)
        self.server = server
        self.pipeline: CallPipeline | None = None
        self.port: CallMediaPort | None = None
        self.rx_packets, self.rx_changed = -1, time.monotonic()
        self.answered_at = time.monotonic()
        self.gone = False   # disconnected: its pjsua id may already belong to another call

    def onCallState(self, prm):
        info = self.getInfo()
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.server.disconnected(self)

    def onCallMediaState(self, prm):
        """First answer, hold, resume, or any re-INVITE/UPDATE: (re)wire the media port to the audio stream."""
        pipeline = self.pipeline  # not self: the port must not keep the call alive
        if pipeline is None:
            return
        if self.port is None:
            self.port = self.server.ports.connect(self, pipeline.on_caller_frame, pipeline.next_frame)
            if self.port is not None:
                pipeline.start()
            return
        status = self.server.ports.wire(self, self.port)
        pipeline.on_hold(status == "hold")

    def onDtmfDigit(self, prm):  # RFC 2833 telephone-events and SIP INFO
        if self.pipeline:
            self.pipeline.on_dtmf(prm.digit)

    def onCallTransferRequest(self, prm):
        """A REFER from the caller's side: refused. Only the IVR chooses where a call goes (toll fraud)."""
        prm.statusCode = pj.PJSIP_SC_FORBIDDEN
        log.warning("call %s: refused a REFER from the caller to %s", self.getId(), prm.dstUri)
        if self.pipeline:
            self.pipeline.on_caller_refer(prm.dstUri)

    def onCallReplaceRequest(self, prm):
        """An INVITE with Replaces (call pickup / takeover of this call): refused."""
        prm.statusCode = pj.PJSIP_SC_FORBIDDEN

    def onCallTransferStatus(self, prm):
        if prm.finalNotify and self.pipeline:
            self.pipeline.on_transfer_result(prm.statusCode)

    def rtp_silent_for(self) -> float:
        """Seconds since the last RTP packet arrived (media may not be up yet: 0)."""
        if self.port is None:
            return 0.0
        try:
            stat = self.getStreamStat(0)
            packets = stat.rtcp.rxStat.pkt
        except pj.Error:
            return 0.0
        if packets != self.rx_packets:
            self.rx_packets, self.rx_changed = packets, time.monotonic()
        return time.monotonic() - self.rx_changed


class IvrAccount(pj.Account):
    def __init__(self, server: "IvrServer"):
        super().__init__()
        self.server = server

    def onIncomingCall(self, prm):
        self.server.incoming(self, prm)


class IvrServer:
    def __init__(self, services: Services, host: str, sip_port: int):
        self.services = services
        self.cfg = services.settings.telephony
        self.host, self.sip_port = host, sip_port
        self.pj = PjThread(host, sip_port, max_calls=self.cfg.max_calls)
        self.ports = PortPool("ivr")
        self.calls: dict[int, IvrCall] = {}     # answered calls in progress, by pjsua call id
        self._objects: dict[int, IvrCall] = {}  # every call object, from its INVITE to its DISCONNECTED (see _free)
        self.guard: SipGuard | None = None   # answers OPTIONS and new INVITEs with 503 while draining
        self.recordings = services.settings.data_dir / "recordings"
        self._account: IvrAccount | None = None
        self._last_check = 0.0
        self._last_gc = 0.0

    # -- pj thread ---------------------------------------------------------------------------------------
    @property
    def draining(self) -> bool:
        return self.guard is not None and self.guard.draining

    def _setup(self, ep: pj.Endpoint) -> None:
        self.guard = SipGuard(lambda source: trusted(source, self.cfg.trusted_sources))
        self.guard.install()
        cfg = pj.AccountConfig()
        cfg.idUri = f"sip:{self.cfg.user}@{self.host}:{self.sip_port}"
        cfg.mediaConfig.transportConfig.port = self.cfg.rtp_port
        cfg.mediaConfig.transportConfig.portRange = self.cfg.rtp_port_range
        cfg.mediaConfig.transportConfig.boundAddress = self.host
        if self.cfg.registrar:
            cfg.regConfig.registrarUri = self.cfg.registrar
            cred = pj.AuthCredInfo("digest", "*", self.cfg.username, 0, self.cfg.password)
            cfg.sipConfig.authCreds.append(cred)
        else:
            cfg.regConfig.registerOnAdd = False
        self._account = IvrAccount(self)
        self._account.create(cfg)

    def incoming(self, account: pj.Account, prm) -> None:
        if (stale := self._objects.pop(prm.callId, None)) is not None:
            self._abandon(stale)   # its DISCONNECTED never came, and pjsua has given its id to this INVITE
        call = self._objects[prm.callId] = IvrCall(self, account, prm.callId)
        refusal = self._refusal(prm.rdata.srcAddress, request_user(prm.rdata.wholeMsg))
        if refusal:
            self._refuse(call, refusal)
            return
        info = call.getInfo()
        ani = uri_user(info.remoteUri)
        language = self.cfg.language_users.get(request_user(prm.rdata.wholeMsg))   # sip:bank-zh@...: Mandarin
        try:
            ref = weakref.ref(call)   # a job queued for a call must not keep its object past DISCONNECTED (_free)
            call.pipeline = CallPipeline(self.services, ani, hangup=lambda: self.pj.call_soon(lambda: self._hangup(ref())),
                                         transfer=lambda action: self.pj.call_soon(lambda: self._refer(ref(), action)),
                                         recording_dir=self.recordings, language=language)
        except Exception:  # noqa: BLE001 - refuse this call, keep the endpoint
            log.exception("a call from %s could not be set up; refused with 500", ani)
            self._refuse(call, pj.PJSIP_SC_INTERNAL_SERVER_ERROR)
            return
        self.calls[prm.callId] = call
        op = pj.CallOpParam()
        op.statusCode = pj.PJSIP_SC_OK
        try:
            call.answer(op)
        except pj.Error as err:
            log.warning("call %s could not be answered: %s", call.pipeline.call_log.call_id, err.info())
            call.pipeline.on_hangup()
            self.forget(call)   # its DISCONNECTED frees it

    def _refuse(self, call: IvrCall, status: int) -> None:
        """Answer a new INVITE with `status`, on the pj thread's next turn: not inside onIncomingCall, where an
        INVITE without SDP is reset at once and pjsua2 then frees NULL rx data on return (assertion, abort)."""
        op = pj.CallOpParam()
        op.statusCode = status
        ref = weakref.ref(call)
        self.pj.call_soon(lambda: self._hangup(ref(), op))

    def _refusal(self, source: str, user: str) -> int | None:
        """The status a new INVITE is refused with, or None to answer it."""
        if not trusted(source, self.cfg.trusted_sources):
            log.warning("INVITE from %s refused with 403: not a trusted source", source)
            return pj.PJSIP_SC_FORBIDDEN
        if user != self.cfg.user and user not in self.cfg.language_users:
            return pj.PJSIP_SC_NOT_FOUND
        if self.draining:
            return pj.PJSIP_SC_SERVICE_UNAVAILABLE
        if len(self.calls) >= self.cfg.max_calls:
            return pj.PJSIP_SC_BUSY_HERE
        return None

    def forget(self, call: IvrCall) -> None:
        """No longer a call in progress (it may still wait for its DISCONNECTED)."""
        for key, value in list(self.calls.items()):
            if value is call:
                del self.calls[key]

    def disconnected(self, call: IvrCall) -> None:
        """The call is over in pjsua (a BYE either way, a CANCEL, a refusal, a timeout)."""
        try:
            if call.pipeline:
                call.pipeline.on_hangup()
        finally:   # whatever that raised, the object goes while its id is its own
            self.forget(call)
            self._free(call)

    def _free(self, call: IvrCall) -> None:
        """Destroy a call's C++ object inside its DISCONNECTED callback, while its pjsua id is still its own (the
        pjsua2 idiom: `delete this` there). pjsua2's ~Call() clears the user data of its id and hangs up whatever
        call has it; ids are reused (4 per process), so a destructor run later (when the last Python reference went:
        a traceback held one in a database outage) took a new call's callbacks and hung it up. The Python object
        may outlive this as an empty shell: `gone` keeps every path off it."""
        call.gone = True
        self._release_call(call)
        self._drop_object(call)
        IvrCall.__swig_destroy__(call)   # deletes the C++ object and disowns it: no second delete later

    def _drop_object(self, call: IvrCall) -> None:
        if self._objects.get(call.getId()) is call:
            del self._objects[call.getId()]

    def _abandon(self, call: IvrCall) -> None:
        """A call object whose DISCONNECTED never came: end its pipeline, and never run its C++ destructor (its id
        may belong to another call now; the object, a few hundred bytes, is left to the library)."""
        log.warning("call %s: gone from the SIP stack without a disconnect; closing it",
                    call.pipeline.call_log.call_id if call.pipeline else "(refused)")
        if call.pipeline:
            call.pipeline.on_hangup("no_media")
        self.forget(call)
        call.gone = True
        self._release_call(call)
        call.thisown = False

    def _hangup(self, call: IvrCall | None, op: pj.CallOpParam | None = None) -> None:
        if call is not None and not call.gone and call.isActive():
            call.hangup(op or pj.CallOpParam())

    def _refer(self, call: IvrCall | None, action) -> None:
        if call is None or call.gone:
            return
        op = pj.CallOpParam()
        ctx = action.context
        headers = {"X-IVR-Call-Id": str(ctx.get("call_id", "")), "X-IVR-Reason": action.reason,
                   "X-IVR-Intent": ctx.get("intent") or "", "X-IVR-Customer-Id": str(ctx.get("customer_id") or ""),
                   "X-IVR-Authenticated": "yes" if ctx.get("authenticated") else "no"}
        for name, value in headers.items():
            h = pj.SipHeader()
            h.hName, h.hValue = name, value or "-"
            op.txOption.headers.append(h)
        try:
            call.xfer(self.cfg.agent_uri, op)
        except pj.Error as err:
            log.warning("REFER failed to start: %s", err.info())
            call.pipeline.on_transfer_result(500)

    def _check_rtp(self) -> None:
        now = time.monotonic()
        if now - self._last_check < 1.0:
            return
        self._last_check = now
        if now - self._last_gc >= GC_EVERY_S:
            self._last_gc = now
            gc.collect()
        for call in list(self.calls.values()):
            if self._lost(call, now):
                continue
            if call.pipeline is not None and call.pipeline.held:
                continue  # a caller on hold may send no RTP at all
            if call.rtp_silent_for() > self.cfg.rtp_timeout_s:
                log.warning("call %s: no RTP for %.0f s, hanging up", call.getId(), self.cfg.rtp_timeout_s)
                call.pipeline.on_hangup("rtp_timeout")
                self._hangup(call)
                self.forget(call)

    def _lost(self, call: IvrCall, now: float) -> bool:
        """Close a call that pjsua no longer has, or whose audio never started (a late answer to an INVITE that
        the dispatcher had already given to another endpoint): stored as ended, not left open."""
        pipeline = call.pipeline
        if pipeline is None or now - call.answered_at < NO_MEDIA_S:
            return False
        if not call.isActive():
            self._drop_object(call)
            self._abandon(call)
            return True
        if pipeline.started:
            return False
        log.warning("call %s: no audio after %.0f s; closing it", pipeline.call_log.call_id, now - call.answered_at)
        pipeline.on_hangup("no_media")
        self._hangup(call)
        self.forget(call)   # its DISCONNECTED frees it
        return True

    # -- lifetime ----------------------------------------------------------------------------------------
    def start(self) -> None:
        # Python's cycle collector runs in whatever thread allocates; if it frees a pjsua2 object (a call caught in
        # a cycle with an exception's traceback, say in a database outage) outside the pj thread, pjlib aborts the
        # process ("Calling pjlib from unknown/external thread"). So it runs only on the pj thread (_check_rtp).
        # What was loaded before the first call (models, prompts: ~500,000 objects) is frozen out of the collector's
        # view: a full collection walked them all, 0.35 s holding the GIL on the pj thread every 5 s (seconds under
        # load: INVITEs went unanswered past Kamailio's 2 s failover timer); now it takes ~2 ms.
        gc.disable()
        gc.collect()
        gc.freeze()
        self.pj.start(self._setup, teardown=self._release)

    def _release_call(self, call: IvrCall) -> None:
        """Break call <-> pipeline <-> media port reference cycles, so that these pjsua2 objects are freed right
        here on the pj thread, not later by Python's cycle collector on whatever thread it runs (pjlib aborts);
        the media port goes back to the pool."""
        if call.port is not None:
            self.ports.release(call.port)
        if call.pipeline is not None:
            call.pipeline.release()
        call.port = call.pipeline = None

    def _release(self) -> None:
        for call in [*self.calls.values(), *self._objects.values()]:
            self._release_call(call)
        self.calls.clear()
        self._objects.clear()
        self._account = None
        if self.guard is not None:
            self.guard.uninstall()

    def run_forever(self) -> None:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        while not stop.wait(0.5):
            self.pj.call_soon(self._check_rtp)
        self.drain()

    def drain(self) -> None:
        """Stop accepting calls (OPTIONS and INVITE answered 503, so a dispatcher routes around this endpoint), let
        the active ones finish (up to the drain timeout), then stop."""
        if self.guard is not None:
            self.guard.draining = True
        log.warning("draining: %d call(s) in progress, new calls refused with 503", len(self.calls))
        deadline = time.monotonic() + self.cfg.drain_timeout_s
        while self.calls and time.monotonic() < deadline:
            time.sleep(0.2)
        pipelines = [c.pipeline for c in list(self.calls.values()) if c.pipeline]
        self.pj.stop()
        for w in pipelines:
            w.on_hangup()
            w.finished.wait(5)
