"""PCAPs of a caller's side of a call, for SIPp's `<exec play_pcap_audio="..."/>`.

A timeline of segments (silence, speech, DTMF keys) becomes one RTP stream: libpcap file, Ethernet/IPv4/UDP,
G.711 mu-law (payload type 0) in 160-byte packets every 20 ms, and RFC 4733 (2833) telephone-events (payload
type 101) for keys: one timestamp per event, the duration growing by 160 every packet, the marker on the first
packet, the end packet sent three times. One SSRC, sequence numbers and timestamps continuous over the call.

`alex_balance_call()` is the demo caller of the scale-out tests and of bench/load.py: Alex (+15550100) keys his
PIN during the welcome notice (type-ahead), asks for his balance once the menu has been read, then says goodbye
once the balance has been read; the IVR hangs up. The words are real recorded speech where this machine has a
recording: "goodbye" is Asterisk's professional IVR voice (asterisk-core-sounds-en-wav, goodbye.wav: "Goodbye!").
There is no recording of "what is my balance" here, so that one is synthesized offline with the project's Piper
voice (en_US-joe-medium, the only Piper voice shipped offline, so the same voice as the IVR's prompts).

    python -m tests.speech_pcap [-o OUT.pcap]     # build (or reuse) Alex's PCAP; print its path and timeline
"""
from __future__ import annotations

import argparse
import hashlib
import csv
import math
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 8000
FRAME = 160                      # samples (= bytes of mu-law) per 20 ms packet
PT_PCMU, PT_EVENT = 0, 101
SSRC = 0x5EC0DE01
PORT = 40000                     # the UDP ports in the file; SIPp rewrites them to the call's media ports
DTMF_EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11, **{c: 12 + i for i, c in enumerate("ABCD")}}
FORMAT_VERSION = 1               # bump when the bytes written change, so cached files are rebuilt

ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds/en")
CACHE = Path(os.environ.get("IVR_SPEECH_PCAP_CACHE", Path(tempfile.gettempdir()) / "ivr-speech-pcap"))


@dataclass(frozen=True)
class Silence:
    seconds: float


@dataclass(frozen=True)
class Until:
    """Silence until `seconds` after the start of the stream (an absolute cue, so that speech waits for a prompt)."""
    seconds: float


@dataclass(frozen=True)
class Keys:
    digits: str
    tone_ms: int = 160
    gap_ms: int = 120


@dataclass(frozen=True)
class Recorded:
    """A recording (any format asr.audio reads), resampled to 8 kHz."""
    path: str


@dataclass(frozen=True)
class Synthesized:
    """Text spoken by the project's TTS (Piper by default)."""
    text: str
    engine: str = "piper"


Segment = Silence | Until | Keys | Recorded | Synthesized


