"""What the caller's words or keys mean in one state of the flow, without side effects.

The rules, in order, for speech:
- intent states (a menu): a global command (agent, repeat, goodbye) or an intent the state offers; at a
  confirming menu ("anything else?") a request ("yes, check my balance", "please stop my card") wins over the
  bare yes/no in it.
- slot states (digits, account, amount, card): the slot first; else a global; else a new request (a task of
  the flow's `requests` state) that leaves this one.
- a menu (not a confirmation) where the words mean nothing, said in a few words: the phrase of the menu they
  sound like (ivr/sounds_like.py), as a `guess` the dialog asks about ("Did you say branch hours?"); where the
  language's intents set `ask_below`, an intent read with less confidence than that is asked about the same way
  ("您是说查余额吗？") instead of acted on.
- confirmations (expect: confirm): a correction (an answer to a `correct:` state: "no, make it 100 dollars")
  first, then a new request, then a clear yes or no; anything unclear ("I'm not sure", "absolutely not"...
  is a clear no) has no value and is asked again.
Frustration ("this is useless") with nothing else understood is its own kind.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .flow import CONFIRM, Flow, State
from .nlu import NluResult
from .slots import answer, clear_yes, parse_accounts, parse_digits, pick_card, read_amount
from .sounds_like import Phonemizer, SoundsLike
from .words import Lexicon, find, lookup, tokens

EARLY_END_CONFIDENCE = 0.65  # intent confidence that lets a turn end before the full hangover
REQUEST_CONFIDENCE = 0.55    # a new request in a state that asks something else must be at least this clear
GUESS_WORDS = 5              # a guess by sound only for an utterance this short (a command, not a sentence)
GUESS_DISTANCE = 0.45        # ... whose sounds are at most this far from a phrase of the menu
GUESS_MARGIN = 0.05          # ... and nearer to it than to any phrase that means something else


@dataclass(frozen=True)
class Understanding:
    text: str
    confidence: float
    state: str                       # the state it was made for
    value: str | None                # the answer here: an intent, yes/no, digits, account, amount, card key
    is_global: bool                  # value is a global command (speak_to_agent, repeat, goodbye)
    nlu: NluResult | None
    complete: bool                   # already a whole answer here (lets a call end the turn early)
    kind: str = "answer"             # answer | global | request | correction | guess | frustrated | none
    target: str | None = None        # correction: the state whose answer `value` is; guess: the phrase
    slots: dict = field(default_factory=dict)   # slots of the utterance, for the task it asks for

    @property
    def understood(self) -> bool:
        """The words mean something here (not only sound like a choice): the recognizer's reading fits."""
        return self.value is not None and self.kind != "guess"


