"""Scorecards as data: config/scorecards/*.yaml lists weighted yes/no questions, each decided by one rule over
a call's timeline and the other stages' results (metrics, sentiment, redactions, complaint).

A question scores its weight on "yes", 0 on "no" and is left out on "na"; the total is 100 x earned / possible,
and a "no" to an `auto_fail` question makes it 0. Rule types (the `type:` of a question's `rule:`):

  said / not_said  {speaker, phrases, within: {first_s | last_s}, threshold}  a segment of the speaker matches a
                   phrase: as words (case and punctuation aside) or as a paraphrase (sentence-embedding cosine of
                   the phrase with the segment, a sentence of it or a window of words of similar length)
  order            {first: M, before: M}  no `before` happens ahead of the first `first`; na when no `before`
  occurs           {match: M}             the matcher happens at all
  metric           {name, op, value}      na when the metric is missing or None
  sentiment_end    {speaker, min}         the speaker's last scored quarter is at least `min`
  no_redaction     {speaker, kinds}       nothing of those kinds was redacted from what the speaker said
  any              {rules: [...]}         yes when one of the rules is yes (na when all are na)

A matcher M (or a list of them, any of which counts) is {event: kind(s)}, {state: [dialog states]},
{pattern: regex} or {said: {speaker, phrases, ...}}; state and pattern take an optional speaker and within.
said/not_said/no_redaction are na when the speaker is not in the call; `when:` (complaint, intent,
speaker_present, event) makes a question na when any of its conditions is unmet."""
from __future__ import annotations

import operator
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from config import CONFIG_DIR, IvrError, load_yaml

from .timeline import CallTimeline, Segment

SCORECARD_DIR = CONFIG_DIR / "scorecards"
DEFAULT_THRESHOLD = 0.55   # MiniLM cosine: "thanks for ringing" ~ "thank you for calling" scores about 0.58
WINDOWS = (3, 5, 8)        # widths of the windows of words compared with phrases (few widths: fast)
NEAR = 0.2                 # windows of a segment are compared when it scores this close below a threshold
CACHE_SIZE = 20_000        # sentence vectors a loaded card keeps across calls (IVR prompts repeat)
Speaker = Literal["caller", "ivr", "agent"]
RedactionKind = Literal["PAN", "CVV", "PIN", "ACCOUNT", "SSN", "EXPIRY"]
OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq,
       "!=": operator.ne, "in": lambda a, b: a in b}


# -- the YAML schema ------------------------------------------------------------------------------------------
class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _listed(value):
    return [value] if isinstance(value, str) else value


class Within(_Spec):
    first_s: float | None = Field(None, gt=0)
    last_s: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one(self):
        if (self.first_s is None) == (self.last_s is None):
            raise ValueError("give exactly one of first_s, last_s")
        return self


class Said(_Spec):
    speaker: Speaker
    phrases: list[str] = Field(min_length=1)
    within: Within | None = None
    threshold: float | None = Field(None, gt=0, le=1)

    _phrases = field_validator("phrases", mode="before")(_listed)

    @field_validator("phrases")
    @classmethod
    def _words(cls, value):
        if not all(re.search(r"\w", p) for p in value):
            raise ValueError("every phrase needs a word")
        return value


class Matcher(_Spec):
    event: list[str] | None = None
    state: list[str] | None = None
    pattern: str | None = None
    said: Said | None = None
    speaker: Speaker | None = None
    within: Within | None = None

    _lists = field_validator("event", "state", mode="before")(_listed)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value):
        if value is not None:
            try:
                re.compile(value)
            except re.error as err:
                raise ValueError(f"bad regex: {err}") from None
        return value

    @model_validator(mode="after")
    def _one(self):
        if sum(x is not None for x in (self.event, self.state, self.pattern, self.said)) != 1:
            raise ValueError("a matcher has exactly one of event, state, pattern, said")
        if (self.event or self.said) and (self.speaker or self.within):
            raise ValueError("speaker and within go with state or pattern (inside said for said)")
        return self


Matchers = Annotated[list[Matcher], Field(min_length=1)]


def _matchers(value):
    return [value] if isinstance(value, dict) else value


class SaidRule(Said):
    type: Literal["said", "not_said"]


class OrderRule(_Spec):
    type: Literal["order"]
    first: Matchers
    before: Matchers

    _lists = field_validator("first", "before", mode="before")(_matchers)


class OccursRule(_Spec):
    type: Literal["occurs"]
    match: Matchers

    _lists = field_validator("match", mode="before")(_matchers)


