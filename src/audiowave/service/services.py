"""The service's shared resources (database, storage, Redis queue, limits, secret) built from settings."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import redis
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from audiowave.report.prose import ProseWriter
from audiowave.service.auth import load_or_create_secret
from audiowave.service.db import make_engine, migrate, session_factory
from audiowave.service.metrics import Metrics
from audiowave.service.queue import JobQueue
from audiowave.service.ratelimit import RateLimiter
from audiowave.service.settings import ServiceSettings
from audiowave.service.storage import ObjectStore


@dataclass
class Services:
    settings: ServiceSettings
    engine: Engine
    sessions: sessionmaker
    store: ObjectStore

    @classmethod
    def from_settings(cls, settings: ServiceSettings, run_migrations: bool = True) -> Services:
        engine = make_engine(settings.resolved_database_url())
        if run_migrations:
            migrate(engine)
        store = ObjectStore(settings.resolved_storage_url(), settings.s3_endpoint_url, keyring=settings.keyring())
        return cls(settings, engine, session_factory(engine), store)

    @cached_property
    def redis(self) -> redis.Redis:
        if not self.settings.redis_url:
            raise ValueError("AUDIOWAVE_REDIS_URL is not set (`audiowave serve` starts a local Redis)")
        return redis.Redis.from_url(self.settings.redis_url, socket_timeout=10, socket_connect_timeout=5)

    @cached_property
    def queue(self) -> JobQueue:
        return JobQueue(self.redis, claim_idle_s=self.settings.claim_idle_s)

    @cached_property
    def metrics(self) -> Metrics:
        return Metrics(self.redis, self)

    @cached_property
    def limiter(self) -> RateLimiter:
        return RateLimiter(self.settings.redis_url)

    @cached_property
    def prose_writer(self) -> ProseWriter | None:
        """The LLM for report prose (``llm_engine``); under Ray Serve the ingress sets its ReportWriter instead."""
        from audiowave.report.engines import load_prose_writer

        return load_prose_writer(self.settings)

    @cached_property
    def jwt_secret(self) -> str:
        return load_or_create_secret(self.settings.jwt_secret, self.settings.home)

    def readiness(self) -> dict[str, str]:
        """'ok' or the error for each dependency."""
        checks: dict[str, str] = {}
        for name, probe in (
            ("database", self._ping_db),
            ("redis", self.redis.ping),
            ("storage", lambda: self.store.list("healthcheck")),
        ):
            try:
                probe()
                checks[name] = "ok"
            except Exception as exc:  # readiness reports any failure, whatever its type
                checks[name] = f"error: {exc}"
        return checks

    def _ping_db(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
