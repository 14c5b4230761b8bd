"""Autoscaling policy for the job runners: replicas follow the Redis queue depth.

Serve's default policy counts HTTP requests in flight, but analysis jobs arrive through the queue,
so each JobRunner replica reports ``queue_depth`` (``record_autoscaling_stats``) and this policy
asks for one replica per ``jobs_per_replica`` jobs waiting or running. Serve applies min/max
replicas and the up/down-scale delays of ``autoscaling_config`` on top.
"""

from __future__ import annotations

import math

from ray.serve.config import AutoscalingContext

JOBS_PER_REPLICA = 2.0


def desired_replicas(queue_depth: float, jobs_per_replica: float = JOBS_PER_REPLICA) -> int:
    return math.ceil(max(queue_depth, 0.0) / jobs_per_replica)


def queue_depth_policy(ctx: AutoscalingContext) -> tuple[int, dict]:
    reports = (ctx.aggregated_metrics or {}).get("queue_depth", {})
    if not reports:  # no replica has reported yet: keep what we have
        return ctx.current_num_replicas, {}
    depth = max(reports.values())  # every replica sees the same shared queue
    target = ctx.config.get_target_ongoing_requests() if ctx.config else JOBS_PER_REPLICA
    return desired_replicas(depth, target), {"queue_depth": depth}
