"""Redis Streams job queue: priorities, delayed retries with backoff, dead letters, re-delivery.

Why Redis Streams and not Ray Serve's task consumer: the latter runs on Celery, which ``ray[serve]``
does not install, and it does not give per-job priorities. Streams with a consumer group give
at-least-once delivery: a message stays *pending* until acknowledged, and one whose worker died is
re-claimed (XAUTOCLAIM) after ``claim_idle_s``. Workers make completion idempotent in the database,
so a re-delivered job that already finished is acknowledged without running twice.

Keys (prefix ``aw``): ``aw:jobs:<priority>`` streams, ``aw:jobs:delayed`` (sorted set of retries by
due time), ``aw:jobs:dead`` (dead-letter stream with the error).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import redis

PRIORITIES = ("high", "normal", "low")
GROUP = "workers"


@dataclass
class Delivery:
    """One claimed message."""

    stream: str
    message_id: str
    job_id: str
    priority: str
    attempt: int
    redelivered: bool = False


class JobQueue:
    def __init__(self, client: redis.Redis, prefix: str = "aw", claim_idle_s: float = 60.0) -> None:
        self.r = client
        self.prefix = prefix
        self.claim_idle_ms = int(claim_idle_s * 1000)
        self.delayed_key = f"{prefix}:jobs:delayed"
        self.dead_key = f"{prefix}:jobs:dead"
        self.ensure_groups()

    def stream(self, priority: str) -> str:
        return f"{self.prefix}:jobs:{priority}"

    def ensure_groups(self) -> None:
        for p in PRIORITIES:
            try:
                self.r.xgroup_create(self.stream(p), GROUP, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def enqueue(self, job_id: str, priority: str = "normal", attempt: int = 1) -> str:
        if priority not in PRIORITIES:
            raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}")
        fields = {"job_id": job_id, "priority": priority, "attempt": str(attempt)}
        return self.r.xadd(self.stream(priority), fields)

    def promote_due(self, now: float | None = None) -> int:
        """Move retries whose backoff has expired back into their priority stream."""
        now = time.time() if now is None else now
        moved = 0
        for member in self.r.zrangebyscore(self.delayed_key, 0, now):
            if self.r.zrem(self.delayed_key, member):  # only the worker that removes it re-enqueues it
                item = json.loads(member)
                self.enqueue(item["job_id"], item["priority"], item["attempt"])
                moved += 1
        return moved

    def claim(self, consumer: str, block_ms: int = 1000) -> Delivery | None:
        """Next message for ``consumer``: stale deliveries first, then by priority, else wait ``block_ms``."""
        self.promote_due()
        for p in PRIORITIES:
            _, claimed, _ = self.r.xautoclaim(self.stream(p), GROUP, consumer, self.claim_idle_ms, "0-0", count=1)
            if claimed:
                return self._delivery(self.stream(p), claimed[0], redelivered=True)
        for p in PRIORITIES:
            got = self.r.xreadgroup(GROUP, consumer, {self.stream(p): ">"}, count=1)
            if got:
                return self._delivery(self.stream(p), got[0][1][0])
        if block_ms <= 0:
            return None
        got = self.r.xreadgroup(GROUP, consumer, {self.stream(p): ">" for p in PRIORITIES}, count=1, block=block_ms)
        if got:
            stream, messages = got[0]
            return self._delivery(stream, messages[0])
        return None

    @staticmethod
    def _delivery(stream, message, redelivered: bool = False) -> Delivery:
        message_id, fields = message
        fields = {_text(k): _text(v) for k, v in fields.items()}
        return Delivery(
            stream=_text(stream),
            message_id=_text(message_id),
            job_id=fields["job_id"],
            priority=fields["priority"],
            attempt=int(fields["attempt"]),
            redelivered=redelivered,
        )

    def ack(self, d: Delivery) -> None:
        pipe = self.r.pipeline()
        pipe.xack(d.stream, GROUP, d.message_id)
        pipe.xdel(d.stream, d.message_id)
        pipe.execute()

    def heartbeat(self, d: Delivery, consumer: str) -> None:
        """Reset the idle time of a long-running delivery so it is not re-claimed while alive."""
        self.r.xclaim(d.stream, GROUP, consumer, 0, [d.message_id], justid=True)

    def retry_later(self, d: Delivery, delay_s: float, same_attempt: bool = False) -> None:
        """Move the job to the delayed set, due in ``delay_s``, as its next attempt (or the same one again)."""
        attempt = d.attempt if same_attempt else d.attempt + 1
        item = json.dumps({"job_id": d.job_id, "priority": d.priority, "attempt": attempt})
        pipe = self.r.pipeline()
        pipe.zadd(self.delayed_key, {item: time.time() + delay_s})
        pipe.xack(d.stream, GROUP, d.message_id)
        pipe.xdel(d.stream, d.message_id)
        pipe.execute()

    def dead_letter(self, d: Delivery, error: str) -> None:
        pipe = self.r.pipeline()
        pipe.xadd(
            self.dead_key,
            {
                "job_id": d.job_id,
                "priority": d.priority,
                "attempts": str(d.attempt),
                "error": error[:2000],
                "at": str(time.time()),
            },
        )
        pipe.xack(d.stream, GROUP, d.message_id)
        pipe.xdel(d.stream, d.message_id)
        pipe.execute()

    def dead_letters(self) -> list[dict]:
        return [{_text(k): _text(v) for k, v in fields.items()} for _, fields in self.r.xrange(self.dead_key)]

    def stats(self) -> dict:
        """Queue depth per priority (waiting + in progress), delayed retries, dead letters, oldest age."""
        out: dict = {
            "waiting": {},
            "in_progress": {},
            "delayed": self.r.zcard(self.delayed_key),
            "dead": self.r.xlen(self.dead_key),
            "oldest_waiting_s": 0.0,
        }
        now_ms = time.time() * 1000
        for p in PRIORITIES:
            entries = self.r.xlen(self.stream(p))
            pending = self.r.xpending(self.stream(p), GROUP)["pending"]
            out["waiting"][p] = max(entries - pending, 0)
            out["in_progress"][p] = pending
            if entries:
                first_id = _text(self.r.xrange(self.stream(p), count=1)[0][0])
                out["oldest_waiting_s"] = max(out["oldest_waiting_s"], (now_ms - int(first_id.split("-")[0])) / 1000)
        out["depth"] = sum(out["waiting"].values()) + sum(out["in_progress"].values()) + out["delayed"]
        return out


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
