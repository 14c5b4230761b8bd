"""Prometheus metrics kept in Redis, so that every process of the service (ingress replicas, job runners on
other nodes) adds to the same counters and any of them can serve ``GET /metrics`` for the whole service.

prometheus_client's own registry is per process, and a scrape through Ray Serve's proxy would reach one
replica at random; Redis is already the service's shared state (one pipelined HINCRBYFLOAT per event).
Gauges (queue depth and age, dead letters, jobs by status) are read at scrape time from Redis and SQL.
Replica counts and CPU/GPU use come from Ray's own exporter (``ray_serve_*``, ``ray_node_*``).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from sqlalchemy import func, select

from audiowave.service.db import Job

if TYPE_CHECKING:
    from audiowave.service.services import Services

log = logging.getLogger("audiowave.metrics")
KEY = "aw:metrics"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
JOB_BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
COST_BUCKETS = (0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1)


@dataclass(frozen=True)
class Spec:
    kind: str  # counter | histogram
    doc: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = ()


SPECS = {
    "audiowave_http_requests": Spec("counter", "HTTP requests answered", ("endpoint", "method", "status")),
    "audiowave_http_request_duration_seconds": Spec(
        "histogram", "HTTP request latency", ("endpoint", "method"), LATENCY_BUCKETS
    ),
    "audiowave_jobs_finished": Spec("counter", "Jobs ended, by kind and final status", ("kind", "status")),
    "audiowave_job_retries": Spec("counter", "Job attempts that failed and were scheduled again", ("kind",)),
    "audiowave_job_processing_seconds": Spec(
        "histogram", "Run time of a finished job (claim to result)", ("kind",), JOB_BUCKETS
    ),
    "audiowave_job_wait_seconds": Spec("histogram", "Queue wait (submit to first claim)", ("kind",), JOB_BUCKETS),
    "audiowave_stage_seconds": Spec("histogram", "Time per pipeline stage", ("stage",), JOB_BUCKETS),
    "audiowave_job_cost_dollars": Spec("histogram", "Estimated compute cost per finished job", ("kind",), COST_BUCKETS),
    "audiowave_cost_dollars": Spec("counter", "Estimated compute cost of all jobs", ("kind",)),
}


class Metrics:
    """Records events into Redis and collects them (plus live gauges) for Prometheus."""

    def __init__(self, client: redis.Redis, services: Services | None = None) -> None:
        self.r, self.services = client, services  # services: for the gauges read at scrape time

    def inc(self, name: str, labels: dict[str, str], amount: float = 1.0) -> None:
        self._write([(_field(name, labels, "total"), amount)])

    def observe(self, name: str, labels: dict[str, str], value: float) -> None:
        spec = SPECS[name]
        index = next((i for i, le in enumerate(spec.buckets) if value <= le), len(spec.buckets))
        self._write(
            [
                (_field(name, labels, f"b{index}"), 1.0),
                (_field(name, labels, "sum"), value),
                (_field(name, labels, "count"), 1.0),
            ]
        )

    def _write(self, increments: list[tuple[str, float]]) -> None:
        """Best effort: a metrics write never fails the request or job that it describes."""
        try:
            pipe = self.r.pipeline(transaction=False)
            for field, amount in increments:
                pipe.hincrbyfloat(KEY, field, amount)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("metrics not recorded: %s", exc)

    def collect(self) -> Iterator[Metric]:
        """The recorded families, then the gauges read now (the prometheus_client Collector protocol)."""
        raw = {k.decode() if isinstance(k, bytes) else k: float(v) for k, v in self.r.hgetall(KEY).items()}
        series: dict[str, dict[tuple, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
        for field, value in raw.items():
            name, labels, part = json.loads(field)
            if name in SPECS:
                series[name][tuple(labels.get(k, "") for k in SPECS[name].labels)][part] = value
        for name, spec in SPECS.items():
            if spec.kind == "counter":
                family = CounterMetricFamily(name, spec.doc, labels=spec.labels)
                for values, parts in sorted(series[name].items()):
                    family.add_metric(values, parts.get("total", 0.0))
            else:
                family = HistogramMetricFamily(name, spec.doc, labels=spec.labels)
                for values, parts in sorted(series[name].items()):
                    running, buckets = 0.0, []
                    for i, le in enumerate((*spec.buckets, float("inf"))):
                        running += parts.get(f"b{i}", 0.0)
                        buckets.append(("+Inf" if le == float("inf") else repr(le), running))
                    family.add_metric(values, buckets, parts.get("sum", 0.0))
            yield family
        yield from self._gauges()

    def _gauges(self) -> Iterator[Metric]:
        if self.services is None:
            return
        stats = self.services.queue.stats()
        depth = GaugeMetricFamily(
            "audiowave_queue_depth", "Jobs waiting or running, by priority", labels=("state", "priority")
        )
        for state in ("waiting", "in_progress"):
            for priority, n in stats[state].items():
                depth.add_metric((state, priority), n)
        depth.add_metric(("delayed_retry", "any"), stats["delayed"])
        yield depth
        yield GaugeMetricFamily(
            "audiowave_queue_pending", "All jobs not yet finished in the queue", value=stats["depth"]
        )
        yield GaugeMetricFamily(
            "audiowave_queue_oldest_age_seconds", "Age of the oldest waiting job", value=stats["oldest_waiting_s"]
        )
        yield GaugeMetricFamily("audiowave_dead_letters", "Messages in the dead-letter stream", value=stats["dead"])
        by_status = GaugeMetricFamily("audiowave_jobs", "Jobs in the database by status", labels=("status",))
        with self.services.sessions() as session:
            for status, n in session.execute(select(Job.status, func.count()).group_by(Job.status)):
                by_status.add_metric((status,), n)
        yield by_status


def _field(name: str, labels: dict[str, str], part: str) -> str:
    return json.dumps([name, labels, part], sort_keys=True, separators=(",", ":"))


# GPU fraction each model deployment holds (serve_config.yaml): their stages' time is billed at that share.
GPU_SHARE = {"separation": 0.5, "tagging": 0.25}


def job_cost(run_seconds: float, stage_seconds: dict[str, float], cpu_hour: float, gpu_hour: float) -> float:
    """Estimated cost of one job: one runner CPU for its run time plus the GPU share of its model stages."""
    gpu_seconds = sum(stage_seconds.get(stage, 0.0) * share for stage, share in GPU_SHARE.items())
    return (run_seconds * cpu_hour + gpu_seconds * gpu_hour) / 3600
