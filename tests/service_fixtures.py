"""Fixtures for service tests: real Redis, SQLite and PostgreSQL, local storage, a live HTTP server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import redis
import uvicorn

from audiowave.pipeline import Pipeline
from audiowave.service.api import create_app
from audiowave.service.auth import create_user
from audiowave.service.services import Services
from audiowave.service.settings import ServiceSettings
from audiowave.service.worker import JobWorker

from servers import free_port, postgres_server, redis_server


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture
def s3_credentials(monkeypatch):
    """Credentials for the moto S3 servers the storage tests start."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def clean_redis(redis_url):
    redis.Redis.from_url(redis_url).flushall()
    return redis_url


def make_services(tmp_path, redis_url: str, database_url: str = "", **overrides) -> Services:
    values = {
        "redis_url": redis_url,
        "database_url": database_url or f"sqlite:///{tmp_path / 'aw.db'}",
        "storage_url": str(tmp_path / "objects"),
        "jwt_secret": "test-secret-" + "x" * 32,
    }
    settings = ServiceSettings(**{**values, **overrides})
    return Services.from_settings(settings)


@pytest.fixture(params=["sqlite", "postgresql"])
def services(request, tmp_path, clean_redis) -> Services:
    """Services on each database backend (PostgreSQL: a fresh database per test)."""
    if request.param == "sqlite":
        return make_services(tmp_path, clean_redis)
    import psycopg

    base = request.getfixturevalue("postgres_url")
    name = f"t{time.time_ns()}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return make_services(tmp_path, clean_redis, base.rsplit("/", 1)[0] + f"/{name}")


def new_user(services: Services, name: str):
    with services.sessions.begin() as session:
        user, key = create_user(session, name)
        session.expunge(user)
    return user, key


def fast_analyzer(path, stages, observer):
    """The real pipeline, restricted to its quick stages unless the job asked for others."""
    return Pipeline(stages=stages or ["loudness", "spectral", "structure"]).analyze(path, observer)


def worker_for(services: Services, consumer: str = "w1", analyzer=fast_analyzer) -> JobWorker:
    return JobWorker(services, analyzer, consumer)


@contextmanager
def live_server(app) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yields the base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def api(services) -> Iterator[tuple[Services, httpx.Client]]:
    with live_server(create_app(services)) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield services, client


class BackgroundWorker:
    """A real job worker in a thread, as the service's job runner would be."""

    def __init__(self, services) -> None:
        self.worker, self.stop = worker_for(services), threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stop.is_set():
            self.worker.run_once(block_ms=200)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(30)
