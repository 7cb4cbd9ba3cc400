"""The turn-taking stage: caller audio in; `SpeechStarted`, `CallerTurn` and `Silence` out.

VAD (webrtcvad) finds speech; after `vad.speculate_ms` of silence the words so far are recognised speculatively;
if the early transcript is already a whole answer here (`judge(text).complete`, the dialog's understanding of
it, which travels on with the turn) the turn ends after
`vad.early_end_ms`, else after the full hangover. A cut at `vad.max_utterance_s` is not an end of turn: the audio
is kept and the caller's whole turn is recognised once it really ends."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from asr.vad import Endpointer, NoInput, SpeechStarted as VadSpeechStarted, Utterance

from .audio_buffers import FRAME_MS, RATE
from .frames import CallerTurn, Silence, SpeechStarted

MAX_TURN_S = 60.0   # a monologue longer than this is decided on what was said so far


@dataclass
class Speculation:
    """Recognition started during the caller's pause, before the turn is known to be over."""
    end_frame: int       # last voiced frame it covers: any later speech makes it stale
    speech_end: float    # time the caller stopped speaking
    started: float
    future: object
    understanding: object | None = None  # the dialog's reading of its transcript (judged once, when ready)


class TurnTaking:
    def __init__(self, vad, recognizer, judge: Callable[[str], object], notify: Callable[[], None],
                 clock=time.monotonic):
        if vad.frame_ms != FRAME_MS:
            raise ValueError(f"calls carry {FRAME_MS} ms frames: vad.frame_ms must be {FRAME_MS}")
        self.cfg, self.recognizer, self.judge, self.notify, self.clock = vad, recognizer, judge, notify, clock
        self.endpointer = Endpointer(vad, RATE)
        self.hints: list[str] | None = None
        self.listening = False
        self.speculation: Speculation | None = None
        self._last_judged: tuple[str, object] | None = None
        self._carry: list[Utterance] = []      # parts of a turn cut at the maximum utterance length
        self._carry_quiet = 0                  # frames of no speech since the last cut part

    # -- what the call tells it --------------------------------------------------------------------------
    def listen(self, hints: list[str] | None, no_input_s: float | None) -> None:
        """A question was asked: turns are taken from now on; the no-input timer starts with `arm`."""
        self.hints, self.listening, self._no_input_s = hints or None, True, no_input_s
        self._last_judged = None      # a reading made for the last question is not one for this one

    def arm(self) -> None:
        """The question has been heard in full: start the no-input timer."""
        self.endpointer.listen(self._no_input_s)

    def stop(self) -> None:
        """The turn was taken (or the call is on hold): no turns, no no-input until the next `listen`/`arm`."""
        self.listening = False
        self.endpointer.stop_listening()

    # -- audio in ----------------------------------------------------------------------------------------
    def feed(self, pcm: bytes, t: float, may_take_turn: bool) -> list:
        """One 20 ms frame that arrived at `t`. `may_take_turn`: a question is open and nothing that must be
        heard is playing."""
        out: list = []
        events = self.endpointer.process(pcm)
        silence = self.endpointer.trailing_silence_ms
        if self.speculation and self.endpointer.in_speech and silence == 0:
            self.speculation.future.cancel()  # the caller went on: drop the early recognition if not started
            self.speculation = None
        if silence == self.cfg.speculate_ms and may_take_turn and self.listening:
            self._speculate(t - silence / 1000)
        if self._carry and not self.endpointer.in_speech and not events:
            self._carry_quiet += 1
            if self._carry_quiet * FRAME_MS >= self.cfg.hangover_ms:  # the caller stopped right after a cut
                parts, self._carry = self._carry, []
                if may_take_turn and self.listening:
                    out.append(self._turn(parts, t - self._carry_quiet * FRAME_MS / 1000, early=False))
        for event in events:
            if isinstance(event, VadSpeechStarted):
                self._carry_quiet = 0
                out.append(SpeechStarted(t))
            elif isinstance(event, Utterance):
                if event.truncated and self._carried_s() + len(event.audio) / RATE / 2 < MAX_TURN_S:
                    self._carry.append(event)   # not an end of turn: keep listening
                    self._carry_quiet = 0
                    continue
                parts, self._carry = [*self._carry, event], []
                if not (may_take_turn and self.listening):
                    continue  # nobody asked, or it overlapped a prompt that must play to the end
                lag = self.endpointer.frames_seen * FRAME_MS / 1000 - event.end_s
                out.append(self._turn(parts, t - lag, early=False))
            elif isinstance(event, NoInput) and self.listening:
                out.append(Silence(t))
        return out + self.end_early(may_take_turn)

    def end_early(self, may_take_turn: bool) -> list:
        """End the turn before the full hangover when the early transcript is already a whole answer here:
        most commands are answered 100-200 ms sooner; a phrase that trails off waits."""
        wait_ms = self.cfg.early_end_ms
        spec = self.speculation
        if (not wait_ms or not self.endpointer.in_speech or self.endpointer.trailing_silence_ms < wait_ms
                or not (may_take_turn and self.listening) or not self._early_ready()):
            return []
        if spec.understanding is None:  # judged once per transcript, not on every frame
            spec.understanding = self._judged(self._speculative_text())
        if not spec.understanding.complete:
            return []
        parts, self._carry = [*self._carry, self.endpointer.cut()], []
        return [self._turn(parts, spec.speech_end, early=True)]

    # -- recognition -------------------------------------------------------------------------------------
    def _carried_s(self) -> float:
        return sum(len(u.audio) for u in self._carry) / RATE / 2

    def _speculate(self, speech_end: float) -> None:
        """Recognise the words so far while the caller pauses; the result stands if no speech follows."""
        audio, end_frame = self.endpointer.audio_so_far()
        audio = b"".join(u.audio for u in self._carry) + audio
        future = self.recognizer.submit_pcm16(audio, RATE, hints=self.hints, word_timestamps=False, fits=self._fits)
        future.add_done_callback(lambda _: self.notify())
        self.speculation = Speculation(end_frame, speech_end, self.clock(), future)

    def _fits(self, text: str) -> bool:
        """Whether a reading means something in the dialog's state (else the recognizer may try the hints)."""
        return bool(getattr(self._judged(text), "understood", True))

    def _judged(self, text: str):
        """The dialog's reading of `text`; the recognizer's last one is reused (it ran in the ASR pool)."""
        last = self._last_judged
        if last is None or last[0] != text:
            last = self._last_judged = (text, self.judge(text))
        return last[1]

    def _early_ready(self) -> bool:
        """The speculative transcript is in, and the caller has said nothing since it started."""
        spec = self.speculation
        return (spec is not None and spec.future.done() and not spec.future.cancelled()
                and spec.future.exception() is None and spec.end_frame == self.endpointer.last_voiced_frame)

    def _speculative_text(self) -> str:
        return self.speculation.future.result().text

    def _turn(self, parts: list[Utterance], speech_end: float, early: bool) -> CallerTurn:
        start = self.clock()
        last = parts[-1]
        timings = {"endpoint_ms": round((start - speech_end) * 1000, 1), "end_of_turn": "early" if early else "hangover"}
        spec, self.speculation = self.speculation, None
        transcript, understanding = None, None
        if spec is not None and spec.end_frame == last.end_frame and not spec.future.cancelled():
            try:
                transcript = spec.future.result()   # no speech since: the early result stands (or is near)
                understanding = spec.understanding
                timings["asr_started_early_ms"] = round((start - spec.started) * 1000, 1)
            except Exception:  # noqa: BLE001 - recognise again below
                transcript = None
        if transcript is None:
            audio = b"".join(u.audio for u in parts)
            transcript = self.recognizer.transcribe_pcm16(audio, RATE, hints=self.hints, word_timestamps=False,
                                                          fits=self._fits)
        timings["asr_ms"] = round((self.clock() - start) * 1000, 1)  # what the caller waits for after the hangover
        if len(parts) > 1:
            timings["parts"] = len(parts)
        return CallerTurn(transcript.text.strip(), transcript.confidence, speech_end, parts[0].start_s, last.end_s,
                          timings, understanding)