class MetricRule(_Spec):
    type: Literal["metric"]
    name: str
    op: Literal["<", "<=", ">", ">=", "==", "!=", "in"]
    value: float | str | list[float | str]

    @model_validator(mode="after")
    def _list_for_in(self):
        if (self.op == "in") != isinstance(self.value, list):
            raise ValueError("op 'in' takes a list value, the other ops a single value")
        return self


class SentimentEndRule(_Spec):
    type: Literal["sentiment_end"]
    speaker: Speaker
    min: float = 0.0


class NoRedactionRule(_Spec):
    type: Literal["no_redaction"]
    speaker: Speaker | None = None
    kinds: list[RedactionKind] | None = None    # None: any kind


class AnyRule(_Spec):
    type: Literal["any"]
    rules: list[Rule] = Field(min_length=2)


Rule = Annotated[SaidRule | OrderRule | OccursRule | MetricRule | SentimentEndRule | NoRedactionRule | AnyRule,
                 Field(discriminator="type")]
AnyRule.model_rebuild()


class When(_Spec):
    complaint: bool | None = None
    intent: list[str] | None = None
    speaker_present: Speaker | None = None
    event: list[str] | None = None

    _lists = field_validator("intent", "event", mode="before")(_listed)


class Question(_Spec):
    id: str = Field(pattern=r"^[a-z0-9_]{1,64}$")
    section: str
    question: str
    weight: float = Field(gt=0)
    auto_fail: bool = False
    when: When | None = None
    rule: Rule


@dataclass
class Scorecard:
    name: str
    path: Path
    title: str
    channels: list[str]
    threshold: float                      # default paraphrase threshold of its said rules
    questions: list[Question]
    vectors: dict[str, np.ndarray] = field(default_factory=dict, repr=False)   # text -> sentence vector


# -- results --------------------------------------------------------------------------------------------------
@dataclass
class Evidence:
    seq: int
    start_s: float


@dataclass
class ItemResult:
    id: str
    section: str
    question: str
    answer: str            # yes | no | na
    earned: float
    possible: float
    auto_fail: bool
    evidence: list[Evidence]


@dataclass
class ScoreResult:
    scorecard: str
    total: float | None
    auto_failed: bool
    items: list[ItemResult]

    def to_dict(self) -> dict:
        return {"scorecard": self.scorecard, "total": self.total, "auto_failed": self.auto_failed,
                "items": [asdict(item) for item in self.items]}


# -- loading --------------------------------------------------------------------------------------------------
def _path(name_or_path: str) -> Path:
    if name_or_path.endswith((".yaml", ".yml")) or "/" in name_or_path:
        return Path(name_or_path)
    return SCORECARD_DIR / f"{name_or_path}.yaml"


def _problem(err: ValidationError) -> str:
    e = err.errors()[0]
    where = ".".join(str(p) for p in e["loc"])
    return f"{where}: {e['msg']}" if where else e["msg"]


def load_scorecard(name_or_path: str) -> Scorecard:
    """A scorecard by name (config/scorecards/<name>.yaml) or path; a bad file raises IvrError naming it
    and the question at fault. Loaded once per version of the file."""
    path = _path(str(name_or_path))
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        raise IvrError(f"{path}: no such scorecard") from None
    return _load(path, mtime)


@lru_cache(maxsize=16)
def _load(path: Path, mtime: int) -> Scorecard:
    data = load_yaml(path, "scorecard")

    def fail(where: str, msg: str):
        raise IvrError(f"{path}: {where}: {msg}")

    if not isinstance(data, dict) or not isinstance(data.get("sections"), list) or not data["sections"]:
        fail("top level", "expected a mapping with a non-empty 'sections' list")
    unknown = set(data) - {"name", "title", "channels", "language", "threshold", "sections"}
    if unknown:
        fail("top level", f"unknown field {min(unknown)!r}")
    channels = _listed(data.get("channels") or [])
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        fail("channels", "expected a list of channel names (sip, chat, import)")
    threshold = data.get("threshold", DEFAULT_THRESHOLD)
    if not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
        fail("threshold", "expected a number in (0, 1]")
    questions: list[Question] = []
    for i, section in enumerate(data["sections"], 1):
        if not isinstance(section, dict) or not isinstance(section.get("questions"), list) or set(section) - {
                "name", "questions"}:
            fail(f"section {i}", "expected {name: ..., questions: [...]}")
        for j, raw in enumerate(section["questions"], 1):
            qid = raw.get("id") if isinstance(raw, dict) else None
            where = f"question {qid!r}" if qid else f"section {i} question {j}"
            if not isinstance(raw, dict):
                fail(where, "expected a mapping")
            try:
                q = Question.model_validate({**raw, "section": str(section.get("name") or f"section {i}")})
            except ValidationError as err:
                fail(where, _problem(err))
            if any(q.id == other.id for other in questions):
                fail(where, "duplicate id")
            questions.append(q)
    return Scorecard(name=str(data.get("name") or path.stem), path=path, title=str(data.get("title") or path.stem),
                     channels=channels, threshold=float(threshold), questions=questions)


