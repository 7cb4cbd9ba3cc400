"""Hot issues, frequent needs and complaint focus: key phrases of what customers said, complaint detection
with a subject, and topics ranked across calls with paraphrases clustered (like Contact Lens themes).

Words live in config/topics/<language>.yaml. Sentence similarity uses the repo's MiniLM `embedding.Embedder`
(L2-normalised vectors, so a dot product is a cosine); one batched encode per call, and the cue, neutral and
subject vectors are encoded once per embedder."""
from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from config import CONFIG_DIR, IvrError, load_yaml

from .timeline import CallTimeline

CUSTOMER = "caller"   # on imported calls the customer's channel is stored as the caller too
REDACTED = re.compile(r"\[[A-Z][A-Z_]*\]")   # redaction tokens: [PAN], [PIN], [SSN] ...
SENTENCE = re.compile(r"(?<=[.!?;])\s+")

_vectors: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # embedder -> {language: vectors}


@dataclass
class Lexicon:
    """One language's topic words (config/topics/<language>.yaml)."""
    language: str
    spaces: bool                      # words are separated by spaces (False for Chinese)
    fillers: list[str]
    ignored_intents: set[str]
    words: list[str]                  # complaint words: a complaint on their own
    cues: list[str]                   # complaint sentences matched by paraphrase
    neutral: list[str]                # ordinary requests the cues must beat
    paraphrase: float
    margin: float
    negative_sentiment: float
    negative_paraphrase: float
    subjects: dict[str, list[str]]    # subject label -> examples
    subject_threshold: float
    _filler_rx: re.Pattern | None = field(default=None, repr=False)
    _word_rx: re.Pattern | None = field(default=None, repr=False)

    def phrase_rx(self, phrases: list[str]) -> re.Pattern | None:
        """Any of `phrases` as whole words (longest first); plain substrings without spaces."""
        if not phrases:
            return None
        alts = "|".join(re.escape(p.lower()) for p in sorted(phrases, key=len, reverse=True))
        return re.compile(rf"(?<![\w'])(?:{alts})(?![\w'])" if self.spaces else f"(?:{alts})")

    def strip_fillers(self, text: str) -> str:
        return self._filler_rx.sub(" ", text.lower()) if self._filler_rx else text.lower()

    def has_complaint_word(self, text: str) -> bool:
        return bool(self._word_rx and self._word_rx.search(text.lower().replace("-", " ")))


@lru_cache(maxsize=8)
def lexicon(language: str = "en") -> Lexicon:
    path = CONFIG_DIR / "topics" / f"{language}.yaml"
    if not path.is_file():
        raise IvrError(f"{path}: no topic words for language {language!r}")
    y = load_yaml(path, "topic words") or {}
    c, s = y.get("complaint") or {}, y.get("subjects") or {}
    try:
        lex = Lexicon(
            language=language, spaces=bool(y.get("spaces", True)), fillers=[str(w) for w in y.get("fillers", [])],
            ignored_intents={str(i) for i in y.get("ignored_intents", [])},
            words=[str(w) for w in c.get("words", [])], cues=[str(w) for w in c.get("cues", [])],
            neutral=[str(w) for w in c.get("neutral", [])], paraphrase=float(c.get("paraphrase", 0.45)),
            margin=float(c.get("margin", 0.05)), negative_sentiment=float(c.get("negative_sentiment", -2)),
            negative_paraphrase=float(c.get("negative_paraphrase", 0.35)),
            subjects={str(k): [str(k)] + [str(e) for e in v or []] for k, v in (s.get("examples") or {}).items()},
            subject_threshold=float(s.get("threshold", 0.4)))
    except (AttributeError, TypeError, ValueError) as err:
        raise IvrError(f"{path}: malformed topic words ({err})") from None
    lex._filler_rx, lex._word_rx = lex.phrase_rx(lex.fillers), lex.phrase_rx(lex.words)
    return lex


