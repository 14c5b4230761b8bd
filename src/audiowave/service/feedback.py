"""User feedback: which fields can be corrected or rated, and the calibration outcomes it yields."""

from __future__ import annotations

import re
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from audiowave.api_models import FEEDBACK_FIELDS
from audiowave.calibration import Outcome, confidence_items
from audiowave.schema import AnalysisResult
from audiowave.service.db import Feedback, Job

FIELD = re.compile(
    r"^(tempo|key|meter|chords|structure|recipe|instrument:[\w .+/-]{1,60}(@[\w-]{1,30})?"
    r"|effect:[a-z_]{1,30}(@[\w-]{1,30})?|sample:.{1,80})$"
)


def check_feedback(field: str, verdict: str, value: dict) -> str | None:
    """The reason a feedback item is invalid, or None."""
    if not FIELD.match(field):
        return f"unknown field {field!r}: use {FEEDBACK_FIELDS}"
    if (verdict == "rating") != (field == "recipe"):
        return "a recipe takes a 'rating' verdict (value {'stars': 1-5}); other fields take correct, wrong or missing"
    if verdict == "rating" and not (isinstance(value.get("stars"), int) and 1 <= value["stars"] <= 5):
        return "a rating needs value {'stars': 1..5}"
    if (
        field == "tempo"
        and "bpm" in value
        and not (isinstance(value["bpm"], int | float) and 20 <= value["bpm"] <= 400)
    ):
        return "a corrected tempo needs value {'bpm': 20..400}"
    return None


def _raw_confidence(result: AnalysisResult, field: str) -> tuple[str, str, float] | None:
    """(kind, label, raw confidence) of the result item the feedback field names."""
    name, _, source = field.partition("@")
    for key, kind, label, holder, attr in confidence_items(result):
        item, _, item_source = key.partition("@")
        if item == name and (not source or source == item_source):
            return kind, label, result.raw_confidences.get(key, getattr(holder, attr))
    return None


def feedback_outcomes(session: Session) -> Iterator[Outcome]:
    """Calibration outcomes from 'correct' / 'wrong' verdicts on items the result reported."""
    rows = session.execute(
        select(Feedback, Job.result)
        .join(Job, Feedback.job_id == Job.id)
        .where(Feedback.verdict.in_(("correct", "wrong")))
    )
    for fb, result in rows:
        if not result or "source" not in result:
            continue
        found = _raw_confidence(AnalysisResult.model_validate(result), fb.field)
        if found is not None:
            kind, label, confidence = found
            yield Outcome(kind, label, float(confidence), fb.verdict == "correct", origin="feedback")


def recipe_ratings(session: Session) -> tuple[int, float | None]:
    """How many recipe ratings users gave, and their mean number of stars."""
    stars = [
        fb.value.get("stars")
        for fb in session.scalars(select(Feedback).where(Feedback.field == "recipe", Feedback.verdict == "rating"))
    ]
    stars = [s for s in stars if isinstance(s, int)]
    return len(stars), (sum(stars) / len(stars) if stars else None)
