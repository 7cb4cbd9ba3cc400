"""The one thread that owns the pjsua2 Endpoint (threadCnt=0, mainThreadOnly) and runs its event loop.
Other threads never touch pjsua2 directly: they hand work over with `call_soon` / `run`."""
from __future__ import annotations

import os
import queue
import threading
from concurrent.futures import Future
from typing import Callable

import pjsua2 as pj

G711 = ("PCMU/8000", "PCMA/8000")


class PjThread:
    def __init__(self, host: str, sip_port: int, tcp: bool = True, log_level: int = 0, max_calls: int = 4):
        self.host, self.sip_port, self.tcp = host, sip_port, tcp
        self.log_level, self.max_calls = log_level, max_calls
        self.ep: pj.Endpoint | None = None
        self._jobs: queue.Queue = queue.Queue()
        self._running = threading.Event()
        self._started: Future = Future()
        self._thread = threading.Thread(target=self._main, name="pjsua2", daemon=True)

    def start(self, setup: Callable[[pj.Endpoint], None], timeout: float = 10.0,
              teardown: Callable[[], None] | None = None) -> None:
        """`setup(ep)` creates accounts; `teardown()` drops every pjsua2 object the caller holds: both run here,
        because pjsua2 objects must be created and freed on this thread, while the library is alive."""
        self._setup, self._teardown = setup, teardown
        self._running.set()
        self._thread.start()
        self._started.result(timeout)  # re-raises a failed start (e.g. port in use) here

    def call_soon(self, fn: Callable) -> None:
        self._jobs.put(fn)

    def run(self, fn: Callable, timeout: float = 10.0):
        fut: Future = Future()

        def job():
            try:
                fut.set_result(fn())
            except Exception as err:  # noqa: BLE001 - handed back to the caller's thread
                fut.set_exception(err)

        self.call_soon(job)
        return fut.result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        self._running.clear()
        self._thread.join(timeout)

    def _init(self) -> None:
        ep = self.ep = pj.Endpoint()
        saved = os.dup(1)
        os.dup2(2, 1)  # pjlib logs its start-up to stdout before any log config applies: keep stdout for output
        try:
            ep.libCreate()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        cfg = pj.EpConfig()
        cfg.logConfig.level = cfg.logConfig.consoleLevel = self.log_level
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = self.max_calls
        cfg.medConfig.noVad = True
        cfg.medConfig.clockRate = 8000
        cfg.medConfig.sndClockRate = 8000
        cfg.medConfig.ptime = 20
        ep.libInit(cfg)
        tc = pj.TransportConfig()
        tc.port, tc.boundAddress = self.sip_port, self.host
        ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc)
        if self.tcp:
            ep.transportCreate(pj.PJSIP_TRANSPORT_TCP, tc)
        ep.audDevManager().setNullDev()
        for codec in ep.codecEnum2():  # G.711 only: mu-law first, then A-law; anything else is refused (488)
            ep.codecSetPriority(codec.codecId, 0)
        for prio, name in zip((255, 254), G711):
            ep.codecSetPriority(name, prio)
        ep.libStart()

    def _run_jobs(self) -> None:
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            job()

    def _main(self) -> None:
        try:
            self._init()
            self._setup(self.ep)
        except Exception as err:  # noqa: BLE001
            self._started.set_exception(err)
            if self.ep is not None:
                self.ep.libDestroy()  # on this thread: pjlib refuses calls from threads it does not know
            return
        self._started.set_result(True)
        while self._running.is_set():
            self.ep.libHandleEvents(10)
            self._run_jobs()
        try:
            self.ep.hangupAllCalls()
            for _ in range(20):
                self.ep.libHandleEvents(10)
            self._run_jobs()  # queued jobs hold pjsua2 objects too: run them while the library is alive
            if self._teardown:
                self._teardown()
            import gc

            gc.collect()
        finally:
            self.ep.libDestroy()
