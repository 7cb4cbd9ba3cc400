"""The key-entry stage: DTMF keys in, complete entries out.

Outside digit entry every key is an entry of its own (a menu choice, '*' repeat, '0' agent). In digit entry
(a PIN, an account number) '0' is a digit and '*' clears what was keyed; the entry ends with '#', at the maximum
length, or when the caller stops keying (a shorter wait once the minimum is in). '0' or '*' keyed alone and left
there is delivered alone, so that the agent and repeat stay reachable."""
from __future__ import annotations

from dataclasses import dataclass

from .frames import Keyed

INTER_DIGIT_S = 3.0     # wait this long for the next key...
COMPLETE_DIGIT_S = 1.5  # ...but only this long once the minimum number of digits is in


@dataclass
class DigitEntry:
    min_digits: int = 1
    max_digits: int = 20
    inter_digit_s: float = INTER_DIGIT_S
    complete_digit_s: float = COMPLETE_DIGIT_S


class KeyEntry:
    def __init__(self):
        self.entry: DigitEntry | None = None   # None: every key is an entry of its own
        self.keys = ""
        self.deadline: float | None = None

    def expect(self, entry: DigitEntry | None) -> None:
        """What the next keys answer: digits (a PIN, an account) or a single key. Keys typed ahead are kept."""
        self.entry = entry

    def clear(self) -> None:
        self.keys, self.deadline = "", None

    def press(self, digit: str, t: float) -> Keyed | None:
        entry = self.entry
        if entry is None:
            self.clear()
            return Keyed(digit, t)
        if digit == "#":
            return self._deliver(t) if self.keys else None
        if digit == "*" and self.keys and self.keys != "*":
            self.clear()          # start the entry again
            self.keys, self.deadline = "", t + entry.inter_digit_s
            return None
        self.keys = "*" if digit == "*" else self.keys.lstrip("*") + digit
        if self.keys != "*" and len(self.keys) >= entry.max_digits:
            return self._deliver(t)
        enough = self.keys.isdigit() and len(self.keys) >= entry.min_digits
        self.deadline = t + (entry.complete_digit_s if enough else entry.inter_digit_s)
        return None

    def poll(self, t: float) -> Keyed | None:
        """The caller stopped keying: deliver what is in."""
        if self.keys and self.deadline is not None and t >= self.deadline:
            return self._deliver(t)
        return None

    def _deliver(self, t: float) -> Keyed:
        keys = self.keys
        self.clear()
        return Keyed(keys, t)
