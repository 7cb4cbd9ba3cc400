"""One call as a short chain of stages (see shared design §2b):

    media clock ─ AudioIn ─▶ turn taking ─ SpeechStarted / CallerTurn / Silence ─┐
    SIP thread ── KeyIn ───▶ key entry ── Keyed ─────────────────────────────────┼─▶ dialog session ─ actions
    speaker ◀─ Say ──────────────────────────────────────────────────────────────┘        │
       └─▶ outgoing audio ─▶ media clock          observers: recorder, latency meter, call log

Every frame from pjsua2 goes into the call's inbox and is handled on the call's own thread, in order; pjsua2
is touched only through the `hangup` / `transfer` callbacks the SIP layer gives."""
from __future__ import annotations

import logging
import queue
import re
import threading
import time
import weakref

from ivr.session import CallerHungUp, CallerKeyed, CallerSaid, Hangup, Listen, NoInput, Say, Transfer
import monitoring
from monitoring.metrics import CallTracker

from .audio_buffers import OutgoingAudio
from .frames import (AudioIn, CallerTurn, FirstAudio, HoldChanged, HungUp, KeyIn, Keyed, PromptPlayed,
                     RecognitionReady, Silence, SpeechStarted, Tick, TransferResult)
from .keys import DigitEntry, KeyEntry
from .latency import LatencyMeter
from .recorder import StreamingRecorder
from .speaker import Speaker
from .turn_taking import TurnTaking

log = logging.getLogger(__name__)
TICK_S = 0.05


