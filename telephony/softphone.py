"""`ivr call`: a real pjsua2 softphone that calls the IVR, speaks (espeak-ng, not the IVR's own voice), keys
RFC 2833 digits, plays WAVs, waits, records what it hears, and transcribes the IVR's prompts."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pjsua2 as pj
import soundfile as sf

from asr.vad import Endpointer, SpeechStarted, Utterance, split_utterances
from config import IvrError, Settings

from .audio_buffers import FRAME_BYTES, RATE, SILENCE, OutgoingAudio, Playback
from .media import PortPool
from .pj_thread import PjThread

QUIET_S = 2.0          # the IVR counts as finished after this much silence following its speech
NOTHING_S = 5.0        # ...or when it has said nothing at all for this long


@dataclass
class Step:
    kind: str          # say | dtmf | play | wait
    value: str


class StereoRecorder:
    """What the softphone sent (left) and heard (right), in memory, frame-aligned by the media clock."""

    def __init__(self):
        self._left: list[bytes] = []
        self._right: list[bytes] = []
        self._lock = threading.Lock()

    def caller(self, frame: bytes) -> None:
        with self._lock:
            self._left.append(frame)

    def ivr(self, frame: bytes) -> None:
        with self._lock:
            self._right.append(frame)

    def heard(self) -> bytes:
        with self._lock:
            return b"".join(self._right)

    def write(self, path: Path) -> Path:
        with self._lock:
            n = max(len(self._left), len(self._right))
            left = np.frombuffer(b"".join(self._left).ljust(n * FRAME_BYTES, b"\x00"), dtype="<i2")
            right = np.frombuffer(b"".join(self._right).ljust(n * FRAME_BYTES, b"\x00"), dtype="<i2")
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), np.stack([left, right], axis=1), RATE, subtype="PCM_16")
        return path


class _Phone(pj.Call):
    def __init__(self, account, owner: "Softphone"):
        super().__init__(account)
        self.owner, self.port = owner, None

    def onCallState(self, prm):
        info = self.getInfo()
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED:
            self.owner.connected.set()
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.owner.status = f"{info.lastStatusCode} {info.lastReason}"
            self.owner.ended.set()
            self.owner.connected.set()

    def onCallMediaState(self, prm):
        if self.port is None:
            self.port = self.owner.ports.connect(self, self.owner.heard, self.owner.to_send)


class Softphone:
    def __init__(self, settings: Settings, ani: str | None, language: str | None = None):
        """`language`: what the caller speaks (--say in that language's voice); None: English."""
        self.settings, self.ani, self.language = settings, ani, language
        self.out = OutgoingAudio()
        self.recorder = StereoRecorder()
        self.ports = PortPool("softphone")
        self.connected, self.ended = threading.Event(), threading.Event()
        self.status = ""
        self._ivr_vad = Endpointer(settings.vad.model_copy(update={"hangover_ms": 300}), RATE)
        self._lock = threading.Lock()
        self._ivr_speaking = False
        self._last_ivr_speech = 0.0
        self._frames_heard = 0
        self.t0 = 0.0

    # media clock thread
    def heard(self, frame: bytes) -> None:
        self.recorder.ivr(frame)
        self._frames_heard += 1
        for ev in self._ivr_vad.process(frame):
            with self._lock:
                if isinstance(ev, SpeechStarted):
                    self._ivr_speaking = True
                elif isinstance(ev, Utterance):
                    self._ivr_speaking, self._last_ivr_speech = False, time.monotonic()
        if self._ivr_vad.in_speech:
            self._last_ivr_speech = time.monotonic()

    def to_send(self) -> bytes | None:
        frame = self.out.pop()
        self.recorder.caller(frame or SILENCE)
        return frame

    # the caller's script
    def wait_ivr_quiet(self, since: float, limit: float = 90.0) -> None:
        """Until the IVR has spoken since `since` and then been quiet, or said nothing for NOTHING_S."""
        end = time.monotonic() + limit
        while time.monotonic() < end and not self.ended.is_set():
            with self._lock:
                speaking, last = self._ivr_speaking, self._last_ivr_speech
            now = time.monotonic()
            if not speaking and last > since and now - last >= QUIET_S:
                return
            if not speaking and last <= since and now - since >= NOTHING_S:
                return
            time.sleep(0.02)

    def _send(self, pcm: bytes) -> None:
        playback = Playback()
        self.out.push(pcm, playback)
        self.out.finish(playback)
        self.wait_sent()

    def wait_sent(self) -> None:
        while self.out.pending and not self.ended.is_set():
            time.sleep(0.02)

    def run(self, uri: str, steps: list[Step], timeout: float = 120.0) -> list[dict]:
        from tts import get_synthesizer

        if self.language and self.language != self.settings.languages[0]:
            voice = get_synthesizer(settings=self.settings, language=self.language)
        else:
            voice = get_synthesizer("espeak", "en-us")
            voice.wpm = 130  # slower espeak is far easier for any recogniser to hear
        host = uri.split("@", 1)[-1].split(":")[0].split(";")[0] or "127.0.0.1"
        phone = PjThread(host, 0, tcp=False, max_calls=1)
        holder: dict = {}

        def setup(ep):
            cfg = pj.AccountConfig()
            cfg.idUri = f"sip:{self.ani or 'anonymous'}@{host}"
            cfg.regConfig.registerOnAdd = False
            cfg.mediaConfig.transportConfig.port = 0
            acc = pj.Account()
            acc.create(cfg)
            holder["account"] = acc

        phone.start(setup, teardown=holder.clear)
        log: list[dict] = []
        try:
            def dial():
                call = _Phone(holder["account"], self)
                call.makeCall(uri, pj.CallOpParam(True))
                holder["call"] = call

            try:
                phone.run(dial)
            except pj.Error as err:
                raise IvrError(f"cannot call {uri}: {err.info().splitlines()[0]}") from None
            if not self.connected.wait(15) or self.ended.is_set():
                raise IvrError(f"call to {uri} was not answered: {self.status or 'timeout'}")
            self.t0 = time.monotonic()
            deadline = self.t0 + timeout
            previous = "start"
            for step in steps:
                if self.ended.is_set() or time.monotonic() > deadline:
                    break
                if step.kind != "wait" and previous != "wait":
                    self.wait_ivr_quiet(since=self._step_time(log))
                at = round(time.monotonic() - self.t0, 3)
                if step.kind == "say":
                    self._send(voice.synthesize(step.value, RATE))
                    self.wait_sent()
                elif step.kind == "play":
                    from asr.audio import float_to_pcm16, load_audio

                    self._send(float_to_pcm16(load_audio(step.value, RATE)))
                    self.wait_sent()
                elif step.kind == "dtmf":
                    phone.run(lambda d=step.value: holder["call"].dialDtmf(d))
                    time.sleep(0.25 * len(step.value))
                else:
                    time.sleep(float(step.value))
                log.append({"step": step.kind, "value": step.value, "at_s": at})
                previous = step.kind
            self.wait_ivr_quiet(since=self._step_time(log))
            if not self.ended.is_set():
                phone.run(lambda: holder["call"].hangup(pj.CallOpParam()))
                self.ended.wait(5)
        finally:
            phone.stop()  # pjsua2 objects (holder) are released on the pj thread
        return log

    def _step_time(self, log: list[dict]) -> float:
        return self.t0 + log[-1]["at_s"] if log else self.t0

    def heard_prompts(self, recognizer) -> list[dict]:
        """The IVR's side, split at pauses and transcribed."""
        pcm = self.recorder.heard()
        vad = self.settings.vad.model_copy(update={"hangover_ms": 700, "max_utterance_s": 28.0})
        out = []
        for utt in split_utterances(pcm, vad, RATE):
            text = recognizer.transcribe_pcm16(utt.audio, RATE, word_timestamps=False).text
            if text:
                out.append({"start_s": round(utt.start_s, 2), "end_s": round(utt.end_s, 2), "text": text})
        return out
