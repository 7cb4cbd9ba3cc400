"""One call's brain: caller frames -> VAD -> ASR -> dialog -> TTS -> outgoing frames, with barge-in, DTMF,
PIN muting of the recording, and a latency measurement per turn. Runs on its own two threads (listener,
speaker) and talks to pjsua2 only through the callbacks it is given."""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import dataclass, field

from asr.vad import Endpointer, NoInput as VadNoInput, SpeechStarted, Utterance
from ivr.call_log import CallLog
from ivr.session import CallerHungUp, CallerKeyed, CallerSaid, Hangup, Listen, NoInput, Say, Transfer

from .audio_buffers import RATE, SILENCE, OutgoingAudio, StereoRecorder

log = logging.getLogger(__name__)
INTER_DIGIT_S = 3.0     # wait this long for the next key...
COMPLETE_DIGIT_S = 1.5  # ...but only this long once the minimum number of digits is in


@dataclass
class Speculation:
    """Recognition started during the caller's pause, before the turn is known to be over."""
    end_frame: int       # last voiced frame it covers: any later speech makes it stale
    speech_end: float    # wall-clock end of the caller's speech
    started: float
    future: object
    complete: bool | None = None  # its transcript is a whole answer (decided once it is ready)


@dataclass
class TurnTiming:
    speech_end: float = 0.0
    endpoint_ms: float = 0.0
    asr_ms: float = 0.0
    dialog_ms: float = 0.0
    tts_first_ms: float = 0.0
    first_frame: float = 0.0
    extra: dict = field(default_factory=dict)


class Speaker(threading.Thread):
    """Plays Say actions in order: prompt cache first, else streamed synthesis; cancellable (barge-in)."""

    def __init__(self, synth, cache, out: OutgoingAudio):
        super().__init__(name="speaker", daemon=True)
        self.synth, self.cache, self.out = synth, cache, out
        self.jobs: queue.Queue = queue.Queue()
        self.cancel = threading.Event()
        self.current: Say | None = None
        self._busy = threading.Event()
        self.first_chunk_ms: float | None = None

    def say(self, item: Say) -> None:
        self._busy.set()
        self.jobs.put(item)

    @property
    def speaking(self) -> bool:
        return self._busy.is_set() or self.out.pending > 0

    @property
    def interruptible(self) -> bool:
        """Whether what the caller hears now (else what is being synthesized) may be cut."""
        playing = self.out.playing_interruptible()
        if playing is not None:
            return playing
        return self.current is None or self.current.interruptible

    def barge_in(self) -> int:
        self.cancel.set()
        while True:
            try:
                self.jobs.get_nowait()
            except queue.Empty:
                break
        return self.out.flush()

    def run(self) -> None:
        while True:
            item = self.jobs.get()
            if item is None:
                return
            self.current = item
            start = time.monotonic()
            pcm = self.cache.get(item.text) if self.cache else None
            if pcm is not None:
                self.first_chunk_ms = (time.monotonic() - start) * 1000
                self.out.push(pcm, item.interruptible)
            else:
                first = True
                for chunk in self.synth.stream(item.text, RATE, self.cancel):
                    if first:
                        self.first_chunk_ms, first = (time.monotonic() - start) * 1000, False
                    self.out.push(chunk, item.interruptible)
            self.out.finish()
            if self.jobs.empty():
                self.cancel.clear()
                self._busy.clear()


