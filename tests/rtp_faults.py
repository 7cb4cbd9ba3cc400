"""Hostile RTP for the fault tests (tests/test_hostile_rtp.py), all seeded so that a run can be repeated.

- `impair(packets, loss, jitter_ms, reorder, seed)`: a caller's RTP (tests/speech_pcap.py) as a bad network
  delivers it: packets dropped, each one delayed at random, some neighbours swapped. Only the arrival times and
  order change (SIPp's `play_pcap_audio` sends each packet at its time in the PCAP); sequence numbers and RTP
  timestamps stay as sent. A DTMF key keeps at least one of its three end packets, as a phone's redundancy does.
- `send_garbage(host, port, n)`: datagrams that are not RTP or are broken RTP/RTCP, to a call's RTP and RTCP
  ports, from a socket of our own or, with `source=(ip, port)`, spoofed as the caller (raw socket, root).
- `send_rtp_from_wrong_source(host, port, seconds)`: an attacker's RTP stream (another socket, another SSRC,
  PCMU and RFC 4733 keys) that opens with bursts big enough to pass pjmedia's NAT "probation" (the remote RTP
  address switches after PJMEDIA_RTP_NAT_PROBATION_CNT = 10 packets in a row from a new source), then plays in
  real time; it counts the packets the IVR sends back to it (a hijacked call sends it the IVR's audio).
- `SippCall`: one SIPp call (tests/sipp/rtp_call.xml or rtp_stops.xml) run in the background, which reports the
  IVR's RTP port for the call, the caller's media port, and when the call was answered and the IVR hung up.
"""
from __future__ import annotations

import random
import socket
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import speech_pcap as sp

RTCP_SR, RTCP_RR, RTCP_SDES, RTCP_BYE, RTCP_APP, RTCP_XR = 200, 201, 202, 203, 204, 207


# --- a bad network, as a rewritten PCAP ----------------------------------------------------------------------------
def impair(packets: list[sp.Packet], loss: float = 0.10, jitter_ms: float = 30, reorder: float = 0.05,
           seed: int = 1) -> list[sp.Packet]:
    """`packets` with `loss` of them dropped, each delayed by 0..`jitter_ms`, and a `reorder` share of them held
    back until just after the next one; sorted by their new arrival time."""
    rng = random.Random(seed)
    kept = [p for p in packets if rng.random() >= loss]
    kept += _key_ends_lost(packets, kept)
    kept.sort(key=lambda p: p.seq)
    arrival = [p.t + rng.uniform(0, jitter_ms / 1000) for p in kept]
    i = 0
    while i < len(kept) - 1:
        if rng.random() < reorder:                      # held back behind the next one (not again after that)
            arrival[i] = max(arrival[i], arrival[i + 1] + 0.001)
            i += 1
        i += 1
    order = sorted(range(len(kept)), key=lambda i: arrival[i])
    return [replace(kept[i], t=round(arrival[i], 6)) for i in order]


def _key_ends_lost(packets: list[sp.Packet], kept: list[sp.Packet]) -> list[sp.Packet]:
    """The last end packet of each key whose end packets were all dropped."""
    kept_seqs = {p.seq for p in kept}
    ends: dict[int, list[sp.Packet]] = {}
    for p in packets:
        if p.pt == sp.PT_EVENT and p.payload[1] & 0x80:
            ends.setdefault(p.ts, []).append(p)
    return [group[-1] for group in ends.values() if not any(p.seq in kept_seqs for p in group)]


def with_silence(packets: list[sp.Packet], seconds: float) -> list[sp.Packet]:
    """`packets` followed by `seconds` of silence (a caller who stays on the line until the IVR hangs up)."""
    last = packets[-1]
    more = [sp.Packet(round(last.t + 0.02 * i, 6), sp.PT_PCMU, (last.seq + i) & 0xFFFF, last.ts + sp.FRAME * i,
                      False, sp.SILENCE_BYTE * sp.FRAME) for i in range(1, int(seconds * 50) + 1)]
    return packets + more


def reordered(packets: list[sp.Packet]) -> int:
    """Packets that arrive after one sent later than them (the sequence numbers of one call do not wrap here)."""
    count, highest = 0, -1
    for p in packets:
        if p.seq < highest:
            count += 1
        highest = max(highest, p.seq)
    return count


# --- garbage ----------------------------------------------------------------------------------------------------------
def _rtp_header(rng: random.Random, version: int = 2, pad: bool = False, ext: bool = False, cc: int = 0,
                marker: bool = False, pt: int = 0) -> bytes:
    b0 = version << 6 | pad << 5 | ext << 4 | cc
    return struct.pack("!BBHII", b0, marker << 7 | pt, rng.getrandbits(16), rng.getrandbits(32), rng.getrandbits(32))


