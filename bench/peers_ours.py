"""Our side of bench/peers.py: the per-call stages exactly as `ivr serve` runs them (telephony/call_pipeline.py:
VAD, end of turn, speculative ASR, dialog, prompt cache and streamed TTS), fed 20 ms frames by a media clock
thread as pjsua2's would, with no SIP. `IVR_DATA_DIR` must hold a demo bank (`ivr db init --demo`)."""
from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from bench.peers_caller import Caller


def services():
    """What `ivr serve` loads once and every call shares (see ivr/cli.py cmd_serve)."""
    from asr import get_recognizer
    from config import get_settings
    from ivr.app import get_app
    from telephony.server import Services
    from tts import PromptCache, get_synthesizer, load_prompts
    from tts.prompt_cache import LINE_RATE

    settings = get_settings()
    app = get_app(settings)
    app.flow, app.nlu
    recognizer = get_recognizer()
    recognizer.transcribe(np.zeros(16000, np.float32), word_timestamps=False)
    synth = get_synthesizer()
    cache = PromptCache(settings.data_dir, synth, LINE_RATE)
    cache.warm_openings(load_prompts())
    return Services(app, settings, recognizer, synth, cache, "peers-bench")


def converse(svc, ani: str, caller: Caller, limit_s: float = 180.0) -> tuple[list[str], list[str]]:
    """One call through the stages in real time; returns what the IVR said after each caller turn, and what it
    heard in each."""
    from models import Turn
    from telephony.call_pipeline import CallPipeline

    hung_up = threading.Event()
    pipeline = CallPipeline(svc, ani, hangup=hung_up.set, transfer=lambda *_: hung_up.set(),
                            recording_dir=Path(tempfile.mkdtemp(prefix="peers-rec-")))
    call_id = pipeline.call_log.call_id
    pipeline.start()
    start = time.monotonic()
    tick = start
    while not caller.done and time.monotonic() - start < limit_s:
        tick += 0.02
        time.sleep(max(0.0, tick - time.monotonic()))
        now = time.monotonic()
        pipeline.on_caller_frame(caller.frame(now))
        out = pipeline.next_frame()
        if out:
            caller.heard(now, out)
        if hung_up.is_set() and caller.done:
            break
    pipeline.on_hangup()
    pipeline.finished.wait(30)
    with svc.app.sessions() as s:
        turns = s.query(Turn).filter(Turn.call_id == call_id).order_by(Turn.seq).all()
    said = [(getattr(t.speaker, "value", t.speaker), t.text) for t in turns]
    return replies_after_caller_turns(said), [text for speaker, text in said if speaker == "caller"]


def replies_after_caller_turns(turns: list[tuple[str, str]]) -> list[str]:
    """The IVR's words between one caller turn and the next, per caller turn."""
    out: list[str] = []
    for speaker, text in turns:
        if speaker == "caller":
            out.append("")
        elif out:
            out[-1] = f"{out[-1]} {text}".strip()
    return out
