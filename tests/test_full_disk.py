"""A full disk for recordings: the call goes on, and the stored call says the recording failed and why."""
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from models import CallEvent
from telephony.audio_buffers import FRAME_BYTES
from telephony.recorder import StreamingRecorder

from . import speech_pcap
from .figures import report
from .sip_peers import Server

FRAME = b"\x01\x00" * (FRAME_BYTES // 2)


def test_a_recorder_on_a_full_device_fails_quietly():
    rec = StreamingRecorder(Path("/dev/full"))          # every write: ENOSPC, from the kernel
    for _ in range(100):
        rec.caller(FRAME)
        rec.ivr(FRAME)
    rec.close()
    assert rec.failed and "No space left on device" in rec.failed


def _namespaces_work() -> bool:
    r = subprocess.run(["unshare", "-Urm", "true"], capture_output=True)
    return r.returncode == 0


@pytest.mark.skipif(not _namespaces_work(), reason="user and mount namespaces (unshare -Urm) are not allowed here")
def test_a_call_goes_on_when_the_recordings_disk_is_full(tmp_path):
    """`ivr serve` in its own mount namespace, its recordings directory a 64 KB tmpfs: full after ~2 s of a call."""
    data = tmp_path / "data"
    (data / "recordings").mkdir(parents=True)
    mount = ["unshare", "-Urm", "sh", "-c", 'mount -t tmpfs -o size=64k tmpfs "$0" && exec "$@"',
             str(data / "recordings")]
    server = Server(data, prefix=tuple(mount))
    try:
        run = speech_pcap.run_speech_calls(f"127.0.0.1:{server.port}", tmp_path / "sipp", calls=1)
        assert (run.successful, run.failed) == (1, 0), run.output
    finally:
        server.stop()
    assert server.proc.returncode == 0
    call = server.calls()[-1]
    with server.sessions() as s:
        failed = s.scalars(select(CallEvent).where(CallEvent.call_id == call.id,
                                                   CallEvent.kind == "recording_failed")).all()
    turns = server.turns(call.id)
    report(f"full-disk: recordings on a 64 KB filesystem; call {call.outcome}, {len(turns)} turns stored, "
           f"recording_failed events {len(failed)} ({failed[0].detail['reason'] if failed else '-'})")
    assert call.outcome == "completed" and any("Goodbye" in t.text for t in turns)
    assert len(failed) == 1 and "No space left on device" in failed[0].detail["reason"]
    assert failed[0].detail["seconds"] < 10                 # cut early: the rest of the call went unrecorded