def scorecard_for(channel: str, language: str = "en") -> str:
    """The name of the scorecard whose `channels:` lists this channel, for calls in `language` (a scorecard's
    `language:`, English when it names none); a language without one of its own is scored by the English one."""
    listed = []
    for path in sorted(SCORECARD_DIR.glob("*.yaml")):
        data = load_yaml(path, "scorecard")
        if isinstance(data, dict) and channel in _listed(data.get("channels") or []):
            listed.append((str(data.get("language") or "en"), path.stem))
    for wanted in (language, "en"):
        if found := [name for lang, name in listed if lang == wanted]:
            return found[0]
    if listed:
        return listed[0][1]
    raise IvrError(f"{SCORECARD_DIR}: no scorecard lists channel {channel!r}")


# -- scoring --------------------------------------------------------------------------------------------------
def _clean(text: str) -> str:
    """What the embedder reads: lower case, punctuation out but for apostrophes in words ("i'm sorry sir")."""
    text = re.sub(r"[^\w\s']|'(?!\w)|(?<!\w)'", " ", text.lower().replace("’", "'"))
    return " ".join(text.split())


def _norm(text: str) -> str:
    """What exact matching compares: "I'm sorry, Sir!" -> "im sorry sir"."""
    return _clean(text).replace("'", "")


def _parts(text: str) -> list[str]:
    """A segment and its sentences and clauses, as the embedder reads them."""
    parts = {_clean(text)} | {_clean(s) for s in re.split(r"[.!?;,]+", text)}
    return sorted(parts - {""})