# --- G.711 mu-law ---------------------------------------------------------------------------------------------
def ulaw_encode(pcm: np.ndarray) -> bytes:
    """int16 samples -> G.711 mu-law bytes (the ITU-T segment encoder, vectorised)."""
    x = pcm.astype(np.int32)
    sign = np.where(x < 0, 0x80, 0)
    mag = np.minimum(np.abs(x), 32635) + 0x84
    exponent = np.floor(np.log2(mag)).astype(np.int32) - 7          # mag >= 0x84 -> exponent 0..7
    mantissa = (mag >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def ulaw_decode(data: bytes) -> np.ndarray:
    u = ~np.frombuffer(data, np.uint8).astype(np.int32) & 0xFF
    exponent, mantissa = (u >> 4) & 0x07, u & 0x0F
    mag = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(u & 0x80, -mag, mag).astype(np.int16)


SILENCE_BYTE = ulaw_encode(np.zeros(1, np.int16))                  # 0xFF


# --- the segments as audio --------------------------------------------------------------------------------------
def _load_speech(seg: Recorded | Synthesized) -> np.ndarray:
    if isinstance(seg, Recorded):
        from asr.audio import load_audio

        audio = load_audio(seg.path, RATE)
        return (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)
    # `ivr say` in its own process: Piper draws its noise from onnxruntime's generator, so synthesizing here would
    # change every later Piper voice this test process makes (other tests' audio depends on that sequence)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "say.wav"
        subprocess.run([str(Path(sys.executable).with_name("ivr")), "say", seg.text, "-o", str(out), "--engine",
                        seg.engine, "--rate", str(RATE)], check=True, capture_output=True, timeout=120)
        from asr.audio import load_audio

        return (np.clip(load_audio(str(out), RATE), -1.0, 1.0) * 32767).astype(np.int16)


# --- RTP and PCAP -----------------------------------------------------------------------------------------------
@dataclass
class Packet:
    t: float            # seconds from the first packet
    pt: int
    seq: int
    ts: int
    marker: bool
    payload: bytes


class _Stream:
    """Packets every 20 ms; `ts` is the sample clock of the packet's slot."""

    def __init__(self):
        self.packets: list[Packet] = []
        self.slot = 0

    def audio(self, frame: bytes):
        self._add(PT_PCMU, self.slot * FRAME, not self.packets, frame)

    def _add(self, pt, ts, marker, payload):
        self.packets.append(Packet(self.slot * 0.02, pt, len(self.packets) & 0xFFFF, ts & 0xFFFFFFFF, marker, payload))
        self.slot += 1

    def silence(self, seconds: float):
        for _ in range(int(round(seconds * 50))):
            self.audio(SILENCE_BYTE * FRAME)

    def speech(self, pcm: np.ndarray):
        pcm = np.concatenate([pcm, np.zeros(-len(pcm) % FRAME, np.int16)])
        data = ulaw_encode(pcm)
        for i in range(0, len(data), FRAME):
            self.audio(data[i:i + FRAME])

    def key(self, digit: str, tone_ms: int):
        event, start, n = DTMF_EVENTS[digit], self.slot * FRAME, max(1, tone_ms // 20)
        for i in range(n):
            self._add(PT_EVENT, start, i == 0, struct.pack("!BBH", event, 10, (i + 1) * FRAME))
        for _ in range(3):                                          # end: E bit, final duration, three times
            self._add(PT_EVENT, start, False, struct.pack("!BBH", event, 0x80 | 10, n * FRAME))


def rtp_packets(timeline: list[Segment]) -> list[Packet]:
    stream = _Stream()
    for seg in timeline:
        if isinstance(seg, Silence):
            stream.silence(seg.seconds)
        elif isinstance(seg, Until):
            stream.silence(max(0.0, seg.seconds - stream.slot * 0.02))
        elif isinstance(seg, Keys):
            for digit in seg.digits:
                stream.key(digit, seg.tone_ms)
                stream.silence(seg.gap_ms / 1000)
        else:
            stream.speech(_load_speech(seg))
    return stream.packets


def _ipv4_checksum(header: bytes) -> int:
    s = sum(struct.unpack(f"!{len(header) // 2}H", header))
    s = (s >> 16) + (s & 0xFFFF)
    return ~(s + (s >> 16)) & 0xFFFF


def write_pcap(packets: list[Packet], path: Path, src="10.0.0.1", dst="10.0.0.2") -> None:
    saddr, daddr = bytes(map(int, src.split("."))), bytes(map(int, dst.split(".")))
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]          # libpcap, Ethernet
    for p in packets:
        rtp = struct.pack("!BBHII", 0x80, (0x80 if p.marker else 0) | p.pt, p.seq, p.ts, SSRC) + p.payload
        udp = struct.pack("!HHHH", PORT, PORT, 8 + len(rtp), 0) + rtp                # checksum: SIPp computes it
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), p.seq, 0x4000, 64, 17, 0, saddr, daddr)
        ip = ip[:10] + struct.pack("!H", _ipv4_checksum(ip)) + ip[12:]
        frame = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + ip + udp
        usec = int(round(p.t * 1e6))
        out.append(struct.pack("<IIII", 1_700_000_000 + usec // 1_000_000, usec % 1_000_000, len(frame), len(frame)))
        out.append(frame)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(b"".join(out))
    tmp.replace(path)


def read_pcap(path: Path) -> list[Packet]:
    """The RTP packets of a libpcap file of Ethernet/IPv4/UDP/RTP (what `write_pcap` writes, or a capture)."""
    data = Path(path).read_bytes()
    magic, _, _, _, _, _, linktype = struct.unpack("<IHHiIII", data[:24])
    assert magic == 0xA1B2C3D4 and linktype == 1, "not a microsecond libpcap file of Ethernet frames"
    packets, off, t0 = [], 24, None
    while off < len(data):
        sec, usec, incl, orig = struct.unpack("<IIII", data[off:off + 16])
        frame, off = data[off + 16:off + 16 + incl], off + 16 + incl
        assert incl == orig and struct.unpack("!H", frame[12:14])[0] == 0x0800 and frame[23] == 17
        ihl = (frame[14] & 0x0F) * 4
        rtp = frame[14 + ihl + 8:]
        b1, seq, ts = rtp[1], *struct.unpack("!HI", rtp[2:8])
        t = sec + usec / 1e6
        t0 = t if t0 is None else t0
        packets.append(Packet(round(t - t0, 6), b1 & 0x7F, seq, ts, bool(b1 & 0x80), rtp[12:]))
    return packets


# --- building with a cache ----------------------------------------------------------------------------------------
def _key(timeline: list[Segment]) -> str:
    parts = [f"v{FORMAT_VERSION}"]
    for seg in timeline:
        parts.append(repr(seg))
        if isinstance(seg, Recorded):
            st = Path(seg.path).stat()
            parts.append(f"{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def build(timeline: list[Segment], cache: Path = CACHE) -> Path:
    """The PCAP of `timeline`, built once per content into `cache` (named by a hash of the timeline)."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"speech-{_key(timeline)}.pcap"
    if not path.is_file():
        write_pcap(rtp_packets(timeline), path)
    return path


# --- the demo caller ----------------------------------------------------------------------------------------------
def goodbye_recording() -> str:
    return str(ASTERISK_SOUNDS / "goodbye.wav")


# Cues measured against `ivr serve` (demo settings, one call, 2 cores), in seconds from the answer: welcome notice
# 0.0-4.7 (not interruptible; the PIN keyed during it skips "please key in your PIN"), main menu 4.7-12.7,
# balance (two accounts, then "anything else?") from 0.2 s after the request for 15.4 s, goodbye prompt 2.7 s,
# then the IVR hangs up. The request starts ~3 s after the menu ends and "goodbye" ~2.5 s after the balance,
# room for slower turns under load; the whole call takes ~40 s (the balance reply alone is 15 s).
ALEX_TIMELINE: list[Segment] = [
    Silence(1.0),
    Keys("2468#"),
    Until(16.0),
    Synthesized("what is my balance"),
    Until(35.5),
    Recorded(goodbye_recording()),
    Silence(3.0),
]


def alex_balance_call(cache: Path = CACHE) -> Path:
    return build(ALEX_TIMELINE, cache)


# --- running SIPp -------------------------------------------------------------------------------------------------
SCENARIO = Path(__file__).resolve().parent / "sipp" / "speech_call.xml"


@dataclass
class SippRun:
    returncode: int
    successful: int
    failed: int
    command: list[str]
    output: str
    work: Path


def free_port(even: bool = False, tcp: bool = False) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return port // 2 * 2 if even else port


def prepare_sipp_dir(work: Path, pcap: Path | None = None, scenario: Path = SCENARIO) -> Path:
    """`work` with the scenario and speech_call.pcap side by side (SIPp 3.6 looks beside the scenario, then in
    its working directory); returns the scenario's path there."""
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(pcap or alex_balance_call(), work / "speech_call.pcap")
    return Path(shutil.copy(scenario, work / scenario.name))


def sipp_command(target: str, scenario: Path, calls: int, concurrent: int, rate: float, timeout_s: int,
                 local_ip: str = "127.0.0.1") -> list[str]:
    return ["sipp", target, "-sf", str(scenario), "-s", "bank", "-i", local_ip, "-p", str(free_port()),
            "-mp", str(free_port(even=True)), "-m", str(calls), "-l", str(concurrent), "-r", f"{rate:g}",
            "-nostdin", "-timeout", str(timeout_s), "-timeout_error", "-trace_stat", "-stf", "stats.csv",
            "-fd", "1", "-trace_err", "-error_file", "errors.log"]


def run_speech_calls(target: str, work: Path, calls: int = 1, concurrent: int = 1, rate: float | None = None,
                     pcap: Path | None = None, scenario: Path = SCENARIO) -> SippRun:
    """`calls` speech calls from SIPp to `target` (host:port of an endpoint or of Kamailio), at most `concurrent`
    at once, started at `rate` calls/s (default: all of a wave within a second). Counts from SIPp's statistics."""
    scenario = prepare_sipp_dir(work, pcap, scenario)
    call_s = 30 + 90 + 10               # answer, the wait for the IVR's BYE, the caller's own BYE (the scenario)
    timeout_s = int(math.ceil(calls / concurrent) * call_s + 60)
    cmd = sipp_command(target, scenario, calls, concurrent, rate or concurrent, timeout_s)
    done = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=timeout_s + 30)
    stats = work / "stats.csv"
    rows = list(csv.DictReader(stats.open(), delimiter=";")) if stats.is_file() else []
    last = rows[-1] if rows else {}
    return SippRun(done.returncode, int(last.get("SuccessfulCall(C)") or 0), int(last.get("FailedCall(C)") or 0),
                   cmd, done.stdout[-4000:] + done.stderr[-2000:], work)


def describe(packets: list[Packet]) -> list[str]:
    """One line per run of packets of one kind: audio (speech or silence), or a key."""
    lines, start, kind = [], 0, None

    def kind_of(p: Packet) -> str:
        if p.pt == PT_EVENT:
            return f"key {next(k for k, v in DTMF_EVENTS.items() if v == p.payload[0])}"
        return "silence" if p.payload == SILENCE_BYTE * FRAME else "speech"

    for i, p in enumerate(packets + [None]):
        k = kind_of(p) if p else None
        if k != kind:
            if kind is not None:
                lines.append(f"{packets[start].t:6.2f}-{packets[i - 1].t + 0.02:6.2f} s  {kind}")
            start, kind = i, k
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description="build Alex's speech PCAP for SIPp")
    ap.add_argument("-o", "--output", help="copy the PCAP here too")
    args = ap.parse_args()
    path = alex_balance_call()
    if args.output:
        Path(args.output).write_bytes(path.read_bytes())
    packets = read_pcap(path)
    print(path)
    print(f"{len(packets)} packets, {packets[-1].t + 0.02:.2f} s")
    print("\n".join(line for line in describe(packets) if "silence" not in line))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
