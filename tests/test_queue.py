"""The Redis Streams job queue against a real Redis server."""

from __future__ import annotations

import time

import pytest
import redis

from audiowave.service.queue import JobQueue


@pytest.fixture
def queue(clean_redis):
    return JobQueue(redis.Redis.from_url(clean_redis), claim_idle_s=0.3)


def test_priorities_are_served_high_first(queue):
    queue.enqueue("low-1", "low")
    queue.enqueue("normal-1", "normal")
    queue.enqueue("high-1", "high")
    order = [queue.claim("w", block_ms=0).job_id for _ in range(3)]
    assert order == ["high-1", "normal-1", "low-1"]
    assert queue.claim("w", block_ms=0) is None


def test_unacknowledged_job_is_redelivered_to_another_worker(queue):
    queue.enqueue("job-1")
    first = queue.claim("dies", block_ms=0)
    assert first.job_id == "job-1" and not first.redelivered
    assert queue.claim("other", block_ms=0) is None  # still owned by the first worker
    time.sleep(0.4)
    second = queue.claim("other", block_ms=0)
    assert second.job_id == "job-1" and second.redelivered
    queue.ack(second)
    time.sleep(0.4)
    assert queue.claim("other", block_ms=0) is None


def test_heartbeat_keeps_a_live_job_from_being_stolen(queue):
    queue.enqueue("job-1")
    d = queue.claim("busy", block_ms=0)
    for _ in range(3):
        time.sleep(0.2)
        queue.heartbeat(d, "busy")
        assert queue.claim("thief", block_ms=0) is None


def test_retry_with_backoff_then_dead_letter(queue):
    queue.enqueue("job-1", "high")
    d = queue.claim("w", block_ms=0)
    queue.retry_later(d, delay_s=0.3)
    assert queue.claim("w", block_ms=0) is None  # not due yet
    assert queue.stats()["delayed"] == 1
    time.sleep(0.35)
    again = queue.claim("w", block_ms=0)
    assert (again.job_id, again.attempt, again.priority) == ("job-1", 2, "high")
    queue.dead_letter(again, "boom")
    dead = queue.dead_letters()
    assert dead[0]["job_id"] == "job-1" and dead[0]["error"] == "boom" and dead[0]["attempts"] == "2"
    assert queue.stats()["depth"] == 0


def test_stats_report_depth_and_age(queue):
    queue.enqueue("a")
    queue.enqueue("b", "low")
    queue.claim("w", block_ms=0)
    time.sleep(0.05)
    stats = queue.stats()
    assert stats["waiting"] == {"high": 0, "normal": 0, "low": 1}
    assert stats["in_progress"]["normal"] == 1
    assert stats["depth"] == 2 and stats["oldest_waiting_s"] > 0.04


def test_blocking_claim_wakes_up_on_enqueue(queue):
    import threading

    threading.Timer(0.2, lambda: queue.enqueue("late")).start()
    t0 = time.monotonic()
    d = queue.claim("w", block_ms=3000)
    assert d.job_id == "late" and time.monotonic() - t0 < 2.0


def test_unknown_priority_is_refused(queue):
    with pytest.raises(ValueError, match="priority"):
        queue.enqueue("x", "urgent")
