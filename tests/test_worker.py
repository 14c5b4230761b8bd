"""Worker semantics: retries with backoff, dead letters, re-delivery after a crash, run-once completion."""

from __future__ import annotations

import time

from sqlalchemy import select

from audiowave.errors import InputError
from audiowave.service.db import Job
from audiowave.service.jobs import JobService

from service_fixtures import fast_analyzer, make_services, new_user, worker_for
from signals import tone


def submit(services, write_wav, name="ada"):
    user, _ = new_user(services, name)
    job = JobService(services).submit(user, "a.wav", write_wav("a.wav", tone(440, 1.0)), ["loudness"], "normal")
    return user, job


def job_row(services, job_id) -> Job:
    with services.sessions() as session:
        return session.get(Job, job_id)


def test_transient_failures_retry_with_backoff_then_dead_letter(tmp_path, clean_redis, write_wav):
    services = make_services(tmp_path, clean_redis, max_attempts=3, retry_base_s=0.1)
    _, job = submit(services, write_wav)
    calls = []

    def flaky(path, stages, observer):
        calls.append(time.monotonic())
        raise RuntimeError("GPU fell off the bus")

    worker = worker_for(services, analyzer=flaky)
    deadline = time.monotonic() + 10
    while job_row(services, job.id).status not in ("dead",) and time.monotonic() < deadline:
        worker.run_once(block_ms=100)
    row = job_row(services, job.id)
    assert row.status == "dead" and row.attempts == 3 and "GPU fell off the bus" in row.error
    assert len(calls) == 3
    assert calls[1] - calls[0] >= 0.1 and calls[2] - calls[1] >= 0.2  # exponential backoff
    dead = services.queue.dead_letters()
    assert dead[0]["job_id"] == job.id and "RuntimeError" in dead[0]["error"]


def test_retry_that_succeeds_finishes_the_job(tmp_path, clean_redis, write_wav):
    services = make_services(tmp_path, clean_redis, retry_base_s=0.05)
    _, job = submit(services, write_wav)
    state = {"n": 0}

    def once_flaky(path, stages, observer):
        state["n"] += 1
        if state["n"] == 1:
            raise ConnectionError("storage hiccup")
        return fast_analyzer(path, stages, observer)

    worker = worker_for(services, analyzer=once_flaky)
    deadline = time.monotonic() + 10
    while job_row(services, job.id).status != "done" and time.monotonic() < deadline:
        worker.run_once(block_ms=100)
    row = job_row(services, job.id)
    assert row.status == "done" and row.attempts == 2 and row.error == ""
    assert services.queue.dead_letters() == []


def test_bad_input_fails_at_once_into_the_dead_letter_queue(tmp_path, clean_redis, write_wav):
    services = make_services(tmp_path, clean_redis)
    _, job = submit(services, write_wav)

    def poison(path, stages, observer):
        raise InputError("a.wav: the audio is silent")

    worker_for(services, analyzer=poison).run_once(block_ms=0)
    row = job_row(services, job.id)
    assert row.status == "failed" and "silent" in row.error and row.attempts == 1
    assert services.queue.dead_letters()[0]["error"].startswith("bad input")


def test_job_of_a_crashed_worker_is_picked_up_and_finishes_once(tmp_path, clean_redis, write_wav):
    services = make_services(tmp_path, clean_redis, claim_idle_s=0.3)
    _, job = submit(services, write_wav)
    crashed = services.queue.claim("crashed-worker", block_ms=0)  # took the job, then died silently
    assert crashed.job_id == job.id
    survivor = worker_for(services, consumer="survivor")
    assert survivor.run_once(block_ms=0) is None  # not stale yet
    time.sleep(0.4)
    assert survivor.run_once(block_ms=0) == job.id
    assert job_row(services, job.id).status == "done"
    # The crashed worker's message was acknowledged by the survivor: nothing is delivered again.
    time.sleep(0.4)
    assert survivor.run_once(block_ms=0) is None


def test_redelivered_job_that_already_finished_is_not_run_again(tmp_path, clean_redis, write_wav):
    services = make_services(tmp_path, clean_redis)
    _, job = submit(services, write_wav)
    runs = []

    def counting(path, stages, observer):
        runs.append(1)
        return fast_analyzer(path, stages, observer)

    worker = worker_for(services, analyzer=counting)
    assert worker.run_once(block_ms=0) == job.id
    services.queue.enqueue(job.id)  # a duplicate delivery (e.g. the ack was lost)
    assert worker.run_once(block_ms=0) == job.id
    assert len(runs) == 1 and job_row(services, job.id).status == "done"


def test_progress_is_visible_while_running(tmp_path, clean_redis, write_wav):
    services = make_services(tmp_path, clean_redis)
    _, job = submit(services, write_wav)
    seen = []

    def watching(path, stages, observer):
        observer.start("loudness")
        seen.append((job_row(services, job.id).status, job_row(services, job.id).stage))
        return fast_analyzer(path, stages, observer)

    worker_for(services, analyzer=watching).run_once(block_ms=0)
    assert seen == [("running", "loudness")]


def test_job_deleted_while_running_leaves_nothing_behind(tmp_path, clean_redis, write_wav):
    services = make_services(tmp_path, clean_redis)
    user, job = submit(services, write_wav)

    def deleting(path, stages, observer):
        analysis = fast_analyzer(path, stages, observer)
        JobService(services).delete(user, job.id)
        return analysis

    worker_for(services, analyzer=deleting).run_once(block_ms=0)
    assert services.store.list(user.id) == []
    with services.sessions() as session:
        assert session.scalars(select(Job)).all() == []


def test_callback_url_is_notified_when_the_job_ends(tmp_path, clean_redis, write_wav):
    from fastapi import FastAPI

    from audiowave.service.api import create_app  # noqa: F401 (the API stores the callback)

    from service_fixtures import live_server

    received = []
    hook = FastAPI()

    @hook.post("/hook")
    def _hook(body: dict) -> dict:
        received.append(body)
        return {}

    services = make_services(tmp_path, clean_redis)
    user, _ = new_user(services, "ada")
    with live_server(hook) as url:
        job = JobService(services).submit(
            user, "a.wav", write_wav("a.wav", tone(440, 1.0)), ["loudness"], "normal", callback_url=f"{url}/hook"
        )
        worker_for(services).run_once(block_ms=0)
    assert received == [{"job_id": job.id, "status": "done"}]