class Interpreter:
    def __init__(self, flow: Flow, nlu, lex: Lexicon):
        self.flow, self.nlu, self.lex, self.voice = flow, nlu, lex, lex.sounds_like_voice
        self._sounds: dict[str, SoundsLike] = {}

    # -- speech -----------------------------------------------------------------------------------------
    def understand(self, st: State, text: str, confidence: float, ctx, task: str | None) -> Understanding:
        lex, flow = self.lex, self.flow
        toks = tokens(text)
        trails = not toks or toks[-1] in lex.trailing or bool(re.search(r"(,|，|、|\.\.\.|…|-|—)\s*$", text))
        nlu: NluResult | None = None

        def result(value, kind="answer", complete=None, target=None) -> Understanding:
            if complete is None:
                complete = nlu is not None and nlu.confidence >= getattr(self.nlu, "early_end", EARLY_END_CONFIDENCE)
            slots = dict(nlu.slots) if nlu is not None else {}
            return Understanding(text, confidence, st.name, value, kind == "global", nlu,
                                 bool(complete) and not trails and value is not None, kind, target, slots)

        def classify() -> NluResult:
            nonlocal nlu
            nlu = nlu or self.nlu.classify(text)
            return nlu

        yn = answer(text, lex)
        if st.expect == "intent":
            r = classify()
            if st.confirm and r.intent in st.on and r.intent not in CONFIRM and self._asks(text, r):
                return result(r.intent)
            if st.confirm and yn in CONFIRM:  # "no, I want my transactions": wait for the full hangover
                return result(yn, complete=False)
            if (not st.confirm and r.intent and r.intent != "repeat" and (r.intent in st.on or r.intent in flow.globals)
                    and r.confidence < getattr(self.nlu, "ask_below", 0.0)):   # not sure enough to act: asked
                return result(r.intent, "guess", complete=False, target=self.nlu.name_of(r.intent))
            if r.intent in flow.globals:
                return result(r.intent, "global")
            if r.intent in st.on and not st.confirm:
                return result(r.intent)
        else:
            value = self.parse(st, text, ctx)
            if st.expect == "confirm":
                for name in st.correct:
                    target = flow.states[name]
                    corrected = self.parse(target, text, ctx)
                    if (corrected is not None and corrected != ctx.answers.get(name)
                            and self._whole(target, text, corrected)):
                        return result(corrected, "correction", True, target=name)
                if yn == "unsure":
                    return result(None, "none")
            elif value is not None:
                return result(value, complete=self._whole(st, text, value))
            r = classify()
            if r.intent in flow.tasks and self._asks(text, r):
                if r.intent != task:
                    return result(r.intent, "request")
                if st.expect == "confirm":  # "cancel my card" while blocking one: only a plain yes is a yes
                    return result("yes" if yn == "yes" else None, complete=True)
            if value is not None:
                return result(value, complete=True)
            if r.intent in flow.globals and r.confidence >= getattr(self.nlu, "global_confidence", 0.0):
                return result(r.intent, "global")
        if find(toks, lex.frustration):
            return result("frustrated", "frustrated", complete=False)
        if st.expect == "intent" and not st.confirm and self.voice and 0 < len(toks) <= GUESS_WORDS:
            m = self._sounds_of(st).match(text)
            if m is not None and m.distance <= GUESS_DISTANCE and m.margin >= GUESS_MARGIN:
                return result(m.value, "guess", complete=False, target=m.phrase)
        return result(None, "none")

    def _sounds_of(self, st: State) -> SoundsLike:
        """The phrases of a menu state (its intents and the global commands), as sounds; made once per state."""
        if st.name not in self._sounds:
            phrases = {p: i for p, i in self.nlu.phrases().items() if i in st.on or i in self.flow.globals}
            self._sounds[st.name] = SoundsLike(phrases, Phonemizer(self.voice))
        return self._sounds[st.name]

    def _asks(self, text: str, r: NluResult) -> bool:
        """A request said with a yes/no around it: confident, with words besides yes/no/unsure and fillers."""
        toks = tokens(text)
        spans = find(toks, self.lex.yes + self.lex.no + self.lex.unsure)
        covered = {i for s, e in spans for i in range(s, e)}
        rest = [t for i, t in enumerate(toks) if i not in covered and t not in self.lex.fillers]
        return r.confidence >= REQUEST_CONFIDENCE and len(rest) >= 2

    def parse(self, st: State, text: str, ctx) -> str | None:
        """The slot a state asks for, from speech; None when the words do not give it."""
        lex = self.lex
        if st.expect == "digits":
            digits = parse_digits(text, lex)
            lo, hi = st.digits
            return digits if digits and lo <= len(digits) <= hi else None
        if st.expect == "confirm":
            yn = answer(text, lex)
            if yn == "yes" and not clear_yes(text, lex):
                return None
            return yn if yn in CONFIRM else None
        if st.expect == "account":
            return next(iter(parse_accounts(text, lex)), None)
        if st.expect == "amount":
            a = read_amount(text, lex)
            return None if a.status is None else f"{a.value}" if a.value is not None else a.status
        if st.expect == "card":
            return pick_card(text, [(c.kind, c.last4) for c in ctx.vars.get("cards", [])], lex)
        return None

    def _whole(self, st: State, text: str, value: str) -> bool:
        toks = set(tokens(text))
        lex = self.lex
        if st.expect == "digits":
            return len(value) == st.digits[1]
        if st.expect == "amount":
            return value == "everything" or bool(toks & (lex.dollars | lex.cents))
        if st.expect == "card":  # "the debit one", "the last one", or the last four digits
            said = tokens(text)
            return bool(lookup(said, lex.card_table) or lookup(said, lex.ordinal_table)) \
                or len(parse_digits(text, lex) or "") >= 4
        if st.expect == "confirm":  # "yes... but make it 30", "no, make it 100": a read-back answer waits for the
            return False            # full hangover, so a correction after a pause is never cut off
        return True

    # -- keys -------------------------------------------------------------------------------------------
    def keys(self, st: State, keys: str) -> Understanding:
        """DTMF: a whole entry that is a `dtmf_globals` key is that command (so '0#' is the agent, '*' repeat);
        in digit entry every other key is a digit, '*' inside an entry starts it over ('12*2468' is 2468);
        elsewhere the first key picks from the state's `dtmf` menu."""
        entry = keys.rstrip("#")
        glob = self.flow.dtmf_globals

        def result(value, kind="answer"):
            return Understanding(f"dtmf:{keys}", 1.0, st.name, value, kind == "global", None, True,
                                 kind if value is not None else "none")

        if entry in glob:
            return result(glob[entry], "global")
        if st.expect == "digits":
            entry = entry.rsplit("*", 1)[-1]
            lo, hi = st.digits
            return result(entry if entry.isdigit() and lo <= len(entry) <= hi else None)
        key = entry[:1]
        if key in st.dtmf:
            return result(st.dtmf[key])
        if key in glob:
            return result(glob[key], "global")
        return result(None)
