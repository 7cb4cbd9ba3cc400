"""A Python pjsua2 media port per call: caller frames in, IVR frames out, on the media clock thread.
It only touches thread-safe queues; everything else happens on the call's own threads."""
from __future__ import annotations

import pjsua2 as pj

from .audio_buffers import FRAME_BYTES, FRAME_MS, RATE, SILENCE


def audio_format() -> pj.MediaFormatAudio:
    fmt = pj.MediaFormatAudio()
    fmt.type, fmt.clockRate, fmt.channelCount = pj.PJMEDIA_TYPE_AUDIO, RATE, 1
    fmt.bitsPerSample, fmt.frameTimeUsec = 16, FRAME_MS * 1000
    return fmt


class CallMediaPort(pj.AudioMediaPort):
    """`on_frame(bytes)` gets each 20 ms caller frame; `next_frame() -> bytes | None` supplies ours."""

    def __init__(self, on_frame, next_frame):
        super().__init__()
        self._on_frame, self._next_frame = on_frame, next_frame

    def detach(self) -> None:
        """Drop the callbacks (and the references they hold) once the call is over."""
        self._on_frame, self._next_frame = (lambda _frame: None), (lambda: None)

    def onFrameReceived(self, frame):
        if frame.size == FRAME_BYTES:
            self._on_frame(bytes(frame.buf))

    def onFrameRequested(self, frame):
        data = self._next_frame() or SILENCE
        frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
        frame.buf = pj.ByteVector(data)
        frame.size = len(data)


def connect_port(call: pj.Call, port: CallMediaPort, name: str) -> bool:
    """Wire the port both ways to the call's active audio stream; False if there is none."""
    info = call.getInfo()  # keep CallInfo alive while iterating its media (SWIG lifetime)
    for i, media in enumerate(info.media):
        if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
            stream = call.getAudioMedia(i)
            port.createPort(name, audio_format())
            stream.startTransmit(port)
            port.startTransmit(stream)
            return True
    return False