class CallPipeline:
    def __init__(self, services, ani: str | None, hangup, transfer, recording_dir, clock=time.monotonic,
                 language: str | None = None):
        """`language`: the one the call was made in (the number dialled); None: the default, until the dialog
        changes it (the customer's own, or the caller's choice)."""
        self.services, self.clock = services, clock
        self.call_log, self.session = services.app.open_call(ani, "sip", clock, node=services.node, language=language)
        try:
            self._build(services, hangup, transfer, recording_dir, clock)
        except Exception:
            self.call_log.end("failed")   # stored as ended: not a call left open for ever
            self.call_log.close()
            raise
        log.info("call %s answered", self.call_log.call_id, extra={"call_id": self.call_log.call_id})

    def _build(self, services, hangup, transfer, recording_dir, clock) -> None:
        self.inbox: queue.Queue = queue.Queue()
        self.out = OutgoingAudio(on_event=self._playback_event, clock=clock)
        self.speaker = Speaker(services.synth, services.prompt_cache, self.out, clock,
                               call_id=self.call_log.call_id, voices=getattr(services, "voice_for", None))
        self.language = self.session.language.code
        self.turns = TurnTaking(services.settings.vad, self._recognizer(self.language), self.session.understand,
                                lambda: self.inbox.put(RecognitionReady(clock())), clock)
        self.keys = KeyEntry()
        self.latency = LatencyMeter(self.call_log)
        self.recorder = StreamingRecorder(recording_dir / f"call-{self.call_log.call_id}.wav")
        self.call_log.set_recording(str(self.recorder.path))   # stored now: a crash still leaves it findable
        self._hangup, self._transfer = hangup, transfer
        self.listen: Listen | None = None
        self.armed = False          # the no-input timer runs (the question has been heard)
        self.held = False
        self.pending_end = None     # Hangup or Transfer, done once the last prompt has played
        self.ending = False
        self.finished = threading.Event()   # the call has ended and everything about it is stored
        self.thread = threading.Thread(target=self._run, name=f"call-{self.call_log.call_id}", daemon=True)
        if services.node and not monitoring.node():
            monitoring.set_node(services.node)
        self.tracker = CallTracker()   # in ivr_active_calls until the call ends, or this pipeline is dropped
        weakref.finalize(self, self.tracker.end, "failed")

    # ---- called from pjsua2 threads (media clock, SIP events): queue only -------------------------------
    @property
    def started(self) -> bool:
        return self.thread.is_alive() or self.finished.is_set()

    def start(self) -> None:
        self.call_log.t0 = self.clock()   # offsets count from the first frame of the recording
        self.speaker.start()
        self.thread.start()

    def on_caller_frame(self, frame: bytes) -> None:
        self.recorder.caller(frame)
        self.inbox.put(AudioIn(frame, self.clock()))

    def next_frame(self) -> bytes | None:
        frame = self.out.pop()
        self.recorder.ivr(frame)
        return frame

    def on_dtmf(self, digit: str) -> None:
        self.inbox.put(KeyIn(digit, self.clock()))

    def on_hangup(self, reason: str | None = None) -> None:
        if not self.started:
            self._close_unstarted(reason)   # the call ended before it had audio: nothing runs to close it
            return
        self.inbox.put(HungUp(self.clock(), reason))

    def on_transfer_result(self, code: int) -> None:
        self.inbox.put(TransferResult(code, self.clock()))

    def on_caller_refer(self, target: str) -> None:
        self.call_log.event("refer_refused", self.session.ctx.state, target=target[:200])

    def on_hold(self, held: bool) -> None:
        self.inbox.put(HoldChanged(held, self.clock()))

    def release(self) -> None:
        """Forget the callbacks into the SIP layer (they reference its call object)."""
        self._hangup = self._transfer = lambda *_: None

    def _close_unstarted(self, reason: str | None = None) -> None:
        outcome = "failed" if reason == "no_media" else "caller_hangup"
        try:
            if reason:
                self.call_log.event(reason, self.session.ctx.state)
            self.call_log.end(outcome)
            self._close_recording()
            self.call_log.close()
        finally:
            self._ended(outcome)

    def _ended(self, outcome: str | None) -> None:
        """Everything about the call is stored (or failed to be): count it, forget its secrets, let it go."""
        call_id = self.call_log.call_id
        self.tracker.end(outcome)
        monitoring.forget_secrets(call_id)
        log.info("call %s ended: %s", call_id, outcome, extra={"call_id": call_id})
        self.finished.set()

    def _close_recording(self) -> None:
        """Close the recording; one that could not be written (disk full) is stored as such, the call is not."""
        self.recorder.close()
        if self.recorder.failed:
            log.error("call %s: the recording failed: %s", self.call_log.call_id, self.recorder.failed)
            self.call_log.event("recording_failed", self.session.ctx.state, reason=self.recorder.failed,
                                seconds=round(self.recorder.seconds, 1))
            if not self.recorder.frames:
                self.call_log.set_recording(None)

    def _playback_event(self, kind: str, playback, t: float) -> None:
        if kind == "first":
            self.inbox.put(FirstAudio(t))
        elif kind == "end":
            self.inbox.put(PromptPlayed(playback.text, playback.state, playback.first_t, t, playback.cut))

    # ---- the call's own thread --------------------------------------------------------------------------
    def _run(self) -> None:
        monitoring.set_call_id(self.call_log.call_id)   # every log line of this thread names the call
        outcome = None
        try:
            self._perform(self.session.start())
            while not self.ending:
                try:
                    msg = self.inbox.get(timeout=TICK_S)
                except queue.Empty:
                    msg = Tick(self.clock())
                self._handle(msg)
        except Exception:  # noqa: BLE001 - a broken call must not take the endpoint down
            log.exception("call %s failed", self.call_log.call_id)
            if not self.session.done:
                outcome = "failed"
                self.call_log.end("failed")
            self._hangup()
        finally:
            try:
                self.speaker.stop()
                self._close_recording()
                self._drain_played()
                self.call_log.close()
            finally:
                self._ended(outcome or self.session.outcome or "failed")  # the SIP layer may now let go of it

    def _handle(self, msg) -> None:
        match msg:
            case AudioIn(pcm, t):
                if not self.held:
                    for event in self.turns.feed(pcm, t, self._may_take_turn()):
                        self._turn_event(event)
            case KeyIn(digit, t):
                self._key(digit, t)
            case RecognitionReady():
                for event in self.turns.end_early(self._may_take_turn()):
                    self._turn_event(event)
            case FirstAudio(t):
                self.latency.first_audio(t, self.speaker.first_chunk_ms)
            case PromptPlayed():
                self._played(msg)
            case HoldChanged(held, t):
                self._hold(held, t)
            case TransferResult(code):
                self._transfer_result(code)
            case HungUp(_, reason):
                if reason:
                    self.call_log.event(reason, self.session.ctx.state)
                self.speaker.silence()
                if not self.session.done:
                    self.session.handle(CallerHungUp())
                self.ending = True
                return
        self._timers(self.clock())

    def _timers(self, now: float) -> None:
        if self.listen and (keyed := self.keys.poll(now)):
            self._keyed(keyed)
        if self.pending_end and not self.speaker.speaking:
            self._complete_end()
        elif self.listen and not self.armed and not self.held and not self.speaker.speaking:
            self.turns.arm()  # the no-input timer starts when the question has been heard
            self.armed = True

    def _may_take_turn(self) -> bool:
        return self.listen is not None and not (self.speaker.speaking and not self.speaker.interruptible)

    def _turn_event(self, event) -> None:
        if isinstance(event, SpeechStarted):
            if self.speaker.speaking and self.speaker.interruptible:
                self._barge_in()
        elif isinstance(event, CallerTurn):
            if self.listen is not None and self.listen.sensitive:   # a spoken PIN: never in a log line
                u = event.understanding
                self._secret(event.text, *re.findall(r"\d{3,}", event.text), getattr(u, "value", None),
                             (getattr(u, "slots", None) or {}).get("digits"))
            self.latency.turn_ended(event.speech_end, event.start_s, event.end_s, event.timings)
            said = CallerSaid(event.text, event.confidence, understanding=event.understanding)
            self._deliver(said if event.text else NoInput())
        elif isinstance(event, Silence):
            self._deliver(NoInput())

    def _key(self, digit: str, t: float) -> None:
        sensitive = bool(self.listen and self.listen.sensitive)
        entry = bool(self.listen and self.listen.expect == "digits")   # an account or card number: never stored
        masked = "[PIN]" if sensitive else "[DIGIT]" if entry else digit
        self.call_log.event("dtmf", self.session.ctx.state, key=digit if digit in "*#" else masked)
        if self.speaker.speaking:
            self._barge_in()   # drops interruptible prompts only: a legal notice plays on
        if self.listen is not None and (keyed := self.keys.press(digit, t)):
            self._keyed(keyed)

    def _keyed(self, keyed: Keyed) -> None:
        if self.listen is not None and (self.listen.sensitive or self.listen.expect == "digits"):
            self._secret(keyed.digits)   # a PIN or card digits: never in a log line
        offset = self.call_log.offset_ms(keyed.t) / 1000
        self.latency.turn_ended(keyed.t, offset, offset, {"end_of_turn": "keys"})
        self._deliver(CallerKeyed(keyed.digits))

    def _secret(self, *values) -> None:
        for value in values:
            if isinstance(value, str):
                monitoring.keep_secret(self.call_log.call_id, value)

    def _barge_in(self) -> None:
        dropped = self.speaker.barge_in()
        if dropped:
            self.call_log.event("barge_in", self.session.ctx.state, dropped_frames=dropped)

    def _deliver(self, event) -> None:
        self.keys.clear()
        self.recorder.mute_caller = False
        self.listen, self.armed = None, False
        self.turns.stop()
        start = self.clock()
        actions = self.session.handle(event)
        self._perform(actions, dialog_ms=(self.clock() - start) * 1000)

    def _recognizer(self, language: str):
        pick = getattr(self.services, "recognizer_for", None)
        return pick(language) if pick else self.services.recognizer

    def _perform(self, actions: list, dialog_ms: float | None = None) -> None:
        if self.session.language.code != self.language:   # the dialog switched: hear the caller in that language
            self.language = self.session.language.code
            self.turns.recognizer = self._recognizer(self.language)
        says = [a for a in actions if isinstance(a, Say)]
        if dialog_ms is not None:
            self.latency.replied(dialog_ms, speaks=bool(says))
        for i, action in enumerate(actions):
            if isinstance(action, Say):
                playback = self.speaker.say(action)
                if action is says[0]:
                    self.out.watch_first_frame(playback)
            elif isinstance(action, Listen):
                self._listen(action)
            elif isinstance(action, (Hangup, Transfer)):
                self.pending_end = action

    def _listen(self, listen: Listen) -> None:
        self.listen, self.armed = listen, False
        self.recorder.mute_caller = listen.sensitive   # PCI: no PIN in the recording
        useful = self.turns.recognizer.uses_hints(listen.expect)
        self.turns.listen(listen.hints if useful else None, listen.timeout_s)
        if listen.expect == "digits":
            self.keys.expect(DigitEntry(listen.min_digits or 1, listen.max_digits or 20,
                                        getattr(listen, "inter_digit_s", None) or 3.0,
                                        getattr(listen, "complete_digit_s", None) or 1.5))
        else:
            self.keys.expect(None)

    def _played(self, msg: PromptPlayed) -> None:
        self.call_log.turn("ivr", msg.text, msg.state, start_ms=self.call_log.offset_ms(msg.start_t),
                           end_ms=self.call_log.offset_ms(msg.end_t), interrupted=msg.interrupted)

    def _drain_played(self) -> None:
        """Store the prompts whose end was reported after the loop stopped."""
        while True:
            try:
                msg = self.inbox.get_nowait()
            except queue.Empty:
                return
            if isinstance(msg, PromptPlayed):
                self._played(msg)

    def _hold(self, held: bool, t: float) -> None:
        if held == self.held:
            return
        self.held = self.out.paused = held
        if not held:
            self.recorder.pad_to(self.call_log.offset_ms(t) / 1000)   # the hold's silence, on the call's clock
        self.call_log.event("hold" if held else "resume", self.session.ctx.state)
        if held:
            self.turns.endpointer.stop_listening()   # no-input timers pause while on hold
        self.armed = False                           # re-armed (after the prompt) once off hold

    def _complete_end(self) -> None:
        action, self.pending_end = self.pending_end, None
        if isinstance(action, Hangup):
            self._hangup()
            self.ending = True
        else:
            self._transfer(action)

    def _transfer_result(self, code: int) -> None:
        state = self.session.ctx.state
        if 200 <= code < 300:
            self.call_log.event("transfer_accepted", state, code=code)
            self._hangup()
            self.ending = True
            return
        self.call_log.event("transfer_refused", state, code=code)
        self._perform(self.session.transfer_failed())