def _lexicon_vectors(embedder, lex: Lexicon) -> dict[str, np.ndarray]:
    """Cue, neutral and subject-example vectors of one language, encoded once per embedder."""
    per_lang = _vectors.setdefault(embedder, {})
    if lex.language not in per_lang:
        examples = [e for ex in lex.subjects.values() for e in ex]
        texts = lex.cues + lex.neutral + examples
        vecs = embedder.encode(texts) if texts else np.zeros((0, 1), np.float32)
        a, b = len(lex.cues), len(lex.cues) + len(lex.neutral)
        owner = np.array([i for i, ex in enumerate(lex.subjects.values()) for _ in ex], dtype=int)
        per_lang[lex.language] = {"cues": vecs[:a], "neutral": vecs[a:b], "subjects": vecs[b:], "owner": owner}
    return per_lang[lex.language]


def key_phrases(text: str, language: str = "en", top: int = 5) -> list[str]:
    """Key phrases of what the customer said (yake, 1-3-word n-grams, deduplicated), lowercased, best first.
    Redaction tokens like [PAN] and the YAML's fillers never become phrases. Chinese (zh): yake does not
    segment Chinese, so snownlp's TextRank keywords (single words of two or more characters) are used."""
    lex = lexicon(language)
    clean = lex.strip_fillers(REDACTED.sub(" . ", text))
    if not re.search(r"\w", clean):
        return []
    if language == "zh":
        from snownlp import SnowNLP

        words = [w for w in SnowNLP(clean).keywords(top * 3) if len(w) >= 2 and REDACTED.search(w) is None]
        return list(dict.fromkeys(words))[:top]
    import yake

    found = yake.KeywordExtractor(lan=language, n=3, dedup_lim=0.7, top=top * 3).extract_keywords(clean)
    phrases = [" ".join(p.lower().split()) for p, _ in found]
    kept: list[str] = []
    for p in phrases:   # best first; drop numbers and words already inside a better phrase
        if re.search(r"[a-z]", p) and not re.search(r"\d", p) and not any(set(p.split()) <= set(k.split()) for k in kept):
            kept.append(p)
    return kept[:top]


def _customer_sentences(timeline: CallTimeline) -> list[tuple[str, float]]:
    """(sentence, sentiment of its turn) for every customer sentence, redaction tokens removed."""
    out = []
    for seg in timeline.segments:
        if seg.speaker != CUSTOMER:
            continue
        for sent in SENTENCE.split(REDACTED.sub(" ", seg.text)):
            if re.search(r"\w", sent):
                out.append((" ".join(sent.split()), seg.sentiment if seg.sentiment is not None else 0.0))
    return out


def detect_complaint(timeline: CallTimeline, embedder) -> tuple[bool, str | None]:
    """Complaint flag and subject. A customer sentence is a complaint when it holds a complaint word, or is a
    paraphrase of a complaint cue (cosine >= paraphrase, beating every neutral request by margin), or - in a turn
    with sentiment <= negative_sentiment - loosely matches a cue (>= negative_paraphrase, beating the neutral
    requests). Subject: the YAML subject closest to the complaint sentences if >= its threshold, else their top
    key phrase."""
    lex = lexicon(timeline.language)
    sentences = _customer_sentences(timeline)
    if not sentences:
        return False, None
    mat, vecs = None, {}
    if lex.cues or lex.subjects:   # one batched encode of the call's sentences
        vecs, mat = _lexicon_vectors(embedder, lex), embedder.encode([s for s, _ in sentences])
    complaints = []
    for i, (text, sentiment) in enumerate(sentences):
        hit = lex.has_complaint_word(text)
        if not hit and mat is not None and len(vecs["cues"]):
            cue = float((vecs["cues"] @ mat[i]).max())
            neutral = float((vecs["neutral"] @ mat[i]).max()) if len(vecs["neutral"]) else -1.0
            hit = (cue >= lex.paraphrase and cue - neutral >= lex.margin) or (
                sentiment <= lex.negative_sentiment and cue >= lex.negative_paraphrase and cue > neutral)
        if hit:
            complaints.append(i)
    if not complaints:
        return False, None
    if mat is not None and len(vecs["subjects"]):
        sims = (mat[complaints] @ vecs["subjects"].T).max(axis=0)
        best = int(sims.argmax())
        if sims[best] >= lex.subject_threshold:
            return True, list(lex.subjects)[vecs["owner"][best]]
    phrases = key_phrases(" . ".join(sentences[i][0] for i in complaints), lex.language, top=1)
    return True, phrases[0] if phrases else None