def garbage_datagrams(n: int, seed: int = 1) -> list[tuple[int, bytes]]:
    """`n` (port offset, payload) pairs: offset 0 is the RTP port, 1 the RTCP port. Random bytes of any length,
    RTP headers with a wrong version, 15 CSRCs in a short packet, a huge extension, padding longer than the packet,
    odd or RTCP-range payload types, truncated or impossible telephone-events, and RTCP with lying lengths and
    report counts."""
    rng = random.Random(seed)
    noise = lambda k: rng.randbytes(k)  # noqa: E731

    def make(kind: int) -> tuple[int, bytes]:
        match kind:
            case 0:
                return 0, noise(rng.randint(1, 1400))
            case 1:
                return 0, noise(rng.randint(1, 11))                                       # shorter than a header
            case 2:
                return 0, _rtp_header(rng, version=rng.choice((0, 1, 3))) + noise(160)
            case 3:
                return 0, _rtp_header(rng, cc=15) + noise(rng.randint(0, 40))           # CSRC list runs off the end
            case 4:
                return 0, _rtp_header(rng, ext=True) + struct.pack("!HH", 0xBEDE, 0xFFFF) + noise(8)
            case 5:
                return 0, _rtp_header(rng, pad=True) + noise(rng.randint(0, 20)) + b"\xff"  # padding > packet
            case 6:
                return 0, _rtp_header(rng, pt=rng.choice((72, 73, 76, 13, 18, 96, 127, rng.randint(1, 127)))) + noise(160)
            case 7:
                return 0, _rtp_header(rng, pt=sp.PT_EVENT) + noise(rng.randint(0, 3))    # truncated event
            case 8:
                event = struct.pack("!BBH", rng.randint(17, 255), 0x80, 0xFFFF)             # no such key
                return 0, _rtp_header(rng, pt=sp.PT_EVENT, marker=True) + event
            case 9:
                return 0, _rtp_header(rng, pt=sp.PT_PCMU) + noise(rng.choice((0, 1, 159, 161, 1388)))
            case 10:
                rc, pt = rng.randint(0, 31), rng.choice((RTCP_SR, RTCP_RR))
                return 1, struct.pack("!BBH", 0x80 | rc, pt, rng.getrandbits(16)) + noise(rng.randint(0, 60))
            case 11:
                sdes = struct.pack("!BBHI", 0x81, RTCP_SDES, 0xFFFF, rng.getrandbits(32)) + bytes([1, 255]) + noise(5)
                return 1, sdes
            case 12:
                bye = struct.pack("!BBHI", 0x81, RTCP_BYE, 2, rng.getrandbits(32)) + bytes([255]) + noise(3)
                return 1, bye
            case 13:
                xr = struct.pack("!BBHI", 0x80, RTCP_XR, 0x00FF, rng.getrandbits(32)) + struct.pack("!BBH", 7, 0, 0xFFFF)
                return 1, xr + noise(rng.randint(0, 24))
            case 14:
                app = struct.pack("!BBHI", 0x80 | 31, RTCP_APP, rng.getrandbits(16), rng.getrandbits(32)) + b"ABCD"
                return 1, app + noise(rng.randint(0, 9))
            case _:
                return rng.randint(0, 1), noise(rng.randint(1, 1400))

    return [make(i % 16) for i in range(n)]


def send_garbage(host: str, port: int, n: int, seed: int = 1, source: tuple[str, int] | None = None,
                 pace_s: float = 0.0005) -> int:
    """Send `n` garbage datagrams (see `garbage_datagrams`) to the RTP port `port` and its RTCP port `port + 1`,
    from a fresh socket, or with `source=(ip, port)` spoofed as that address. Returns the number sent."""
    sent = 0
    sock = _raw_socket() if source else socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with sock:
        for offset, payload in garbage_datagrams(n, seed):
            if source:
                sock.sendto(_ipv4_udp(source, (host, port + offset), payload), (host, 0))
            else:
                sock.sendto(payload, (host, port + offset))
            sent += 1
            time.sleep(pace_s)
    return sent


def _raw_socket() -> socket.socket:
    return socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)


def _ipv4_udp(src: tuple[str, int], dst: tuple[str, int], payload: bytes) -> bytes:
    """An IPv4/UDP datagram (UDP checksum 0: none; the kernel fills the IP checksum and id)."""
    udp = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, socket.IPPROTO_UDP, 0,
                     socket.inet_aton(src[0]), socket.inet_aton(dst[0]))
    return ip + udp


# --- RTP from a wrong source ---------------------------------------------------------------------------------------
ATTACKER_SSRC = 0xBADC0DE5


@dataclass
class WrongSource:
    sent: int = 0
    received: int = 0              # RTP packets the IVR sent to the attacker's socket
    sources: set = field(default_factory=set)