class CallWorker:
    def __init__(self, services, ani: str | None, hangup, transfer, recording_dir):
        self.services = services
        self.call_log = CallLog(services.app.sessions, ani, channel="sip")
        self.session = services.app.new_session(ani, self.call_log)
        self.out = OutgoingAudio()
        self.recorder = StereoRecorder()
        self.endpointer = Endpointer(services.settings.vad, RATE)
        self.speaker = Speaker(services.synth, services.prompt_cache, self.out)
        self.inbox: queue.Queue = queue.Queue()
        self._hangup, self._transfer = hangup, transfer
        self.recording_path = recording_dir / f"call-{self.call_log.call_id}.wav"
        self.listen: Listen | None = None
        self.armed = False
        self.digits = ""
        self.digit_deadline = 0.0
        self.pending_end: tuple | None = None
        self.timing: TurnTiming | None = None
        self.speculation: Speculation | None = None
        self.ending = False                 # the call loop stops after this step
        self.finished = threading.Event()   # the call has ended and everything about it is stored
        self.thread = threading.Thread(target=self._run, name=f"call-{self.call_log.call_id}", daemon=True)

    # ---- called from pjsua2 threads (media clock, pj event loop): queue only --------------------------
    def start(self) -> None:
        self.speaker.start()
        self.thread.start()

    def on_caller_frame(self, frame: bytes) -> None:
        self.recorder.caller(frame)
        self.inbox.put(("frame", time.monotonic(), frame))

    def next_frame(self) -> bytes | None:
        frame = self.out.pop()
        self.recorder.ivr(frame or SILENCE)
        return frame

    def on_dtmf(self, digit: str) -> None:
        self.inbox.put(("dtmf", time.monotonic(), digit))

    def on_hangup(self) -> None:
        self.inbox.put(("hangup", time.monotonic(), None))

    def on_transfer_result(self, code: int) -> None:
        self.inbox.put(("xfer", time.monotonic(), code))

    def release(self) -> None:
        """Forget the callbacks into the SIP layer (they reference its call object)."""
        self._hangup = self._transfer = lambda *_: None

    # ---- the call's own thread ------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._perform(self.session.start())
            while not self.ending:
                try:
                    kind, at, data = self.inbox.get(timeout=0.05)
                except queue.Empty:
                    kind, at, data = "tick", time.monotonic(), None
                self._step(kind, at, data)
        except Exception:  # noqa: BLE001 - a broken call must not take the endpoint down
            log.exception("call %s failed", self.call_log.call_id)
            if not self.session.done:
                self.call_log.end("failed")
            self._hangup()
        finally:
            self.speaker.jobs.put(None)
            self._save_recording()
            self.call_log.close()
            self.finished.set()  # all stored: the SIP layer may now let go of the call

    def _step(self, kind: str, at: float, data) -> None:
        if kind == "hangup":
            if not self.session.done:
                self.session.handle(CallerHungUp())
            self.ending = True
            return
        if kind == "xfer":
            self._transfer_result(data)
            return
        if self.pending_end and not self.speaker.speaking:
            self._complete_end()
            return
        if kind == "frame":
            self._frame(at, data)
        elif kind == "dtmf":
            self._dtmf(data)
        elif kind == "asr":
            self._end_early()
        if self.listen and self.digits and time.monotonic() > self.digit_deadline:
            self._deliver(CallerKeyed(self.digits))
        if self.listen and not self.armed and not self.speaker.speaking:
            self.endpointer.listen()  # the no-input timer starts when the prompt has finished
            self.armed = True

    def _frame(self, at: float, frame: bytes) -> None:
        events = self.endpointer.process(frame)
        silence = self.endpointer.trailing_silence_ms
        if self.speculation and self.endpointer.in_speech and silence == 0:
            self.speculation.future.cancel()  # the caller went on: drop the early recognition if not started
            self.speculation = None
        if silence == self.services.settings.vad.speculate_ms and self._may_take_turn():
            self._speculate(at - silence / 1000)
        for event in events:
            if isinstance(event, SpeechStarted):
                if self.speaker.speaking and self.speaker.interruptible:
                    dropped = self.speaker.barge_in()
                    self.call_log.turn("event", f"barge-in ({dropped} frames dropped)", self.session.ctx.state)
            elif isinstance(event, Utterance):
                if not self._may_take_turn():
                    continue  # nobody asked, or it overlapped a prompt that must play to the end
                lag = self.endpointer.frames_seen * 0.02 - event.end_s
                self._utterance(event, at - lag, early=False)
            elif isinstance(event, VadNoInput) and self.listen is not None:
                self._deliver(NoInput())
        self._end_early()

    def _may_take_turn(self) -> bool:
        return self.listen is not None and not (self.speaker.speaking and not self.speaker.interruptible)

    def _speculate(self, speech_end: float) -> None:
        """Recognise the words so far while the caller pauses; the result stands if no speech follows."""
        audio, end_frame = self.endpointer.audio_so_far()
        future = self.services.recognizer.submit(self._asr_input(audio), hints=self.listen.hints or None,
                                                 word_timestamps=False)
        future.add_done_callback(lambda _: self.inbox.put(("asr", time.monotonic(), None)))
        self.speculation = Speculation(end_frame, speech_end, time.monotonic(), future)

    def _end_early(self) -> None:
        """End the caller's turn before the full hangover when the early transcript is already a whole answer
        here (semantic end of turn): most commands are answered ~100-200 ms sooner, a trailing-off phrase waits."""
        wait_ms = self.services.settings.vad.early_end_ms
        if not wait_ms or not self.endpointer.in_speech or self.endpointer.trailing_silence_ms < wait_ms:
            return
        text = self._early_transcript()
        if text is None or not self._may_take_turn():
            return
        spec = self.speculation
        if spec.complete is None:  # judged once per transcript, not on every frame
            spec.complete = self.session.completes_turn(text)
        if spec.complete:
            self._utterance(self.endpointer.cut(), spec.speech_end, early=True)

    def _early_transcript(self) -> str | None:
        """The speculative transcript, once ready, if the caller has said nothing since it started."""
        spec = self.speculation
        if (spec is None or not spec.future.done() or spec.future.exception() is not None
                or spec.end_frame != self.endpointer.last_voiced_frame):
            return None
        return spec.future.result().text

    @staticmethod
    def _asr_input(pcm: bytes):
        from asr.audio import ASR_RATE, pcm16_to_float, resample

        return resample(pcm16_to_float(pcm), RATE, ASR_RATE)

    def _utterance(self, utt: Utterance, speech_end: float, early: bool) -> None:
        start = time.monotonic()
        self.timing = TurnTiming(speech_end=speech_end, endpoint_ms=(start - speech_end) * 1000)
        self.timing.extra["end_of_turn"] = "early" if early else "hangover"
        spec, self.speculation = self.speculation, None
        if spec is not None and spec.end_frame == utt.end_frame and spec.future.exception() is None:
            # no speech since: the early result stands
            transcript = spec.future.result()
            self.timing.extra["asr_started_early_ms"] = round((start - spec.started) * 1000, 1)
        else:
            transcript = self.services.recognizer.transcribe(
                self._asr_input(utt.audio), hints=self.listen.hints or None, word_timestamps=False)
        self.timing.asr_ms = (time.monotonic() - start) * 1000  # what the caller waits for after the hangover
        if not transcript.text.strip():
            self.timing = None
            self._deliver(NoInput())
            return
        self._deliver(CallerSaid(transcript.text, transcript.confidence))

    def _dtmf(self, digit: str) -> None:
        if self.speaker.speaking and self.speaker.interruptible:
            self.speaker.barge_in()
        if self.listen is None:
            return
        if self.listen.expect != "digits":
            self._deliver(CallerKeyed(digit))
            return
        self.digits += digit
        enough = len(self.digits) >= (self.listen.min_digits or 1)
        self.digit_deadline = time.monotonic() + (COMPLETE_DIGIT_S if enough else INTER_DIGIT_S)
        if digit == "#" or digit in "*0" and len(self.digits) == 1 or len(self.digits) >= (self.listen.max_digits or 20):
            self._deliver(CallerKeyed(self.digits))

    def _deliver(self, event) -> None:
        self.digits = ""
        self.recorder.mute_caller = False
        self.listen, self.armed = None, False
        self.endpointer.stop_listening()
        start = time.monotonic()
        actions = self.session.handle(event)
        if self.timing:
            self.timing.dialog_ms = (time.monotonic() - start) * 1000
        self._perform(actions)

    def _perform(self, actions: list) -> None:
        timing = self.timing
        for i, action in enumerate(actions):
            if isinstance(action, Say):
                if i == 0 and timing:
                    self.out.on_first_frame(lambda t, timing=timing: self._first_frame(timing, t))
                self.speaker.say(action)
            elif isinstance(action, Listen):
                self.listen, self.armed = action, False
                self.recorder.mute_caller = action.sensitive  # PCI: no PIN in the recording
                self.endpointer = Endpointer(self.services.settings.vad.model_copy(
                    update={"no_input_s": action.timeout_s}), RATE) if action.timeout_s else self.endpointer
            elif isinstance(action, (Hangup, Transfer)):
                self.pending_end = (action,)
        self.timing = None

    def _first_frame(self, timing: TurnTiming, at: float) -> None:
        timing.first_frame = at
        timing.tts_first_ms = self.speaker.first_chunk_ms or 0.0
        latency = (at - timing.speech_end) * 1000
        detail = {"latency_ms": round(latency, 1), "endpoint_ms": round(timing.endpoint_ms, 1),
                  "asr_ms": round(timing.asr_ms, 1), "dialog_ms": round(timing.dialog_ms, 1),
                  "tts_first_chunk_ms": round(timing.tts_first_ms, 1)}
        detail.update(timing.extra)
        detail["media_ms"] = round(latency - timing.endpoint_ms - timing.asr_ms - timing.dialog_ms
                                   - timing.tts_first_ms, 1)
        self.call_log.set_latency(latency, json.dumps(detail))

    def _complete_end(self) -> None:
        (action,) = self.pending_end
        self.pending_end = None
        if isinstance(action, Hangup):
            self._hangup()
            self.ending = True
        else:
            self._transfer(action)

    def _transfer_result(self, code: int) -> None:
        if 200 <= code < 300:
            self.call_log.turn("event", f"transfer accepted ({code})", self.session.ctx.state)
            self._hangup()
            self.ending = True
            return
        self.call_log.turn("event", f"transfer refused ({code})", self.session.ctx.state)
        self._perform(self.session.transfer_failed())

    def _save_recording(self) -> None:
        try:
            self.recorder.write(self.recording_path)
            self.call_log.set_recording(str(self.recording_path))
        except Exception:  # noqa: BLE001
            log.exception("could not save the recording of call %s", self.call_log.call_id)
