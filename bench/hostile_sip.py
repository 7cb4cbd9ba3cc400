"""A hostile SIP peer: malformed, mutated, flooding and scanning traffic against ONE target, deterministic per seed.

    .venv/bin/python bench/hostile_sip.py --target 127.0.0.1:5060 [--messages 10000] [--seed 1] [--rate N]
                                          [--only FAMILY ...]

Families (one generator each, mixed in bursts): broken headers, bad Content-Length, truncated messages, bad SDP,
binary garbage, byte-flipped valid requests, requests in unknown dialogs, an INVITE flood from one source,
sipvicious-style `svmap` (OPTIONS) and `svwar` (REGISTER/INVITE per extension) scans, and a few TCP connections
(huge/negative Content-Length, a 60 KB header, cut off). Packets go to the target only (media in our SDP points back
at us). Replies are read as they come: a 2xx to an INVITE is ACKed and hung up with BYE, a provisional one CANCELled
after 1 s, a refusal ACKed, a request from the target answered 200, so no call stays open.
`Hostile(...).run(n)` returns `Figures`; the CLI prints its one line."""
from __future__ import annotations

import argparse
import random
import re
import selectors
import socket
import time
from collections import Counter
from dataclasses import dataclass, field

UA = "hostile-sip/1.0"
SCANNERS = ("friendly-scanner", "sipcli/v1.8", "sipvicious")
FAMILIES = {"broken_headers": (10, 3), "content_length": (4, 1), "truncated": (6, 1), "bad_sdp": (8, 1),  # weight,
            "garbage": (10, 5), "mutations": (20, 5), "unknown_dialog": (8, 3), "invite_flood": (1, 40),   # longest
            "svmap": (2, 10), "svwar": (2, 20), "tcp": (0.5, 1)}                                           # burst
BAD_REQUEST_LINES = ["INVITE bank SIP/2.0", "INVITE sip: SIP/2.0", "INVITE sip:bank@ SIP/2.0", "INVITE  SIP/2.0",
                     "INVITE sip:bank@127.0.0.1:99999 SIP/2.0", "INVITE <sip:bank> SIP/2.0", "INVITE tel:+1 SIP/3.0",
                     "INVITE sip:%00@[::1 SIP/2.0", "INVITE"]
NON_ASCII = ['"\u00e9\u00fc\u2603" <sip:a@b>', "\x00\x00\x00", "\udcff\udcfe", "a\x00b<sip:x@y>"]
BAD_CSEQS = ["abc INVITE", "-1 INVITE", "1 BYE", "4294967296 INVITE", "99999999999999999999 INVITE", "1", " INVITE"]


@dataclass
class Figures:
    target: str
    sent: int = 0
    elapsed_s: float = 0.0
    by_family: Counter = field(default_factory=Counter)
    replies: Counter = field(default_factory=Counter)        # status -> messages answered with it
    invite_finals: Counter = field(default_factory=Counter)  # final status -> INVITEs
    unanswered: int = 0
    send_errors: int = 0
    calls_answered: int = 0                                  # 2xx to an INVITE, each ACKed and hung up (BYE)
    cancels: int = 0
    alive_before: bool = False
    alive_after: bool = False

    def line(self) -> str:
        return (f"hostile-sip: target {self.target}, messages {self.sent} sent in {self.elapsed_s:.1f} s "
                f"(tcp {self.by_family['tcp']}), replies {dict(sorted(self.replies.items()))}, unanswered "
                f"{self.unanswered}, INVITE finals {dict(sorted(self.invite_finals.items()))}, calls answered "
                f"{self.calls_answered} (all hung up), send errors {self.send_errors}, "
                f"alive after: {'yes' if self.alive_after else 'NO'}")


def header(msg: bytes, name: str, compact: str) -> str:
    m = re.search(rf"^(?:{name}|{compact})[ \t]*:[ \t]*(.*?)\r?$", msg.decode("latin-1"), re.I | re.M)
    return m.group(1) if m else ""


def render(line: str, headers: list, body: bytes = b"", length: int | str | None = None) -> bytes:
    text = line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    text += f"Content-Length: {len(body) if length is None else length}\r\n\r\n"
    return text.encode("utf-8", "surrogateescape") + body