def attacker_packets(digits: str = "1111#", speech: str | None = None) -> list[sp.Packet]:
    """The attacker's stream: keys (a wrong PIN by default), then loud speech (a recording) if given."""
    timeline: list[sp.Segment] = [sp.Silence(0.2), sp.Keys(digits)]
    if speech:
        timeline.append(sp.Recorded(speech))
    return sp.rtp_packets(timeline + [sp.Silence(0.2)])


def _rtp_bytes(p: sp.Packet, seq: int, ts_offset: int) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if p.marker else 0) | p.pt, seq & 0xFFFF, (p.ts + ts_offset) & 0xFFFFFFFF,
                       ATTACKER_SSRC) + p.payload


def send_rtp_from_wrong_source(host: str, port: int, seconds: float, packets: list[sp.Packet] | None = None,
                               burst: int = 24, burst_every_s: float = 1.0) -> WrongSource:
    """For `seconds`, send `packets` (default: `attacker_packets()`, looped) to `host:port` in real time from a
    socket of our own, each `burst_every_s` preceded by `burst` packets of silence sent at once (more than the
    caller's 20 ms between packets can interrupt), and count what comes back."""
    packets = packets or attacker_packets()
    result = WrongSource()
    silence = sp.Packet(0, sp.PT_PCMU, 0, 0, False, sp.SILENCE_BYTE * sp.FRAME)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        start, seq, ts_offset, i, next_burst = time.monotonic(), 1000, 0, 0, 0.0
        while (now := time.monotonic() - start) < seconds:
            if now >= next_burst:
                for _ in range(burst):
                    sock.sendto(_rtp_bytes(replace(silence, ts=ts_offset), seq, 0), (host, port))
                    seq, ts_offset, result.sent = seq + 1, ts_offset + sp.FRAME, result.sent + 1
                next_burst += burst_every_s
            p = packets[i % len(packets)]
            loop_offset = ts_offset + (i // len(packets)) * (packets[-1].ts + sp.FRAME)
            sock.sendto(_rtp_bytes(p, seq, loop_offset), (host, port))
            seq, i, result.sent = seq + 1, i + 1, result.sent + 1
            _drain(sock, result)
            time.sleep(max(0.0, start + i * 0.02 - time.monotonic()))
        time.sleep(0.3)
        _drain(sock, result)
    return result


def _drain(sock: socket.socket, result: WrongSource) -> None:
    while True:
        try:
            data, addr = sock.recvfrom(2048)
        except BlockingIOError:
            return
        if len(data) >= 12 and data[0] >> 6 == 2:
            result.received += 1
            result.sources.add(addr)


# --- one SIPp call in the background --------------------------------------------------------------------------------
SIPP_DIR = Path(__file__).resolve().parent / "sipp"


class SippCall:
    """One SIPp call playing `pcap` with `scenario` (tests/sipp/rtp_*.xml), started at once, in `work`."""

    def __init__(self, target: str, work: Path, pcap: Path, scenario: str = "rtp_call.xml", timeout_s: int = 150):
        self.work = work
        path = sp.prepare_sipp_dir(work, pcap, SIPP_DIR / scenario)
        self.command = sp.sipp_command(target, path, 1, 1, 1, timeout_s)
        self.media_port = int(self.command[self.command.index("-mp") + 1])
        self.proc = subprocess.Popen(self.command, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.output = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        self.output = self.proc.stdout.read()

    def rtp_port(self, timeout: float = 30) -> int:
        """The IVR's RTP port for this call, once the 200 OK has come."""
        path = self.work / "rtp_port.txt"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = path.read_text() if path.is_file() else ""
            if text.endswith("\n"):                      # written whole
                return int(text)
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise TimeoutError(f"no 200 OK with an SDP from the IVR: {self.output[-2000:]}")

    def answered_at(self) -> float:
        return self._time("answered.txt")

    def bye_at(self) -> float | None:
        return self._time("bye.txt") if (self.work / "bye.txt").is_file() else None

    def _time(self, name: str) -> float:
        return float((self.work / name).read_text())

    def wait(self, timeout: float = 180) -> tuple[int, int, int]:
        """(exit status, successful calls, failed calls), from SIPp's statistics."""
        rc = self.proc.wait(timeout)
        self._reader.join(5)
        rows = (self.work / "stats.csv").read_text().splitlines() if (self.work / "stats.csv").is_file() else []
        if len(rows) < 2:
            return rc, 0, 0
        header, last = rows[0].split(";"), rows[-1].split(";")
        value = dict(zip(header, last))
        return rc, int(value.get("SuccessfulCall(C)") or 0), int(value.get("FailedCall(C)") or 0)
