"""The sample index on disk (Parquet shards) and in memory.

One Parquet row per library file: metadata (library, path, pack, name, content hash, duration, kind,
licence) and its :class:`SampleDescriptor` with numpy arrays stored as raw little-endian bytes. A shard
is any ``*.parquet`` file under ``<index>/shards/<descriptor version>/``; ``<index>/catalog.parquet`` lists
the live rows (content hash per library path), so removed or changed files drop out without rewriting
shards. The catalogue records the descriptor version it was built with: an index from another version is
read as empty, and the next indexing run describes every file again (and drops the old shards).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from audiowave.samples.candidates import CandidateIndex
from audiowave.samples.descriptors import CHUNK, DESCRIPTOR_VERSION, N_CHUNKS, SampleDescriptor
from audiowave.samples.landmarks import LandmarkIndex
from audiowave.samples.timbre import BANDS, spectrograms

SHARDS = "shards"
CATALOG = "catalog.parquet"
SOURCES = "sources.json"
METADATA = ("key", "library", "path", "pack", "name", "duration_s", "kind", "licence")
ARRAYS = ("starts", "chunks", "weights", "norms", "lm_hash", "lm_frame")
ROW_SCHEMA = pa.schema(
    [(k, pa.float64() if k == "duration_s" else pa.string()) for k in METADATA]
    + [(k, pa.binary()) for k in ARRAYS]
    + [("error", pa.string())]
)


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


def write_catalog(index_dir: Path, live: dict[str, str]) -> None:
    """Record the live rows (library path -> content hash) and the descriptor version that described them."""
    table = pa.table({"path": list(live), "key": list(live.values())})
    pq.write_table(table.replace_schema_metadata({"descriptor_version": DESCRIPTOR_VERSION}), index_dir / CATALOG)


def catalog_version(index_dir: Path) -> str | None:
    """The descriptor version of the index at ``index_dir`` ('' for an index older than versions), or None."""
    path = index_dir / CATALOG
    if not path.exists():
        return None
    return (pq.read_schema(path).metadata or {}).get(b"descriptor_version", b"").decode()


def read_catalog(index_dir: Path) -> dict[str, str]:
    """Live rows, or none where the catalogue is missing or from another descriptor version."""
    if catalog_version(index_dir) != DESCRIPTOR_VERSION:
        return {}
    t = pq.read_table(index_dir / CATALOG).to_pydict()
    return dict(zip(t["path"], t["key"], strict=True))


def write_source(index_dir: Path, library: str, root_url: str) -> None:
    """Remember where the indexed library lives (one library per index), so matches can read samples back."""
    (index_dir / SOURCES).write_text(json.dumps({library: root_url.rstrip("/")}, indent=1))


def read_sources(index_dir: str | Path) -> dict[str, str]:
    """Library name -> root URL of its files."""
    path = Path(index_dir) / SOURCES
    return json.loads(path.read_text()) if path.exists() else {}


def index_version(index_dir: str | Path, part: tuple[int, int] | None = None) -> str:
    """Names the live catalogue, the descriptor version and the part: changes whenever matches could."""
    catalog = sorted(read_catalog(Path(index_dir)).items())
    return hashlib.sha256(json.dumps([DESCRIPTOR_VERSION, part, catalog]).encode()).hexdigest()[:16]


def in_part(key: str, part: tuple[int, int] | None) -> bool:
    """Whether the sample with content hash ``key`` belongs to shard ``part`` = (i, n)."""
    return part is None or int(key[:8], 16) % part[1] == part[0]


@dataclass
class IndexEntry:
    meta: dict[str, Any]
    descriptor: SampleDescriptor


@dataclass
class SampleIndex:
    """Live index entries in memory, with the flattened templates (float16, as stored) and the landmark table."""

    entries: list[IndexEntry]
    template_entry: np.ndarray
    template_start: np.ndarray
    chunks: np.ndarray
    weights: np.ndarray
    norms: np.ndarray
    landmarks: LandmarkIndex
    version: str = ""

    @classmethod
    def from_entries(cls, entries: list[IndexEntry]) -> SampleIndex:
        ds = [e.descriptor for e in entries]
        counts = [d.starts.size for d in ds]
        return cls(
            entries=entries,
            template_entry=np.repeat(np.arange(len(ds)), counts).astype(np.int32),
            template_start=np.concatenate([d.starts for d in ds]) if ds else np.zeros(0, np.int32),
            chunks=(np.concatenate([d.chunks for d in ds]) if ds else np.zeros((0, N_CHUNKS, CHUNK))).astype(
                np.float16
            ),
            weights=np.concatenate([d.weights for d in ds]) if ds else np.zeros((0, N_CHUNKS), np.float32),
            norms=np.concatenate([d.norms for d in ds]) if ds else np.zeros(0, np.float32),
            landmarks=LandmarkIndex.build([(d.lm_hash, d.lm_frame) for d in ds]),
        )

    @classmethod
    def load(cls, index_dir: str | Path, part: tuple[int, int] | None = None) -> SampleIndex:
        """The live entries under ``index_dir``; with ``part`` = (i, n) only shard i of n (by content hash).

        ``version`` names the catalogue, descriptor version and part, so cached matches follow the index."""
        entries = [
            IndexEntry({k: row[k] for k in METADATA}, row_descriptor(row))
            for row in live_rows(index_dir)
            if in_part(row["key"], part)
        ]
        entries.sort(key=lambda e: (e.meta["library"], e.meta["path"]))
        index = cls.from_entries(entries)
        index.version = index_version(index_dir, part)
        return index

    def relative_chunks(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Template chunks at their levels within each template (the unit chunks times their weights), of ``rows``
        (all templates by default)."""
        if rows is None:
            return self.chunks * self.weights[:, :, None]
        return self.chunks[rows] * self.weights[rows][:, :, None]

    @cached_property
    def candidates(self) -> CandidateIndex:
        """The candidate stage's summary of every template (built on first use, then kept)."""
        return CandidateIndex.of(self.relative_chunks, self.chunks.shape[0])

    @cached_property
    def timbres(self) -> tuple[np.ndarray, np.ndarray]:
        """Entries that have templates and their semitone spectrograms (:mod:`timbre`) from their first template,
        built on first use (in batches, to bound memory), then kept."""
        if not self.template_entry.size:
            return np.zeros(0, np.int32), np.zeros((0, N_CHUNKS, BANDS), np.float32)
        first = np.flatnonzero(np.r_[True, np.diff(self.template_entry) != 0])
        batches = [spectrograms(self.relative_chunks(rows)) for rows in np.array_split(first, -(-len(first) // 2048))]
        return self.template_entry[first], np.concatenate(batches)

    @property
    def nbytes(self) -> int:
        return int(self.chunks.nbytes + self.landmarks.hash.nbytes * 3)


def shards_dir(index_dir: Path) -> Path:
    """Where shards of the current descriptor version live."""
    return index_dir / SHARDS / DESCRIPTOR_VERSION


def shard_paths(index_dir: Path) -> list[Path]:
    return sorted(shards_dir(index_dir).rglob("*.parquet"))


def drop_other_versions(index_dir: Path) -> None:
    """Delete shards written by other descriptor versions (after a run has described everything again)."""
    for path in (index_dir / SHARDS).iterdir() if (index_dir / SHARDS).exists() else []:
        if path.name != DESCRIPTOR_VERSION:
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def live_rows(index_dir: str | Path, columns: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """Shard rows the catalogue lists as live, each (path, content hash) once (a resumed run may repeat one)."""
    index_dir = Path(index_dir)
    pending = set(read_catalog(index_dir).items())
    for shard in shard_paths(index_dir):
        for row in pq.read_table(shard, columns=columns).to_pylist():
            if (row["path"], row["key"]) in pending:
                pending.discard((row["path"], row["key"]))
                yield row
