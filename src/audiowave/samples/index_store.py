"""The sample index on disk (Parquet shards) and in memory.

One Parquet row per library file: metadata (library, path, pack, name, content hash, duration, kind,
licence) and its :class:`SampleDescriptor` with numpy arrays stored as raw little-endian bytes. A shard
is any ``*.parquet`` file under ``<index>/shards/``; ``<index>/catalog.parquet`` lists the live rows
(content hash per library path), so removed or changed files drop out without rewriting shards.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from audiowave.samples.descriptors import CHUNK, N_CHUNKS, SampleDescriptor
from audiowave.samples.landmarks import LandmarkIndex

SHARDS = "shards"
CATALOG = "catalog.parquet"
METADATA = ("key", "library", "path", "pack", "name", "duration_s", "kind", "licence")


def descriptor_row(meta: dict[str, Any], d: SampleDescriptor) -> dict[str, Any]:
    """A Parquet row for one sample: ``meta`` (see METADATA; ``key`` is the content hash) plus arrays."""
    return {
        **{k: meta[k] for k in METADATA},
        "starts": d.starts.astype("<i4").tobytes(),
        "chunks": d.chunks.astype("<f2").tobytes(),
        "weights": d.weights.astype("<f4").tobytes(),
        "norms": d.norms.astype("<f4").tobytes(),
        "lm_hash": d.lm_hash.astype("<u4").tobytes(),
        "lm_frame": d.lm_frame.astype("<i4").tobytes(),
    }


def row_descriptor(row: dict[str, Any]) -> SampleDescriptor:
    starts = np.frombuffer(row["starts"], "<i4")
    n = starts.size
    return SampleDescriptor(
        starts=starts,
        chunks=np.frombuffer(row["chunks"], "<f2").reshape(n, N_CHUNKS, CHUNK),
        weights=np.frombuffer(row["weights"], "<f4").reshape(n, N_CHUNKS),
        norms=np.frombuffer(row["norms"], "<f4"),
        lm_hash=np.frombuffer(row["lm_hash"], "<u4"),
        lm_frame=np.frombuffer(row["lm_frame"], "<i4"),
        duration_s=float(row["duration_s"]),
    )


def write_shard(rows: list[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def write_catalog(index_dir: Path, live: dict[str, str]) -> None:
    """Record the live rows: library path -> content hash."""
    table = pa.table({"path": list(live), "key": list(live.values())})
    pq.write_table(table, index_dir / CATALOG)


def read_catalog(index_dir: Path) -> dict[str, str]:
    path = index_dir / CATALOG
    if not path.exists():
        return {}
    t = pq.read_table(path).to_pydict()
    return dict(zip(t["path"], t["key"], strict=True))


@dataclass
class IndexEntry:
    meta: dict[str, Any]
    descriptor: SampleDescriptor


@dataclass
class SampleIndex:
    """Live index entries in memory, with the flattened templates and the landmark table."""

    entries: list[IndexEntry]
    template_entry: np.ndarray
    template_start: np.ndarray
    chunks: np.ndarray
    weights: np.ndarray
    norms: np.ndarray
    landmarks: LandmarkIndex

    @classmethod
    def from_entries(cls, entries: list[IndexEntry]) -> SampleIndex:
        ds = [e.descriptor for e in entries]
        counts = [d.starts.size for d in ds]
        return cls(
            entries=entries,
            template_entry=np.repeat(np.arange(len(ds)), counts).astype(np.int32),
            template_start=np.concatenate([d.starts for d in ds]) if ds else np.zeros(0, np.int32),
            chunks=(np.concatenate([d.chunks for d in ds]) if ds else np.zeros((0, N_CHUNKS, CHUNK))).astype(
                np.float32
            ),
            weights=np.concatenate([d.weights for d in ds]) if ds else np.zeros((0, N_CHUNKS), np.float32),
            norms=np.concatenate([d.norms for d in ds]) if ds else np.zeros(0, np.float32),
            landmarks=LandmarkIndex.build([(d.lm_hash, d.lm_frame) for d in ds]),
        )

    @classmethod
    def load(cls, index_dir: str | Path, shards: list[Path] | None = None) -> SampleIndex:
        """Entries of ``shards`` (default: all under ``index_dir``) that the catalogue lists as live."""
        index_dir = Path(index_dir)
        live = read_catalog(index_dir)
        live_pairs = set(live.items())
        entries = []
        for shard in shards if shards is not None else shard_paths(index_dir):
            for row in pq.read_table(shard).to_pylist():
                if (row["path"], row["key"]) in live_pairs:
                    live_pairs.discard((row["path"], row["key"]))
                    entries.append(IndexEntry({k: row[k] for k in METADATA}, row_descriptor(row)))
        entries.sort(key=lambda e: e.meta["path"])
        return cls.from_entries(entries)

    @property
    def nbytes(self) -> int:
        return int(self.chunks.nbytes + self.landmarks.hash.nbytes * 3)


def shard_paths(index_dir: Path) -> list[Path]:
    return sorted((index_dir / SHARDS).rglob("*.parquet"))