def call_topics(timeline: CallTimeline, embedder) -> dict:
    """{"intents": distinct customer intents in order (dialog-control ones left out),
        "phrases": key_phrases(customer text), "complaint": {"flag": bool, "subject": str | None}}"""
    lex = lexicon(timeline.language)
    intents = [s.intent for s in timeline.segments
               if s.speaker == CUSTOMER and s.intent and s.intent not in lex.ignored_intents]
    flag, subject = detect_complaint(timeline, embedder)
    return {"intents": list(dict.fromkeys(intents)),
            "phrases": key_phrases(timeline.text_of(CUSTOMER), timeline.language),
            "complaint": {"flag": flag, "subject": subject}}


@dataclass
class TopicRank:
    topic: str            # the cluster's representative label (its most frequent member)
    kind: str             # "intent" | "phrase" | "complaint"
    count: int            # calls in the current period mentioning it
    previous: int         # calls in the previous period
    change: float | None  # (count - previous) / previous, None when previous == 0
    members: list[str]    # paraphrases clustered into it, most frequent first


def _labels(topics: dict, kind: str) -> set[str]:
    if kind == "intent":
        return set(topics.get("intents") or [])
    if kind == "phrase":
        return set(topics.get("phrases") or [])
    c = topics.get("complaint") or {}
    return {c["subject"]} if c.get("flag") and c.get("subject") else set()


def _cluster(labels: list[str], vecs: np.ndarray, threshold: float) -> list[list[int]]:
    """Greedy clustering of labels sorted most frequent first: each joins the cluster whose first (most
    frequent) member is closest, if cosine >= threshold, else starts a cluster. Deterministic."""
    clusters: list[list[int]] = []
    for i in range(len(labels)):
        if clusters:
            sims = vecs[[c[0] for c in clusters]] @ vecs[i]
            best = int(sims.argmax())
            if sims[best] >= threshold:
                clusters[best].append(i)
                continue
        clusters.append([i])
    return clusters


def rank_topics(current: list[dict], previous: list[dict], embedder, threshold: float = 0.75) -> list[TopicRank]:
    """Rank topics of one period against the previous one. Each list holds call_topics() dicts. Phrases and
    complaint subjects are clustered by paraphrase (cosine >= threshold) across both periods together, so
    "card declined" / "my card was declined" count as one topic; intents count as themselves. A call counts
    once per topic. Sorted by count desc, then change desc (a new topic, change None, first), then topic."""
    periods = [[{k: _labels(t, k) for k in ("intent", "phrase", "complaint")} for t in p] for p in (current, previous)]
    kinds = {}
    for kind in ("intent", "phrase", "complaint"):
        freq: dict[str, int] = {}
        for calls in periods:
            for call in calls:
                for label in call[kind]:
                    freq[label] = freq.get(label, 0) + 1
        kinds[kind] = sorted(freq, key=lambda s: (-freq[s], len(s), s))
    to_embed = list(dict.fromkeys(kinds["phrase"] + kinds["complaint"]))
    vec = dict(zip(to_embed, embedder.encode(to_embed))) if to_embed else {}

    ranks = []
    for kind, labels in kinds.items():
        if kind == "intent" or not labels:
            clusters = [[i] for i in range(len(labels))]
        else:
            clusters = _cluster(labels, np.stack([vec[s] for s in labels]), threshold)
        for members in clusters:
            names = {labels[i] for i in members}
            count, prev = (sum(1 for call in calls if call[kind] & names) for calls in periods)
            ranks.append(TopicRank(topic=labels[members[0]], kind=kind, count=count, previous=prev,
                                   change=(count - prev) / prev if prev else None,
                                   members=[labels[i] for i in members]))
    ranks.sort(key=lambda r: (-r.count, -(r.change if r.change is not None else float("inf")), r.topic, r.kind))
    return ranks
