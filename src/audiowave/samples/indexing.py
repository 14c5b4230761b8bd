"""Ray-free parts of library indexing: describe one file, plan an incremental run, record the result."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow.parquet as pq
from sqlalchemy import delete, select

from audiowave.errors import InputError
from audiowave.samples.descriptors import describe
from audiowave.samples.index_store import descriptor_row, shard_paths
from audiowave.samples.library import LibraryFile, content_hash, decode_bytes, read_bytes
from audiowave.service.db import LibrarySample, make_engine, migrate, session_factory

MIN_SAMPLE_S = 0.01


def hash_file(item: dict[str, Any]) -> dict[str, Any]:
    """Row {url, path, size} -> the same row with its content ``key`` (SHA-256)."""
    return {**item, "key": content_hash(read_bytes(item["url"]))}


def describe_file(item: dict[str, Any], library: str, licence: str) -> dict[str, Any]:
    """Index row for one library file, or a row with ``error`` set when it cannot be decoded."""
    data = read_bytes(item["url"])
    name = PurePosixPath(item["path"]).name
    meta = {
        "key": content_hash(data),
        "library": library,
        "path": item["path"],
        "pack": LibraryFile(item["url"], item["path"], item["size"]).pack,
        "name": name,
        "licence": licence,
    }
    try:
        clip = decode_bytes(data, item["path"], MIN_SAMPLE_S)
    except InputError as exc:
        return {**meta, "duration_s": 0.0, "kind": "", "error": str(exc)}
    d = describe(clip.mono, clip.sample_rate)
    return {**descriptor_row({**meta, "duration_s": round(d.duration_s, 4), "kind": d.kind}, d), "error": ""}


@dataclass
class IndexPlan:
    """What an incremental run must do: files to describe, unchanged ones, and removed paths."""

    todo: list[dict[str, Any]]
    unchanged: dict[str, str]
    removed: list[str]
    current: dict[str, str]


def plan(hashed: list[dict[str, Any]], catalog: dict[str, str], index_dir: Path) -> IndexPlan:
    """Skip files whose (path, content hash) is live or already in a shard (a resumed run)."""
    done = set(catalog.items())
    for shard in shard_paths(index_dir):
        t = pq.read_table(shard, columns=["path", "key"]).to_pydict()
        done.update(zip(t["path"], t["key"], strict=True))
    current = {h["path"]: h["key"] for h in hashed}
    todo = [h for h in hashed if (h["path"], h["key"]) not in done]
    unchanged = {p: k for p, k in current.items() if (p, k) in done}
    removed = sorted(set(catalog) - set(current))
    return IndexPlan(todo=todo, unchanged=unchanged, removed=removed, current=current)


def record_in_database(db_url: str, library: str, rows: list[dict[str, Any]], current: dict[str, str]) -> None:
    """Upsert the library's sample metadata and drop rows of files no longer in the library."""
    engine = make_engine(db_url)
    migrate(engine)
    with session_factory(engine)() as s, s.begin():
        s.execute(
            delete(LibrarySample).where(
                LibrarySample.library == library, LibrarySample.path.not_in(list(current) or [""])
            )
        )
        existing = {r.path: r for r in s.scalars(select(LibrarySample).where(LibrarySample.library == library))}
        for row in rows:
            rec = existing.get(row["path"]) or LibrarySample(library=library, path=row["path"])
            rec.pack, rec.name, rec.content_hash = row["pack"], row["name"], row["key"]
            rec.duration_s, rec.kind = row["duration_s"], row["kind"]
            rec.licence, rec.shard = row["licence"], row["shard"]
            s.add(rec)
    engine.dispose()