def _windows(text: str, widths: set[int]) -> list[str]:
    """Windows of words of the given widths, each half overlapping the next."""
    words = _clean(text).split()
    return sorted({" ".join(words[i:i + w]) for w in widths for i in range(0, len(words) - w + 1, max(1, w // 2))})


def _widths(phrases: list[str]) -> set[int]:
    """Window widths of similar length to the phrases: from two words shorter to one longer, else the nearest."""
    widths = set()
    for n in {len(_clean(p).split()) for p in phrases}:
        widths |= {w for w in WINDOWS if n - 2 <= w <= n + 1} or {min(WINDOWS, key=lambda w: abs(w - n))}
    return widths


def _rules(rule) -> list:
    """A rule and the rules inside it (any)."""
    return [rule] + ([r for sub in rule.rules for r in _rules(sub)] if isinstance(rule, AnyRule) else [])


def _said_specs(rule) -> list[Said]:
    specs = []
    for r in _rules(rule):
        if isinstance(r, SaidRule):
            specs.append(r)
        for m in (r.first + r.before if isinstance(r, OrderRule) else r.match if isinstance(r, OccursRule) else []):
            if m.said:
                specs.append(m.said)
    return specs


@dataclass
class _Hit:
    seq: int
    time: float


class _Call:
    """One call being scored: the stage outputs and the sentence vectors its said rules need."""

    def __init__(self, card: Scorecard, timeline: CallTimeline, metrics: dict, sentiment: dict, redactions,
                 complaint, embedder):
        self.card, self.t, self.metrics, self.sentiment = card, timeline, metrics or {}, sentiment or {}
        self.redactions, self.embedder = list(redactions or []), embedder
        self.complaint = bool(complaint and complaint[0])
        self.segments = sorted(timeline.segments, key=lambda s: (s.start, s.seq))
        self.duration = max([timeline.duration_s or 0.0] + [s.end for s in self.segments])
        self.speakers = {s.speaker for s in self.segments}

    # -- text matching -------------------------------------------------------------------------------------
    def _in_scope(self, seg: Segment, speaker: str | None, within: Within | None) -> bool:
        if speaker and seg.speaker != speaker:
            return False
        if within and within.first_s is not None:
            return seg.start < within.first_s
        if within and within.last_s is not None:
            return seg.end > self.duration - within.last_s
        return True

    def _scoped(self, speaker: str | None, within: Within | None) -> list[Segment]:
        return [s for s in self.segments if self._in_scope(s, speaker, within)]

    def _embed(self, texts: set[str]) -> None:
        todo = sorted((t for t in texts if t not in self.card.vectors), key=len)  # similar lengths pad little
        for i in range(0, len(todo), 64):
            self.card.vectors.update(zip(todo[i:i + 64], self.embedder.encode(todo[i:i + 64])))

    def _similarity(self, texts: list[str], spec: Said) -> float:
        phrases = np.stack([self.card.vectors[_clean(p)] for p in spec.phrases])
        return float((np.stack([self.card.vectors[t] for t in texts]) @ phrases.T).max()) if texts else -1.0

    def _needs_windows(self, seg: Segment, spec: Said) -> bool:
        """Not decided by the segment and its clauses, but near enough that a window of it may match."""
        threshold = spec.threshold or self.card.threshold
        return not self._exact(seg, spec) and threshold - NEAR <= self._similarity(_parts(seg.text), spec) < threshold

    @staticmethod
    def _exact(seg: Segment, spec: Said) -> bool:
        text = f" {_norm(seg.text)} "
        return any(f" {_norm(p)} " in text for p in spec.phrases)

    def prepare(self, specs: list[Said]) -> None:
        """Embed every phrase and text these said specs need, in a few batched calls: phrases, segments and
        clauses first, then windows of words of the segments that came near a phrase."""
        if len(self.card.vectors) > CACHE_SIZE:
            self.card.vectors.clear()
        first = set()
        for spec in specs:
            first.update(_clean(p) for p in spec.phrases)
            first.update(t for seg in self._scoped(spec.speaker, spec.within) for t in _parts(seg.text))
        self._embed(first)
        self._embed({w for spec in specs for seg in self._scoped(spec.speaker, spec.within)
                     if self._needs_windows(seg, spec) for w in _windows(seg.text, _widths(spec.phrases))})

    def said(self, spec: Said) -> list[Segment]:
        """The in-scope segments of the speaker that say one of the phrases, exactly or in other words."""
        threshold = spec.threshold or self.card.threshold
        found = []
        for seg in self._scoped(spec.speaker, spec.within):
            if self._exact(seg, spec):
                found.append(seg)
            elif self._needs_windows(seg, spec):
                if self._similarity(_windows(seg.text, _widths(spec.phrases)), spec) >= threshold:
                    found.append(seg)
            elif self._similarity(_parts(seg.text), spec) >= threshold:
                found.append(seg)
        return found

    # -- matchers ------------------------------------------------------------------------------------------
    def _event_time(self, seq: int, at: float | None) -> float:
        if at is not None:
            return at
        return max((s.end for s in self.segments if s.seq < seq), default=0.0)

    def hits(self, matchers: list[Matcher]) -> list[_Hit]:
        """Where any of the matchers happens, in time order."""
        out: list[_Hit] = []
        for m in matchers:
            if m.event:
                out += [_Hit(e.seq, self._event_time(e.seq, e.at)) for e in self.t.events if e.kind in m.event]
            elif m.said:
                out += [_Hit(s.seq, s.start) for s in self.said(m.said)]
            else:
                for s in self._scoped(m.speaker, m.within):
                    if (m.state and s.state in m.state) or (m.pattern and re.search(m.pattern, s.text, re.IGNORECASE)):
                        out.append(_Hit(s.seq, s.start))
        unique = {(h.seq, h.time): h for h in out}.values()   # a segment two matchers found counts once
        return sorted(unique, key=lambda h: (h.time, h.seq))

    # -- rules ---------------------------------------------------------------------------------------------
    def applies(self, when: When | None) -> bool:
        if when is None:
            return True
        intents = set(self.metrics.get("intents") or []) | {s.intent for s in self.segments if s.intent}
        return ((when.complaint is None or when.complaint == self.complaint)
                and (not when.intent or bool(intents & set(when.intent)))
                and (when.speaker_present is None or when.speaker_present in self.speakers)
                and (not when.event or any(e.kind in when.event for e in self.t.events)))

    def answer(self, rule) -> tuple[str, list[_Hit]]:
        """("yes" | "no" | "na", the hits that decided it)."""
        if isinstance(rule, SaidRule):
            if rule.speaker not in self.speakers:
                return "na", []
            found = [_Hit(s.seq, s.start) for s in self.said(rule)]
            if rule.type == "said":
                return ("yes", found) if found else ("no", [])
            return ("no", found) if found else ("yes", [])
        if isinstance(rule, OrderRule):
            before, first = self.hits(rule.before), self.hits(rule.first)
            if not before:
                return "na", []
            if not first:
                return "no", before
            key = (first[0].time, first[0].seq)
            early = [h for h in before if (h.time, h.seq) < key]
            return ("no", early) if early else ("yes", first[:1])
        if isinstance(rule, OccursRule):
            found = self.hits(rule.match)
            return ("yes", found) if found else ("no", [])
        if isinstance(rule, MetricRule):
            value = self.metrics.get(rule.name)
            if value is None:
                return "na", []
            try:   # a list metric (intents, tasks) passes when one of its items does
                ok = any(OPS[rule.op](v, rule.value) for v in (value if isinstance(value, list) else [value]))
            except TypeError:   # e.g. a word compared with a number: cannot say
                return "na", []
            return ("yes" if ok else "no"), []
        if isinstance(rule, SentimentEndRule):
            return self._sentiment_end(rule)
        if isinstance(rule, NoRedactionRule):
            if rule.speaker and rule.speaker not in self.speakers:
                return "na", []
            bad = [r for r in self.redactions if (not rule.speaker or r.speaker == rule.speaker)
                   and (not rule.kinds or r.kind in rule.kinds)]
            return ("no", [self._redaction_hit(r) for r in bad]) if bad else ("yes", [])
        answers = [self.answer(r) for r in rule.rules]   # AnyRule
        for wanted in ("yes", "no"):
            for answer, hits in answers:
                if answer == wanted:
                    return answer, hits
        return "na", []

    def _sentiment_end(self, rule: SentimentEndRule) -> tuple[str, list[_Hit]]:
        s = self.sentiment.get(rule.speaker) or {}
        quarters = [(i, q) for i, q in enumerate(s.get("quarters") or []) if q is not None]
        if quarters:
            i, value = quarters[-1]
            lo, hi = self.duration * i / 4, self.duration * (i + 1) / 4
            hits = [_Hit(g.seq, g.start) for g in self.segments
                    if g.speaker == rule.speaker and g.end > lo and g.start < hi]
        elif s.get("overall") is not None:
            value, hits = s["overall"], []
        else:
            return "na", []
        return ("yes" if value >= rule.min else "no"), hits

    def _redaction_hit(self, r) -> _Hit:
        """The segment a redaction was cut from: the one of its speaker around its time, or without a time the
        first with its marker ("[PAN]")."""
        own = [s for s in self.segments if s.speaker == r.speaker] or self.segments
        if r.start is None:
            seg = next((s for s in own if f"[{r.kind}]" in s.text), own[0] if own else None)
        else:
            seg = min(own, default=None, key=lambda s: max(s.start - r.start, r.start - s.end, 0.0))
        if seg is None:
            return _Hit(-1, r.start or 0.0)
        return _Hit(seg.seq, seg.start if r.start is None else r.start)


def score(card: Scorecard, timeline: CallTimeline, metrics: dict, sentiment: dict, redactions, complaint,
          embedder) -> ScoreResult:
    """Answer every question of the card for one call and total the weights (see the module docstring)."""
    call = _Call(card, timeline, metrics, sentiment, redactions, complaint, embedder)
    applicable = {q.id for q in card.questions if call.applies(q.when)}
    call.prepare([spec for q in card.questions if q.id in applicable for spec in _said_specs(q.rule)])
    items = []
    for q in card.questions:
        answer, hits = call.answer(q.rule) if q.id in applicable else ("na", [])
        items.append(ItemResult(id=q.id, section=q.section, question=q.question, answer=answer,
                                earned=q.weight if answer == "yes" else 0.0,
                                possible=0.0 if answer == "na" else q.weight, auto_fail=q.auto_fail,
                                evidence=[Evidence(h.seq, round(h.time, 2)) for h in hits]))
    total, auto_failed = total_of(items)
    return ScoreResult(scorecard=card.name, total=total, auto_failed=auto_failed, items=items)


def total_of(items) -> tuple[float | None, bool]:
    """(total, auto_failed) of answered items (anything with answer, earned, possible, auto_fail)."""
    possible = sum(i.possible for i in items)
    auto_failed = any(i.auto_fail and i.answer == "no" for i in items)
    total = None if not possible else 0.0 if auto_failed else round(100 * sum(i.earned for i in items) / possible, 1)
    return total, auto_failed
