"""Ray Data job that indexes a sample library (`audiowave index`, or `ray job submit -- python -m ...`).

Stages: list files on the driver (fsspec) -> hash contents (Ray tasks) -> plan the incremental run ->
describe new/changed files in an autoscaling actor pool -> write Parquet shards -> update the catalogue
and the database. On a multi-node cluster the same code runs unchanged: ``ray.init()`` joins the cluster
named by ``RAY_ADDRESS`` and the actor pool spreads over its nodes (sources must then be shared storage,
e.g. ``s3://``).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import ray

from audiowave import jit_cache
from audiowave.samples.index_store import (
    ROW_SCHEMA,
    drop_other_versions,
    live_rows,
    read_catalog,
    shards_dir,
    write_catalog,
    write_source,
)
from audiowave.samples.indexing import describe_file, hash_file, plan, record_in_database
from audiowave.samples.library import list_library


class Describer:
    """Actor: turns batches of file rows into index rows (decode + templates + landmark hashes)."""

    def __init__(self, library: str, licence: str) -> None:
        self.library, self.licence = library, licence

    def __call__(self, batch: pa.Table) -> pa.Table:
        """Rows with an explicit Arrow schema: array bytes stay ``binary`` (pandas object columns would be
        pickled by Ray Data)."""
        rows = [describe_file(r, self.library, self.licence) for r in batch.to_pylist()]
        return pa.Table.from_pylist(rows, schema=ROW_SCHEMA)


@dataclass
class IndexReport:
    files: int
    described: int
    unchanged: int
    removed: int
    failed: list[dict[str, str]]
    audio_hours: float
    seconds: float
    shard_dir: str


def run_index(
    source: str,
    index_dir: str | Path,
    library: str | None = None,
    licence: str = "",
    db_url: str | None = None,
    workers: int | None = None,
) -> IndexReport:
    """Index ``source`` into ``index_dir`` incrementally; record metadata in ``db_url`` when given."""
    t0 = time.perf_counter()
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    library = library or source.rstrip("/").rsplit("/", 1)[-1]
    files = list_library(source)
    if not ray.is_initialized():
        jit_cache.ensure()  # before the describers import librosa side by side (see audiowave.jit_cache)
        ray.init(ignore_reinit_error=True, log_to_driver=False)
    workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    items = [{"url": f.url, "path": f.path, "size": f.size} for f in files]
    hashed = ray.data.from_items(items).map(hash_file).take_all() if items else []
    catalog = read_catalog(index_dir)
    work = plan(hashed, catalog, index_dir)
    failed: list[dict[str, str]] = []
    new_rows: list[dict[str, Any]] = []
    run_dir = shards_dir(index_dir) / datetime.now(UTC).strftime("run-%Y%m%dT%H%M%S%f")
    if work.todo:
        described = (
            ray.data.from_items(work.todo)
            .map_batches(
                Describer,
                fn_constructor_kwargs={"library": library, "licence": licence},
                batch_size=4,
                batch_format="pyarrow",
                compute=ray.data.ActorPoolStrategy(min_size=1, max_size=workers),
                num_cpus=1,
            )
            .materialize()
        )
        failed = described.filter(expr="error != ''").select_columns(["path", "error"]).take_all()
        good = described.filter(expr="error == ''").drop_columns(["error"])
        if good.count():
            good.write_parquet(str(run_dir))
            for shard in sorted(run_dir.glob("*.parquet")):
                cols = ["key", "path", "pack", "name", "duration_s", "kind", "licence"]
                for row in pq.read_table(shard, columns=cols).to_pylist():
                    new_rows.append({**row, "shard": str(shard.relative_to(index_dir))})
    bad = {f["path"] for f in failed}
    live = {p: k for p, k in work.current.items() if p not in bad}
    write_catalog(index_dir, live)
    drop_other_versions(index_dir)
    write_source(index_dir, library, files[0].url[: -len(files[0].path)] if files else source)
    if db_url:
        record_in_database(db_url, library, new_rows, live)
    hours = _live_hours(index_dir)
    return IndexReport(
        files=len(files),
        described=len(new_rows),
        unchanged=len(work.unchanged),
        removed=len(work.removed),
        failed=failed,
        audio_hours=hours,
        seconds=time.perf_counter() - t0,
        shard_dir=str(run_dir),
    )


def _live_hours(index_dir: Path) -> float:
    return sum(row["duration_s"] for row in live_rows(index_dir, ["path", "key", "duration_s"])) / 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("index_dir")
    parser.add_argument("--library")
    parser.add_argument("--licence", default="")
    parser.add_argument("--db-url")
    args = parser.parse_args()
    report = run_index(args.source, args.index_dir, args.library, args.licence, args.db_url)
    print(json.dumps(asdict(report), indent=2))


if __name__ == "__main__":
    main()
