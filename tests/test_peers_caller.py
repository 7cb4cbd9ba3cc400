"""The scripted caller of bench/peers.py: it waits for the IVR to finish, then speaks, and times the reply the
same way for both sides (pure timing logic, driven by a fake 20 ms clock)."""
import numpy as np

from bench.peers_caller import FRAME_BYTES, Caller

TONE = (np.sin(np.arange(FRAME_BYTES // 2) / 3) * 8000).astype(np.int16).tobytes()   # one voiced 20 ms frame
QUIET = b"\0" * FRAME_BYTES


def run(caller: Caller, ivr_frames, seconds: float) -> list[tuple[float, bytes]]:
    """Tick every 20 ms; `ivr_frames(now, caller)` says what the IVR sends then. Returns what the caller sent."""
    sent, now = [], 0.0
    while now < seconds and not caller.done:
        now = round(now + 0.02, 2)
        sent.append((now, caller.frame(now)))
        out = ivr_frames(now, caller)
        if out:
            caller.heard(now, out)
    return sent


def test_the_caller_speaks_after_the_greeting_and_times_the_reply():
    utterance = TONE * 25                                        # 0.5 s
    caller = Caller([("hello", utterance)])

    def ivr(now, c):
        if now <= 1.0:                                           # a 1 s greeting
            return TONE
        if c.turns and c.turns[0].ended and now >= c.turns[0].ended + 0.3 and now < c.turns[0].ended + 0.6:
            return TONE                                          # the reply, 300 ms after the caller stopped
        return QUIET

    sent = run(caller, ivr, 10)
    first_voice = next(t for t, f in sent if f != QUIET)
    assert first_voice >= 2.0                                    # the greeting, then 1 s of quiet
    turn = caller.turns[0]
    assert not turn.cut and abs(turn.latency_ms - 300) <= 20 and caller.done


def test_a_reply_while_the_caller_still_speaks_is_a_cut_turn_and_silence_is_a_missed_one():
    caller = Caller([("first", TONE * 50), ("second", TONE * 10)])
    state = {"replied": False}

    def ivr(now, c):
        if now <= 0.5:
            return TONE
        if len(c.turns) == 1 and now - c.turns[0].started > 0.4 and not state["replied"]:
            state["replied"] = True                              # talks over the caller's first turn
            return TONE
        return QUIET                                             # and never answers the second

    run(caller, ivr, 30)
    first, second = caller.turns
    assert first.cut and second.latency_ms is None and caller.done