class Hostile:
    def __init__(self, target: str, seed: int = 1, rate: float = 0.0, bind_port: int = 0, only: list | None = None,
                 source_ip: str | None = None):
        """`source_ip`: send from this local address (e.g. 127.0.0.66: another caller than the tests' 127.0.0.1)."""
        host, port = target.rsplit(":", 1)
        self.target = (socket.gethostbyname(host), int(port))
        self.rng, self.aux = random.Random(seed), random.Random(seed + 1)  # messages / replies' follow-ups
        self.rate, self.families = rate, {k: v for k, v in FAMILIES.items() if not only or k in only}
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as route:   # our address as the target sees it
            route.connect(self.target)
            self.local_ip = source_ip or route.getsockname()[0]
        self.sel = selectors.DefaultSelector()
        self.udp = {name: self._udp(bind_port if name == "flood" else 0) for name in ("main", "flood", "scan")}
        self.fig, self.answered, self.seen, self.hung_up = Figures(target), set(), set(), set()
        self.pending: dict[str, tuple] = {}   # INVITE branch -> (since, socket, 1xx) with no final yet
        self.tcp: list[socket.socket] = []
        self.extension = 99   # svwar's last extension tried

    def _udp(self, port: int) -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((self.local_ip, port))
        s.setblocking(False)
        self.sel.register(s, selectors.EVENT_READ)
        return s

    # -- valid material: the branch carries the message's number, so that a reply is matched to what it answers ---
    def head(self, method, sock, user="bank", ua=UA, to_tag="", from_user="alice", rng=None) -> tuple[str, list]:
        (ip, port), (host, tport), rng = sock.getsockname(), self.target, rng or self.rng
        tr = "TCP" if sock.type == socket.SOCK_STREAM else "UDP"
        uri = f"sip:{host}:{tport}" if method == "REGISTER" else f"sip:{user}@{host}:{tport}"
        tag, cid = rng.getrandbits(32), rng.getrandbits(64)
        return f"{method} {uri} SIP/2.0", [
            ("Via", f"SIP/2.0/{tr} {ip}:{port};branch=z9hG4bKhs{self.fig.sent}.{tag:x};rport"), ("Max-Forwards", "70"),
            ("From", f"<sip:{from_user}@{ip}>;tag={tag:x}"), ("To", f"<sip:{user}@{host}>{to_tag and ';tag=' + to_tag}"),
            ("Call-ID", f"{cid:x}@{ip}"), ("CSeq", f"1 {method}"), ("Contact", f"<sip:{from_user}@{ip}:{port}>"),
            ("User-Agent", ua)]

    def sdp_lines(self, sock) -> list[str]:
        ip, port = sock.getsockname()
        return ["v=0", f"o=- 1 1 IN IP4 {ip}", "s=-", f"c=IN IP4 {ip}", "t=0 0", f"m=audio {port} RTP/AVP 0 101",
                "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000"]

    def valid(self, method: str, sock=None, **kw) -> tuple[str, list, bytes]:
        sock = sock or self.udp["main"]
        line, hdrs = self.head(method, sock, to_tag="" if method in ("INVITE", "OPTIONS", "REGISTER") else "x1", **kw)
        if method == "INVITE":
            return line, hdrs + [("Content-Type", "application/sdp")], "".join(
                f"{x}\r\n" for x in self.sdp_lines(sock)).encode()
        if method == "INFO":
            return line, hdrs + [("Content-Type", "application/dtmf-relay")], b"Signal=5\r\nDuration=160\r\n"
        if method == "REFER":
            hdrs.append(("Refer-To", "<sip:+4930123456@%s:%d>" % sock.getsockname()))
        return line, hdrs, b""

    # -- families: each call returns one message, (socket, bytes) ------------------------------------------------
    def fam_broken_headers(self):
        r = self.rng
        line, hdrs, body = self.valid(r.choice(["INVITE", "OPTIONS", "BYE"]))
        kind = r.randrange(7)
        if kind == 0:    # a mandatory header missing
            gone = r.choice(["Via", "From", "To", "Call-ID", "CSeq"])
            hdrs = [h for h in hdrs if h[0] != gone]
        elif kind == 1:  # bad CSeq number, or its method not the request's
            hdrs = [("CSeq", r.choice(BAD_CSEQS)) if k == "CSeq" else (k, v) for k, v in hdrs]
        elif kind == 2:  # duplicated headers, some disagreeing
            hdrs += [(k, v + "x" if k in ("Call-ID", "From") else v) for k, v in hdrs[r.randrange(len(hdrs)):]]
        elif kind == 3:
            hdrs.append(("X-Big", "A" * 60000))
        elif kind == 4:  # non-ASCII, invalid UTF-8, NUL bytes
            hdrs.append((r.choice(["From", "Subject", "X-\x00"]), r.choice(NON_ASCII)))
        elif kind == 5:
            line = r.choice(BAD_REQUEST_LINES)
        else:            # headers cut short, odd separators
            hdrs = [(k + r.choice(["", " ", ":", "\t"]), v[: r.randrange(len(v) + 1)]) for k, v in hdrs]
        return self.udp["main"], render(line, hdrs, body)

    def fam_content_length(self):
        line, hdrs, body = self.valid(self.rng.choice(["INVITE", "OPTIONS", "INFO"]))
        return self.udp["main"], render(line, hdrs, body, self.rng.choice([99999999, -1, 2**31, 2**64, "abc", "", 1]))

    def fam_truncated(self):
        msg = render(*self.valid(self.rng.choice(["INVITE", "OPTIONS", "REGISTER", "INFO"])))
        return self.udp["main"], msg[: self.rng.randrange(1, len(msg))]

    def fam_bad_sdp(self):
        r = self.rng
        line, hdrs, _ = self.valid("INVITE")
        sdp, kind = self.sdp_lines(self.udp["main"]), r.randrange(6)
        if kind == 0:    # garbage lines
            sdp[r.randrange(len(sdp)):0] = [r.choice(["zzz", "=", "m=", "a", "v=9\x00", "o=" + "9" * 400])] * 3
        elif kind == 1:  # no m= line
            sdp = [x for x in sdp if not x.startswith("m=")]
        elif kind == 2:
            sdp[5] = f"m=audio {r.choice([0, 70000, -1, 'x'])} RTP/AVP 0"
        elif kind == 3:  # unusable connection addresses (never a routable one)
            sdp[3] = r.choice(["c=IN IP4 999.1.1.1", "c=IN IP6 ::zz", "c=IN IP4", "c=XX YY", "c=IN IP4 a.invalid"])
        elif kind == 4:  # only codecs nobody knows
            sdp[5:] = ["m=audio 4000 RTP/AVP 96 97", "a=rtpmap:96 FOO/8000", "a=rtpmap:97 BAR/16000"]
        else:            # thousands of lines
            sdp += [f"a=x-junk:{i}" for i in range(r.randrange(1000, 4000))]
        return self.udp["main"], render(line, hdrs, "".join(x + "\r\n" for x in sdp).encode())

    def fam_garbage(self):
        prefix = self.rng.choice([b"", b"", b"INVITE ", b"SIP/2.0 200 ", b"OPTIONS sip:x SIP/2.0\r\n"])
        return self.udp["main"], prefix + self.rng.randbytes(self.rng.randrange(1, 1500))

    def fam_mutations(self):
        msg = bytearray(render(*self.valid(self.rng.choice(["INVITE", "OPTIONS", "REGISTER", "BYE", "REFER", "INFO"]))))
        for _ in range(self.rng.randrange(1, 9)):
            msg[self.rng.randrange(len(msg))] ^= self.rng.randrange(1, 256)
        return self.udp["main"], bytes(msg)

    def fam_unknown_dialog(self):
        line, hdrs, body = self.valid(self.rng.choice(["BYE", "ACK", "INFO", "REFER", "UPDATE", "PRACK", "NOTIFY",
                                                       "CANCEL", "INVITE"]))
        hdrs = [(k, v + ";tag=nodialog") if k == "To" and "tag=" not in v else (k, v) for k, v in hdrs]
        return self.udp["main"], render(line, hdrs, body)

    def fam_invite_flood(self):   # one source, a new Call-ID each
        return self.udp["flood"], render(*self.valid("INVITE", self.udp["flood"]))

    def fam_svmap(self):
        line, hdrs, _ = self.valid("OPTIONS", self.udp["scan"], user="100", from_user="sipvicious",
                                   ua=self.rng.choice(SCANNERS))
        return self.udp["scan"], render(line, hdrs + [("Accept", "application/sdp")])

    def fam_svwar(self):
        self.extension = self.extension + 1 if self.extension < 9999 else 100
        method, ext = "REGISTER" if self.rng.random() < 0.7 else "INVITE", str(self.extension)
        return self.udp["scan"], render(*self.valid(method, self.udp["scan"], user=ext, from_user=ext,
                                                    ua="friendly-scanner"))

    def fam_tcp(self):   # a new connection each, left open until the end
        conn = socket.create_connection(self.target, timeout=2, source_address=(self.local_ip, 0))
        line, hdrs, body = self.valid(self.rng.choice(["INVITE", "OPTIONS"]), conn)
        kind = self.rng.randrange(4)
        msg = render(line, hdrs + [("X-Big", "B" * 60000)] * (kind == 2), body, [99999999, -5, None, None][kind])
        return conn, msg[: len(msg) // 2] if kind == 3 else msg

    # -- sending, replies, follow-ups --------------------------------------------------------------------------
    def send(self, sock, data: bytes) -> None:
        try:
            if sock.type == socket.SOCK_DGRAM:
                sock.sendto(data, self.target)
                return
            sock.sendall(data)
            if sock not in self.tcp:
                sock.setblocking(False)
                self.tcp.append(sock)
                self.sel.register(sock, selectors.EVENT_READ)
        except OSError:
            self.fig.send_errors += 1

    def poll(self, timeout: float) -> None:
        for key, _ in self.sel.select(timeout):
            sock, stream = key.fileobj, key.fileobj.type == socket.SOCK_STREAM
            try:
                while True:
                    data, addr = sock.recvfrom(65535)
                    if stream and not data:
                        raise ConnectionResetError
                    for msg in re.split(rb"(?=SIP/2\.0 \d{3} )", data) if addr in (None, self.target) else []:
                        self.on_message(sock, msg)
                    if stream:
                        break
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:   # ICMP port unreachable on UDP; a closed connection
                if stream:
                    self.sel.unregister(sock)
        for branch, (since, sock, resp) in list(self.pending.items()):
            if time.monotonic() - since > 1.0:   # still ringing after 1 s: CANCEL it
                del self.pending[branch]
                self.fig.cancels += 1
                self.follow(sock, resp, "CANCEL", same_branch=True, to_tag=False)

    def on_message(self, sock, msg: bytes) -> None:
        m = re.match(rb"SIP/2\.0 (\d{3}) ", msg)
        if not m:   # a request from the target (a BYE when the IVR hangs up, ...): 200
            if re.match(rb"[A-Z]+ \S+ SIP/2\.0\r\n", msg) and not msg.startswith(b"ACK "):
                keep = [x for x in msg.split(b"\r\n") if re.match(rb"(?i)(via|v|from|f|to|t|call-id|i|cseq)\s*:", x)]
                self.send(sock, b"SIP/2.0 200 OK\r\n" + b"\r\n".join(keep) + b"\r\nContent-Length: 0\r\n\r\n")
            return
        status, cseq = int(m[1]), header(msg, "CSeq", "CSeq")
        branch = (re.findall(r"branch=([^;\s,]+)", header(msg, "Via", "v")) or [""])[0]
        first, ours = (branch, cseq, status) not in self.seen, branch.startswith("z9hG4bKhs")  # not a follow-up's
        self.seen.add((branch, cseq, status))
        if first and ours:
            self.fig.replies[status] += 1
            if number := re.match(r"z9hG4bKhs(\d+)\.", branch):
                self.answered.add(int(number[1]))
        if not cseq.endswith("INVITE") or status == 100:
            return
        if status < 200:
            self.pending.setdefault(branch, (time.monotonic(), sock, msg))
            return
        self.pending.pop(branch, None)
        if first and ours:
            self.fig.invite_finals[status] += 1
        self.follow(sock, msg, "ACK", same_branch=status >= 300)   # every copy of a final response: ACK
        if status < 300 and header(msg, "Call-ID", "i") not in self.hung_up:
            self.hung_up.add(header(msg, "Call-ID", "i"))
            self.fig.calls_answered += 1
            self.follow(sock, msg, "BYE", cseq_step=1)

    def follow(self, sock, resp: bytes, method: str, same_branch=False, to_tag=True, cseq_step=0) -> None:
        """ACK, BYE or CANCEL for an INVITE the target answered; sent to the target only, whatever Contact says."""
        to, (ip, port) = header(resp, "To", "t"), sock.getsockname()
        uri = re.search(r"<([^>]+)>", (header(resp, "Contact", "m") if not same_branch else "") or to)
        tr = "TCP" if sock.type == socket.SOCK_STREAM else "UDP"
        via = header(resp, "Via", "v") if same_branch else \
            f"SIP/2.0/{tr} {ip}:{port};branch=z9hG4bKfu{self.aux.getrandbits(40):x};rport"
        number = int((header(resp, "CSeq", "CSeq").split() or ["1"])[0]) + cseq_step
        hdrs = [("Via", via), ("Max-Forwards", "70"), ("From", header(resp, "From", "f")),
                ("To", to if to_tag else re.sub(r";\s*tag=[^;>]*", "", to)), ("Call-ID", header(resp, "Call-ID", "i")),
                ("CSeq", f"{number} {method}"), ("User-Agent", UA)]
        self.send(sock, render(f"{method} {uri.group(1) if uri else 'sip:%s:%d' % self.target} SIP/2.0", hdrs))

    def alive(self, wait_s: float = 3.0) -> bool:
        """OPTIONS from a fresh socket with an ordinary user agent: does the target answer 200?"""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((self.local_ip, 0))
            s.settimeout(0.5)
            probe = render(*self.head("OPTIONS", s, ua="Linphone/5.2.0", rng=self.aux))
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline:
                s.sendto(probe, self.target)
                try:
                    data, addr = s.recvfrom(65535)
                    if addr == self.target and data.startswith(b"SIP/2.0 200 "):
                        return True
                except OSError:
                    time.sleep(0.1)
        return False

    def run(self, messages: int = 10000) -> Figures:
        fig = self.fig
        fig.alive_before = self.alive()
        names, weights = list(self.families), [w for w, _ in self.families.values()]
        start = time.monotonic()
        while fig.sent < messages:
            name = self.rng.choices(names, weights)[0]
            for _ in range(min(self.rng.randint(1, self.families[name][1]), messages - fig.sent)):
                try:
                    sock, data = getattr(self, "fam_" + name)()
                except OSError:    # the target takes no TCP
                    sock, data = self.fam_garbage()
                self.poll(0)
                while self.rate and (wait := start + fig.sent / self.rate - time.monotonic()) > 0:
                    self.poll(wait)
                self.send(sock, data)
                fig.sent += 1
                fig.by_family[name] += 1
        fig.elapsed_s = time.monotonic() - start
        quiet, hard = time.monotonic() + 1.0, time.monotonic() + 6.0   # late replies; CANCELs for what still rings
        while time.monotonic() < hard and (self.pending or time.monotonic() < quiet):
            self.poll(0.1)
        fig.unanswered = fig.sent - len(self.answered)
        for s in [*self.udp.values(), *self.tcp]:
            s.close()
        fig.alive_after = self.alive()
        return fig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", required=True, help="host:port of the SIP endpoint (UDP, and TCP for a few)")
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rate", type=float, default=0.0, help="messages per second (0: as fast as possible)")
    ap.add_argument("--only", nargs="+", choices=list(FAMILIES), help="send these families only")
    ap.add_argument("--source-ip", help="send from this local address (default: the route's)")
    args = ap.parse_args()
    print(Hostile(args.target, args.seed, args.rate, only=args.only, source_ip=args.source_ip).run(args.messages).line())


if __name__ == "__main__":
    main()
