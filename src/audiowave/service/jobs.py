"""Job lifecycle on the database, storage and queue: submit, read, list, delete, feedback."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from audiowave.pipeline import STAGES
from audiowave.service.db import Feedback, Job, User
from audiowave.service.services import Services

# Share of the work per stage, for a job's overall percent.
STAGE_WEIGHTS = {
    "download": 2,
    "decode": 1,
    "separation": 30,
    "rhythm": 10,
    "tonal": 8,
    "structure": 2,
    "loudness": 3,
    "spectral": 2,
    "notes": 15,
    "pitch": 15,
    "tagging": 8,
    "upload": 4,
}
FINAL = {"done", "failed", "dead"}


class NotFound(Exception):
    """The job does not exist or belongs to someone else (the two are indistinguishable by design)."""


def overall_percent(stage: str, fraction: float, stages: list[str]) -> float:
    order = ["download", "decode", *[s for s in STAGES if s in stages], "upload"]
    total = sum(STAGE_WEIGHTS.get(s, 1) for s in order)
    done = sum(STAGE_WEIGHTS.get(s, 1) for s in order[: order.index(stage)]) if stage in order else 0
    return round(100.0 * (done + STAGE_WEIGHTS.get(stage, 1) * min(max(fraction, 0.0), 1.0)) / total, 1)


def input_key(user_id: str, job_id: str, filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    suffix = suffix if suffix.isascii() and suffix[1:].isalnum() and len(suffix) <= 6 else ".bin"
    return f"{user_id}/{job_id}/input{suffix}"


class JobService:
    def __init__(self, services: Services) -> None:
        self.s = services

    def submit(
        self,
        user: User,
        filename: str,
        local: Path,
        stages: list[str],
        priority: str,
        callback_url: str = "",
        options: dict | None = None,
    ) -> Job:
        """Store the upload and queue the job (an analysis of ``stages``, or what ``options['kind']`` says)."""
        with self.s.sessions.begin() as session:
            job = Job(
                user_id=user.id,
                filename=filename[:300],
                priority=priority,
                callback_url=callback_url,
                options=options or {"stages": stages},
                input_key="",
            )
            session.add(job)
            session.flush()
            job.input_key = self.s.store.put_file(input_key(user.id, job.id, filename), local)
        self.s.queue.enqueue(job.id, priority)
        return job

    def submit_stored(self, user: User, filename: str, key: str, options: dict, priority: str) -> Job:
        """Queue a job on an object already stored for this user (e.g. a stem of an earlier analysis)."""
        with self.s.sessions.begin() as session:
            job = Job(user_id=user.id, filename=filename[:300], priority=priority, options=options, input_key=key)
            session.add(job)
        self.s.queue.enqueue(job.id, priority)
        return job

    def get(self, user: User, job_id: str) -> Job:
        with self.s.sessions() as session:
            job = session.get(Job, job_id)
            if job is None or job.user_id != user.id:
                raise NotFound(job_id)
            return job

    def list(self, user: User, limit: int = 100, offset: int = 0, kind: str = "") -> list[Job]:
        """The user's jobs, newest first, a page at a time; ``kind`` 'analysis' or 'recipe' filters."""
        query = select(Job).where(Job.user_id == user.id)
        recipe = Job.options["kind"].as_string() == "suggest"
        if kind == "recipe":
            query = query.where(recipe)
        elif kind == "analysis":
            query = query.where(or_(Job.options["kind"].as_string().is_(None), ~recipe))
        with self.s.sessions() as session:
            return list(session.scalars(query.order_by(Job.created_at.desc(), Job.id).offset(offset).limit(limit)))

    def delete(self, user: User, job_id: str) -> int:
        """Remove the job's row, feedback and every stored object; returns the number of objects removed."""
        job = self.get(user, job_id)
        removed = self.s.store.delete_prefix(f"{user.id}/{job.id}")
        with self.s.sessions.begin() as session:
            session.delete(session.get(Job, job.id))  # feedback rows go by ON DELETE CASCADE
        return removed

    def add_feedback(self, user: User, job_id: str, field: str, verdict: str, value: dict, comment: str) -> Feedback:
        self.get(user, job_id)
        with self.s.sessions.begin() as session:
            fb = Feedback(job_id=job_id, user_id=user.id, field=field, verdict=verdict, value=value, comment=comment)
            session.add(fb)
        return fb


def set_progress(session: Session, job_id: str, **values) -> bool:
    """Update a job unless it is final or gone; returns whether a row changed."""
    values["updated_at"] = datetime.now(UTC)
    res = session.execute(update(Job).where(Job.id == job_id, Job.status.not_in(FINAL)).values(**values))
    return res.rowcount > 0
