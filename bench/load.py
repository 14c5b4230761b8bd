"""Load test of the Ray Serve service on this machine: throughput, latency percentiles, queue depth and the
autoscaler's decisions over time, as a table and a picture.

    python bench/load.py [--clients 1 4 8] [--jobs-per-level 8] [--stages ...] [--out bench-out]

Starts its own Redis, local Ray (one logical GPU) and the Serve app from serve_config.yaml, then for each
concurrency level runs that many client threads (the SDK, as users would), each submitting the bundled example
clip and waiting for its result, until the level's job count is done. Every 0.5 s it samples the queue depth
and each deployment's replicas (running, and starting = the autoscaler's latest decision not yet in place).
Prints one row per level and writes ``load.png`` (throughput, latency, queue depth, replicas over time) and
``load.json`` (the raw series) under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from ray import serve
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from audiowave.cli import EXAMPLE_CLIP  # noqa: E402
from audiowave.client import Client  # noqa: E402
from audiowave.ray_apps.launch import read_serve_config, start_app, stop_app  # noqa: E402
from audiowave.service.auth import create_user  # noqa: E402
from audiowave.service.services import Services  # noqa: E402
from audiowave.service.settings import ServiceSettings  # noqa: E402

from servers import free_port, redis_server, service_args  # noqa: E402

WATCHED = ("JobRunner", "Ingress")


def sample(services: Services, t0: float) -> dict:
    """Queue depth and, per watched deployment, running and starting replicas, now."""
    deployments = serve.status().applications["audiowave"].deployments
    row: dict = {"t": round(time.monotonic() - t0, 2), "depth": services.queue.stats()["depth"]}
    for name in WATCHED:
        states = {str(k).rsplit(".", 1)[-1].upper(): v for k, v in deployments[name].replica_states.items()}
        row[name] = {"running": states.get("RUNNING", 0), "starting": states.get("STARTING", 0)}
    return row


def sampler(services: Services, t0: float, stop: threading.Event, series: list) -> None:
    while not stop.is_set():
        series.append(sample(services, t0))
        time.sleep(0.5)


def draw(series: list[dict], finished: list[tuple[float, float, int]], path: Path) -> None:
    """Four aligned panels over time: completions per 10 s, latency of each job, queue depth, replicas."""
    t = np.array([s["t"] for s in series])
    fig, axes = plt.subplots(4, 1, figsize=(10, 10), sharex=True)
    done_at = np.array([f[0] for f in finished])
    bins = np.arange(0, (t.max() if len(t) else 10) + 10, 10)
    axes[0].hist(done_at, bins=bins, color="tab:green")
    axes[0].set_ylabel("jobs done / 10 s")
    for clients in sorted({f[2] for f in finished}):
        pts = [(a, lat) for a, lat, c in finished if c == clients]
        axes[1].scatter([p[0] for p in pts], [p[1] for p in pts], s=12, label=f"{clients} client(s)")
    axes[1].set_ylabel("latency s (submit→done)")
    axes[1].legend(loc="upper left", fontsize=8)
    axes[2].plot(t, [s["depth"] for s in series], color="tab:red")
    axes[2].set_ylabel("queue depth")
    for name, colour in zip(WATCHED, ("tab:blue", "tab:gray"), strict=True):
        running = [s[name]["running"] for s in series]
        target = [s[name]["running"] + s[name]["starting"] for s in series]
        axes[3].step(t, target, where="post", color=colour, linestyle="--", label=f"{name} target")
        axes[3].step(t, running, where="post", color=colour, label=f"{name} running")
    axes[3].set_ylabel("replicas")
    axes[3].set_xlabel("seconds since start")
    axes[3].legend(loc="upper left", fontsize=8)
    fig.suptitle("Audiowave load test: throughput, latency, queue depth and autoscaling")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--jobs-per-level", type=int, default=8)
    parser.add_argument("--stages", default="rhythm,tonal,structure,loudness,spectral,forensics")
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    console = Console(width=120)
    home = Path(tempfile.mkdtemp(prefix="aw-load-"))
    with redis_server() as redis_url:
        cfg = service_args(
            home, redis_url, max_pending_jobs=1000, rate_limit="100000/minute", submit_rate_limit="100000/minute"
        )
        url = start_app(
            cfg, read_serve_config(), free_port(), num_gpus=1, num_cpus=8, env={"AUDIOWAVE_HOME": str(home)}
        )
        services = Services.from_settings(ServiceSettings(**cfg))
        with services.sessions.begin() as session:
            _, key = create_user(session, "load")
        table = Table(
            "clients",
            "jobs",
            "wall s",
            "jobs/min",
            "p50 s",
            "p95 s",
            "p99 s",
            "max queue depth",
            "JobRunner replicas (min-max)",
            title=f"Load: example clip, 8.5 s ({args.stages}), SDK clients",
        )
        t0 = time.monotonic()
        series: list[dict] = []
        finished: list[tuple[float, float, int]] = []
        stop = threading.Event()
        watcher = threading.Thread(target=sampler, args=(services, t0, stop, series), daemon=True)
        watcher.start()

        def one_job(clients: int) -> float:
            with Client(url, key) as client:
                started = time.monotonic()
                job = client.wait(client.analyze(EXAMPLE_CLIP, stages=args.stages).job_id, poll_s=0.25)
                if job.status != "done":
                    raise RuntimeError(f"job {job.job_id} {job.status}: {job.error}")
                latency = time.monotonic() - started
                finished.append((time.monotonic() - t0, latency, clients))
                return latency

        for clients in args.clients:
            first = len(series)
            level_start = time.monotonic()
            with ThreadPoolExecutor(max_workers=clients) as pool:
                latencies = list(pool.map(lambda _i, c=clients: one_job(c), range(args.jobs_per_level)))
            wall = time.monotonic() - level_start
            window = series[first:] or series[-1:]
            replicas = [s["JobRunner"]["running"] for s in window] or [0]
            table.add_row(
                str(clients),
                str(len(latencies)),
                f"{wall:.1f}",
                f"{len(latencies) / wall * 60:.1f}",
                *(f"{np.percentile(latencies, q):.1f}" for q in (50, 95, 99)),
                str(max(s["depth"] for s in window)),
                f"{min(replicas)}-{max(replicas)}",
            )
        time.sleep(2.0)
        stop.set()
        watcher.join()
        console.print(table)
        draw(series, finished, args.out / "load.png")
        (args.out / "load.json").write_text(json.dumps({"series": series, "finished": finished}, indent=1))
        console.print(f"picture: {args.out / 'load.png'}; series: {args.out / 'load.json'}")
        stop_app()


if __name__ == "__main__":
    main()
