"""Schema, migrations and job bookkeeping on both SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select

from audiowave.service.auth import AuthError, issue_token, user_for_key, user_for_token
from audiowave.service.db import Feedback, Job
from audiowave.service.jobs import JobService, NotFound, overall_percent

from service_fixtures import new_user
from signals import tone


def test_migrations_create_every_table(services):
    tables = set(inspect(services.engine).get_table_names())
    assert {"users", "api_keys", "jobs", "feedback", "alembic_version"} <= tables


def test_keys_are_stored_hashed_and_resolve_to_their_user(services):
    user, key = new_user(services, "ada")
    with services.sessions() as session:
        assert user_for_key(session, key).id == user.id
        stored = [k.key_hash for k in user_for_key(session, key).keys]
        assert key not in stored and len(stored[0]) == 64
        with pytest.raises(AuthError):
            user_for_key(session, key + "x")
        token = issue_token(user, "s3cret-s3cret-s3cret-s3cret-s3cret")
        assert user_for_token(session, token, "s3cret-s3cret-s3cret-s3cret-s3cret").id == user.id
        with pytest.raises(AuthError):
            user_for_token(session, token, "other-secret-other-secret-other-secret")


def test_job_lifecycle_and_isolation(services, tmp_path, write_wav):
    ada, _ = new_user(services, "ada")
    bob, _ = new_user(services, "bob")
    jobs = JobService(services)
    job = jobs.submit(ada, "song.wav", write_wav("song.wav", tone(440, 1.0)), ["loudness"], "high")
    assert services.store.exists(job.input_key) and job.input_key.startswith(f"{ada.id}/{job.id}/")
    assert jobs.get(ada, job.id).status == "queued"
    with pytest.raises(NotFound):
        jobs.get(bob, job.id)
    with pytest.raises(NotFound):
        jobs.delete(bob, job.id)
    assert [j.id for j in jobs.list(ada)] == [job.id] and jobs.list(bob) == []
    jobs.add_feedback(ada, job.id, "tempo", "wrong", {"bpm": 128}, "it is faster")
    assert jobs.delete(ada, job.id) == 1
    with services.sessions() as session:
        assert session.get(Job, job.id) is None
        assert session.scalars(select(Feedback)).all() == []  # cascaded
    assert services.store.list(ada.id) == []


def test_overall_percent_is_monotonic_over_stages():
    stages = ["separation", "rhythm", "notes"]
    seq = [overall_percent(s, f, stages) for s in ("download", "decode", *stages, "upload") for f in (0.0, 0.5, 1.0)]
    assert seq == sorted(seq) and seq[0] == 0.0 and seq[-1] == 100.0


def test_retention_sweep_deletes_expired_jobs_and_their_objects(services, write_wav):
    from datetime import UTC, datetime, timedelta

    from audiowave.service.retention import sweep

    ada, _ = new_user(services, "ada")
    jobs = JobService(services)
    old = jobs.submit(ada, "old.wav", write_wav("old.wav", tone(440, 1.0)), [], "normal")
    fresh = jobs.submit(ada, "new.wav", write_wav("new.wav", tone(440, 1.0)), [], "normal")
    with services.sessions.begin() as session:
        session.get(Job, old.id).created_at = datetime.now(UTC) - timedelta(days=8)
    assert sweep(services) == (1, 1)
    assert services.store.list(f"{ada.id}/{old.id}") == [] and services.store.exists(fresh.input_key)
    assert [j.id for j in jobs.list(ada)] == [fresh.id]
