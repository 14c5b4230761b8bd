"""Retention: delete jobs (rows, feedback, stored objects) older than ``retention_days``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from audiowave.service.db import Job
from audiowave.service.services import Services


def sweep(services: Services, now: datetime | None = None) -> tuple[int, int]:
    """Remove expired jobs; returns (jobs deleted, objects deleted)."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=services.settings.retention_days)
    with services.sessions() as session:
        expired = [(j.id, j.user_id) for j in session.scalars(select(Job).where(Job.created_at < cutoff))]
    objects = 0
    for job_id, user_id in expired:
        objects += services.store.delete_prefix(f"{user_id}/{job_id}")
        with services.sessions.begin() as session:
            job = session.get(Job, job_id)
            if job is not None:
                session.delete(job)
    return len(expired), objects
