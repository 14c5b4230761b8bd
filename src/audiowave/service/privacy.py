"""A user's rights over their data: erasure (GDPR art. 17), export (art. 20) and opt-in contribution.

Erasure deletes every stored object under the user's prefix first, then the rows (jobs, feedback and keys go
by ``ON DELETE CASCADE``), and checks by listing storage that nothing is left. Queued messages of erased jobs
find no row and are acknowledged by the worker without running.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, func, select

from audiowave.service.db import Feedback, Job, User
from audiowave.service.services import Services


@dataclass(frozen=True)
class Erasure:
    user_id: str
    jobs: int
    objects_removed: int
    objects_left: int


def erase_user(services: Services, user_id: str) -> Erasure:
    """Remove every artefact, job, feedback row, key and the account itself."""
    with services.sessions() as session:
        jobs = session.scalar(select(func.count()).select_from(Job).where(Job.user_id == user_id)) or 0
    removed = services.store.delete_prefix(user_id)
    with services.sessions.begin() as session:
        session.execute(delete(User).where(User.id == user_id))
    left = len(services.store.list(user_id))
    return Erasure(user_id, jobs, removed, left)


def account_info(services: Services, user_id: str) -> dict:
    with services.sessions() as session:
        user = session.get(User, user_id)
        jobs = session.scalar(select(func.count()).select_from(Job).where(Job.user_id == user_id)) or 0
        return {
            "user_id": user.id,
            "name": user.name,
            "created_at": user.created_at.isoformat(),
            "contribute_to_library": user.contribute,
            "contribute_since": user.contribute_since.isoformat() if user.contribute_since else None,
            "jobs": jobs,
            "keys": [
                {"prefix": k.prefix, "created_at": k.created_at.isoformat(), "revoked": k.revoked_at is not None}
                for k in user.keys
            ],
        }


def set_consent(services: Services, user_id: str, contribute: bool) -> dict:
    """Opt in to (or out of) contributing future uploads to shared sample libraries."""
    with services.sessions.begin() as session:
        user = session.get(User, user_id)
        if contribute and not user.contribute:
            user.contribute_since = datetime.now(UTC)
        if not contribute:
            user.contribute_since = None
        user.contribute = contribute
    return account_info(services, user_id)


def export_user(services: Services, user_id: str, dest: Path) -> Path:
    """A zip of the account, every job (status, options, result), its feedback and its files, decrypted."""
    with services.sessions() as session:
        jobs = list(session.scalars(select(Job).where(Job.user_id == user_id).order_by(Job.created_at)))
        feedback = list(session.scalars(select(Feedback).where(Feedback.user_id == user_id)))
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as archive, tempfile.TemporaryDirectory() as tmp:
        archive.writestr("account.json", json.dumps(account_info(services, user_id), indent=2))
        for job in jobs:
            base = f"jobs/{job.id}"
            archive.writestr(f"{base}/job.json", json.dumps(_job_record(job), indent=2))
            notes = [_feedback_record(f) for f in feedback if f.job_id == job.id]
            archive.writestr(f"{base}/feedback.json", json.dumps(notes, indent=2))
            files = {f"out/{rel}": key for rel, key in (job.artifacts or {}).items()}
            if job.input_key.startswith(f"{user_id}/{job.id}/"):  # a recipe of a stem points at its analysis' file
                files["input" + Path(job.input_key).suffix] = job.input_key
            for name, key in files.items():
                if services.store.exists(key):
                    local = services.store.get_file(key, Path(tmp) / "object")
                    archive.write(local, f"{base}/files/{name}")
    return dest


def _job_record(job: Job) -> dict:
    fields = ("id", "status", "filename", "priority", "options", "error", "result", "created_at", "finished_at")
    record = {name: getattr(job, name) for name in fields}
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in record.items()}


def _feedback_record(fb: Feedback) -> dict:
    return {
        "field": fb.field,
        "verdict": fb.verdict,
        "value": fb.value,
        "comment": fb.comment,
        "created_at": fb.created_at.isoformat(),
    }


def collect_contributions(services: Services, out_dir: Path) -> list[Path]:
    """Copy (decrypted) the uploads of users who opted in, made since they did, to ``out_dir/<user>/``.

    This is the only path from users' uploads to a shared library (``audiowave index out_dir``): uploads of
    users who did not opt in, or made before they did, are never copied."""
    with services.sessions() as session:
        rows = session.execute(
            select(Job.id, Job.user_id, Job.input_key, Job.filename, Job.options)
            .join(User, User.id == Job.user_id)
            .where(User.contribute.is_(True), Job.created_at >= User.contribute_since)
        ).all()
    copied = []
    for job_id, user_id, key, filename, options in rows:
        uploaded = key.startswith(f"{user_id}/{job_id}/") and not (options or {}).get("kind")
        if not uploaded or not services.store.exists(key):
            continue
        target = out_dir / user_id / f"{job_id}{Path(key).suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as staged:
            services.store.get_file(key, Path(staged.name))
        shutil.move(staged.name, target)
        (target.with_suffix(".json")).write_text(json.dumps({"user": user_id, "job": job_id, "filename": filename}))
        copied.append(target)
    return copied
