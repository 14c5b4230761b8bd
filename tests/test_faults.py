"""Backing services failing under a running service: object storage (S3 server stopped), the database
(PostgreSQL stopped) and Redis (restarted with append-only persistence). Real servers, real HTTP.

In each case: the API answers 503 with Retry-After (never 500), no job is lost or dead-lettered because of the
outage, and work resumes by itself once the dependency is back, each job completing exactly once.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from moto.server import ThreadedMotoServer

from audiowave.ray_apps.launch import start_redis
from audiowave.service.api import create_app
from audiowave.service.jobs import JobService

from servers import PostgresCluster, free_port
from service_fixtures import live_server, make_services, new_user, worker_for
from signals import EXAMPLE

FAST = {"retry_base_s": 0.05, "claim_idle_s": 1.0, "max_attempts": 2}


def submit(url: str, key: str) -> httpx.Response:
    files = {"file": ("take.flac", EXAMPLE.read_bytes())}
    return httpx.post(
        f"{url}/v1/analyze", headers={"X-API-Key": key}, files=files, data={"stages": "loudness"}, timeout=60
    )


def drain(worker, rounds: int = 40) -> list[str]:
    """Run the worker until the queue stays empty (retries are due within a second); returns processed ids."""
    seen = []
    for _ in range(rounds):
        got = worker.run_once(block_ms=200)
        if got is None and worker.s.queue.stats()["depth"] == 0:
            break
        if got:
            seen.append(got)
    return seen


def unavailable(response: httpx.Response) -> bool:
    return response.status_code == 503 and response.headers.get("retry-after") == "5"


def test_storage_outage_is_waited_out_without_losing_or_dead_lettering_jobs(tmp_path, clean_redis, s3_credentials):
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    moto.start()
    endpoint = f"http://127.0.0.1:{port}"
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="audiowave")
    services = make_services(
        tmp_path, clean_redis, storage_url="s3://audiowave/objects", s3_endpoint_url=endpoint, **FAST
    )
    user, key = new_user(services, "ada")
    job = JobService(services).submit(user, "take.flac", EXAMPLE, ["loudness"], "normal")
    with live_server(create_app(services)) as url:
        moto.stop()  # storage goes away with a job queued
        try:
            worker = worker_for(services)
            for _ in range(4):  # more tries than max_attempts: an outage does not count
                worker.run_once(block_ms=0)
                time.sleep(0.3)
            waiting = JobService(services).get(user, job.id)
            assert waiting.status == "retrying" and waiting.error.startswith("waiting: storage unavailable")
            assert services.queue.stats()["dead"] == 0
            assert unavailable(submit(url, key))
            assert httpx.get(f"{url}/readyz").json()["checks"]["storage"].startswith("error")
        finally:
            moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
            moto.start()
        try:
            assert drain(worker) and JobService(services).get(user, job.id).status == "done"
            assert submit(url, key).status_code == 202
        finally:
            moto.stop()


def test_database_outage_answers_503_and_jobs_resume_when_it_returns(tmp_path, clean_redis):
    pg = PostgresCluster()
    pg.start()
    try:
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE aw")
        services = make_services(tmp_path, clean_redis, pg.url.rsplit("/", 1)[0] + "/aw", **FAST)
        user, key = new_user(services, "ada")
        job = JobService(services).submit(user, "take.flac", EXAMPLE, ["loudness"], "normal")
        worker = worker_for(services)
        with live_server(create_app(services)) as url:
            pg.stop()
            assert unavailable(httpx.get(f"{url}/v1/analyze", headers={"X-API-Key": key}))
            assert unavailable(submit(url, key))
            with pytest.raises(Exception, match="connection"):  # the job runner's loop logs it and goes on
                worker.run_once(block_ms=0)
            pg.start()
            time.sleep(FAST["claim_idle_s"] + 0.2)  # the claimed message is re-delivered after claim_idle_s
            assert drain(worker) == [job.id]
            done = httpx.get(f"{url}/v1/analyze/{job.id}", headers={"X-API-Key": key}).json()
            assert done["status"] == "done" and done["attempts"] == 1
    finally:
        pg.remove()


@contextmanager
def redis_on(directory: Path, port: int):
    proc, url = start_redis(directory, appendonly=True, port=port)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def test_redis_restart_keeps_queued_and_claimed_jobs(tmp_path):
    port, data = free_port(), tmp_path / "redis"
    with redis_on(data, port) as redis_url:
        services = make_services(tmp_path, redis_url, **FAST)
        user, key = new_user(services, "ada")
        jobs = [JobService(services).submit(user, "take.flac", EXAMPLE, ["loudness"], "normal") for _ in range(3)]
        claimed = services.queue.claim("crashed-worker", 0)  # a worker took one, then Redis went down
    with live_server(create_app(services)) as url:
        assert unavailable(httpx.get(f"{url}/v1/analyze", headers={"X-API-Key": key}))
        assert unavailable(submit(url, key))
        with redis_on(data, port):  # back, from its append-only file
            assert services.queue.stats()["depth"] == 3
            time.sleep(FAST["claim_idle_s"] + 0.2)
            processed = drain(worker_for(services))
            assert sorted(processed) == sorted(j.id for j in jobs) and claimed.job_id in processed
            for job in jobs:
                assert JobService(services).get(user, job.id).status == "done"
            assert services.queue.stats()["depth"] == 0 and services.queue.stats()["dead"] == 0
