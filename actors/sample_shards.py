"""Sharded sample matching on CPU actors: each :class:`SampleShard` holds one part of the index in memory.

The index is split by content hash (``SampleIndex.load(part=(i, n))``), so a library larger than one
process spreads over ``n`` actors, on as many nodes as the cluster has. A query is sent to every shard
at once (one object in the object store, read by all), and the per-shard answers are merged; the
matcher scores each library sample independently, so the merged answer equals the unsharded one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import ray

from audiowave.samples.identify import BACKEND, FoundSample, LocalSampleMatcher, merge_found
from audiowave.samples.index_store import index_version

# Shard actors are CPU work: keep them off the GPU nodes (labelled so in cluster/), like the CPU deployments.
CPU_POOL = {"audiowave.io/pool": "!gpu"}


@ray.remote(num_cpus=1)
class SampleShard:
    """One part of the index in memory, with its own match cache (keyed by the searched audio's hash)."""

    def __init__(self, index_dir: str, part: int, parts: int) -> None:
        self.matcher = LocalSampleMatcher.load(index_dir, part=(part, parts))

    def find(
        self, sources: list[tuple[str, np.ndarray]], sample_rate: int, threshold: float
    ) -> tuple[list[FoundSample], list[str]]:
        return self.matcher.find(sources, sample_rate, threshold)

    def info(self) -> dict:
        index = self.matcher.index
        return {"entries": len(index.entries), "templates": int(index.chunks.shape[0]), "bytes": index.nbytes}


class ShardedSampleMatcher:
    """The pipeline's SampleMatcher protocol over ``parts`` shard actors."""

    backend = BACKEND

    def __init__(self, index_dir: str | Path, parts: int, cpus_per_shard: float = 1.0) -> None:
        shard = SampleShard.options(num_cpus=cpus_per_shard, label_selector=CPU_POOL)
        self.shards = [shard.remote(str(index_dir), i, parts) for i in range(parts)]
        infos = ray.get([s.info.remote() for s in self.shards])
        self.shard_sizes = [i["entries"] for i in infos]
        self.description = f"{index_dir}: {sum(self.shard_sizes)} samples in {parts} shard actors"
        self.version = index_version(index_dir)

    def find(
        self, sources: list[tuple[str, np.ndarray]], sample_rate: int, threshold: float
    ) -> tuple[list[FoundSample], list[str]]:
        ref = ray.put(sources)
        answers = ray.get([s.find.remote(ref, sample_rate, threshold) for s in self.shards])
        cached = sorted(set.intersection(*(set(c) for _, c in answers))) if answers else []
        return merge_found([found for found, _ in answers]), cached
