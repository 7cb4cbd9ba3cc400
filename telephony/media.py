"""Python pjsua2 media ports: caller frames in, IVR frames out, on the media clock thread. A port only touches
thread-safe queues; everything else happens on the call's own threads.

Ports are created once and reused, never freed while the endpoint runs: since pjproject 2.15.1 the conference
bridge removes ports asynchronously on its clock thread, and deleting an AudioMediaPort there is a
use-after-free (pjproject pull 4200, not in the wheel) that crashed the server about once in 40 calls.
"""
from __future__ import annotations

import pjsua2 as pj

from .audio_buffers import FRAME_BYTES, FRAME_MS, RATE, SILENCE


def audio_format() -> pj.MediaFormatAudio:
    fmt = pj.MediaFormatAudio()
    fmt.type, fmt.clockRate, fmt.channelCount = pj.PJMEDIA_TYPE_AUDIO, RATE, 1
    fmt.bitsPerSample, fmt.frameTimeUsec = 16, FRAME_MS * 1000
    return fmt


def _ignore_frame(_frame: bytes) -> None:
    return None


def _no_frame() -> None:
    return None


class CallMediaPort(pj.AudioMediaPort):
    """`on_frame(bytes)` gets each 20 ms caller frame; `next_frame() -> bytes | None` supplies ours."""

    def __init__(self, name: str):
        super().__init__()
        self._on_frame, self._next_frame = _ignore_frame, _no_frame
        self.createPort(name, audio_format())

    def attach(self, on_frame, next_frame) -> None:
        self._on_frame, self._next_frame = on_frame, next_frame

    def detach(self) -> None:
        """Drop the callbacks (and the references they hold) once the call is over."""
        self._on_frame, self._next_frame = _ignore_frame, _no_frame

    def onFrameReceived(self, frame):
        if frame.size == FRAME_BYTES:
            self._on_frame(bytes(frame.buf))

    def onFrameRequested(self, frame):
        data = self._next_frame() or SILENCE
        frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
        frame.buf = pj.ByteVector(data)
        frame.size = len(data)


class PortPool:
    """Media ports for calls, reused from call to call; used on the pjsua2 thread only."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self._idle: list[CallMediaPort] = []
        self._created = 0

    def acquire(self, on_frame, next_frame) -> CallMediaPort:
        port = self._idle.pop() if self._idle else self._new_port()
        port.attach(on_frame, next_frame)
        return port

    @staticmethod
    def wire(call: pj.Call, port: CallMediaPort) -> str | None:
        """Connect the port both ways to the call's audio stream, whatever re-INVITEs changed (a new stream, a new
        RTP address). Returns the audio status: 'active', 'hold' (either side), or None when there is no audio."""
        info = call.getInfo()  # keep CallInfo alive while iterating its media (SWIG lifetime)
        for i, media in enumerate(info.media):
            if media.type != pj.PJMEDIA_TYPE_AUDIO:
                continue
            if media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                stream = call.getAudioMedia(i)
                stream.startTransmit(port)
                port.startTransmit(stream)
                return "active"
            if media.status in (pj.PJSUA_CALL_MEDIA_LOCAL_HOLD, pj.PJSUA_CALL_MEDIA_REMOTE_HOLD):
                return "hold"
        return None

    def connect(self, call: pj.Call, on_frame, next_frame) -> CallMediaPort | None:
        """A port for a call that has active audio, wired both ways; None if the call has none yet."""
        port = self.acquire(on_frame, next_frame)
        if self.wire(call, port) == "active":
            return port
        self.release(port)
        return None

    def release(self, port: CallMediaPort) -> None:
        """The call is over (its stream has left the bridge): the port waits for the next call."""
        port.detach()
        self._idle.append(port)

    def _new_port(self) -> CallMediaPort:
        self._created += 1
        port = CallMediaPort(f"{self.prefix}{self._created}")
        port.__disown__()  # the C++ side keeps it (and its Python half) alive: never freed by Python
        return port
