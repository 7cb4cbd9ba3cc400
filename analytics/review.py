"""QA review of a scored call: a reviewer changes a question's answer with a comment; the automated answer is kept
(score_items), every change is kept (score_reviews), and the reviewed score is recomputed (analyses.qa_score)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import IvrError
from models import Analysis, ScoreItem, ScoreReview, utcnow

from .scorecard import load_scorecard, total_of

ANSWERS = ("yes", "no", "na")
MAX_COMMENT = 2000


@dataclass
class Answered:
    """One question as it stands after reviews."""
    item: str
    answer: str
    earned: float
    possible: float
    auto_fail: bool
    automated: str
    reviewed: bool


def _weights(scorecard: str | None, items: list[ScoreItem]) -> dict[str, float]:
    """Each question's weight: from the scorecard file, else what the automated answer could earn."""
    weights = {i.item: i.possible for i in items}
    try:
        card = load_scorecard(scorecard) if scorecard else None
    except IvrError:
        card = None
    if card is not None:
        weights.update({q.id: float(q.weight) for q in card.questions})
    return weights


def _latest(s: Session, call_id: int) -> dict[str, ScoreReview]:
    rows = s.scalars(select(ScoreReview).where(ScoreReview.call_id == call_id).order_by(ScoreReview.id))
    return {r.item: r for r in rows}


def answered(s: Session, job: Analysis) -> list[Answered]:
    """The call's questions with the newest review of each applied."""
    items = s.scalars(select(ScoreItem).where(ScoreItem.call_id == job.call_id).order_by(ScoreItem.id)).all()
    weights, latest = _weights(job.scorecard, items), _latest(s, job.call_id)
    out = []
    for i in items:
        answer = latest[i.item].answer if i.item in latest else i.answer
        weight = weights.get(i.item, i.possible)
        out.append(Answered(i.item, answer, weight if answer == "yes" else 0.0, 0.0 if answer == "na" else weight,
                            i.auto_fail, i.answer, i.item in latest and answer != i.answer))
    return out


def apply_reviews(s: Session, job: Analysis) -> None:
    """Recompute the reviewed score from the automated answers and the newest review of each question."""
    items = answered(s, job)
    job.qa_score, job.qa_auto_failed = total_of(items) if items else (job.score, job.auto_failed)
    job.reviewed = any(i.reviewed for i in items)


def review(s: Session, call_id: int, item: str, answer: str, comment: str, user_name: str) -> ScoreReview:
    """Store one reviewer's answer (inside the caller's transaction) and recompute the reviewed score."""
    answer = (answer or "").strip().lower()
    comment = (comment or "").strip()
    if answer not in ANSWERS:
        raise IvrError(f"answer must be one of {', '.join(ANSWERS)}, not {answer!r}")
    if not comment:
        raise IvrError("a review needs a comment saying why")
    if len(comment) > MAX_COMMENT:
        raise IvrError(f"the comment is longer than {MAX_COMMENT} characters")
    job = s.scalar(select(Analysis).where(Analysis.call_id == call_id))
    if job is None or job.status != "done" or job.scorecard is None:
        raise IvrError(f"call {call_id} has no score to review yet")
    current = {a.item: a.answer for a in answered(s, job)}
    if item not in current:
        raise IvrError(f"the scorecard of call {call_id} has no question {item!r}")
    row = ScoreReview(call_id=call_id, item=item, answer=answer, previous_answer=current[item], comment=comment,
                      user_name=user_name, at=utcnow())
    s.add(row)
    s.flush()
    apply_reviews(s, job)
    return row


def history(s: Session, call_id: int) -> list[dict]:
    """Every review of the call, oldest first."""
    rows = s.scalars(select(ScoreReview).where(ScoreReview.call_id == call_id).order_by(ScoreReview.id))
    return [{"item": r.item, "answer": r.answer, "previous_answer": r.previous_answer, "comment": r.comment,
             "user": r.user_name, "at": r.at.isoformat(timespec="seconds") + "Z"} for r in rows]
