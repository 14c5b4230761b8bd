"""Load test of the Ray Serve service on this machine: throughput, latency percentiles, scaling.

    python bench/load.py [--clients 1 4 8] [--jobs-per-level 8] [--stages ...]

Starts its own Redis, local Ray (one logical GPU) and the Serve app from serve_config.yaml, then for
each concurrency level runs that many client threads, each submitting the bundled example clip and
waiting for its result, until the level's job count is done. Prints jobs/minute, p50/p95 latency
(submit to done), peak queue depth and the JobRunner replica counts seen (sampled every 0.5 s).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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

from servers import free_port, redis_server  # noqa: E402


def sampler(services: Services, stop: threading.Event, samples: list) -> None:
    while not stop.is_set():
        status = serve.status().applications["audiowave"].deployments["JobRunner"]
        samples.append((time.monotonic(), services.queue.stats()["depth"], sum(status.replica_states.values())))
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--jobs-per-level", type=int, default=8)
    parser.add_argument("--stages", default="separation,rhythm,tonal,structure,loudness,spectral,notes,pitch")
    args = parser.parse_args()
    console = Console(width=120)
    home = Path(tempfile.mkdtemp(prefix="aw-load-"))
    with redis_server() as redis_url:
        cfg = {
            "redis_url": redis_url,
            "database_url": f"sqlite:///{home / 'aw.db'}",
            "storage_url": str(home / "objects"),
            "keyring_file": str(home / "keyring.json"),
            "jwt_secret": "load-" + "z" * 40,
            "max_pending_jobs": 1000,
            "rate_limit": "100000/minute",
            "submit_rate_limit": "100000/minute",
        }
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
            "max queue depth",
            "JobRunner replicas (min-max)",
            title=f"Load: example clip ({args.stages})",
        )

        def one_job(_i: int) -> float:
            client = Client(url, key)
            t0 = time.monotonic()
            job = client.wait(client.submit(EXAMPLE_CLIP, args.stages)["job_id"], poll_s=0.25)
            assert job["status"] == "done", job["error"]
            return time.monotonic() - t0

        for clients in args.clients:
            samples: list = []
            stop = threading.Event()
            watcher = threading.Thread(target=sampler, args=(services, stop, samples), daemon=True)
            watcher.start()
            t0 = time.monotonic()
            with ThreadPoolExecutor(max_workers=clients) as pool:
                latencies = list(pool.map(one_job, range(args.jobs_per_level)))
            wall = time.monotonic() - t0
            stop.set()
            watcher.join()
            depth = max(s[1] for s in samples) if samples else 0
            replicas = [s[2] for s in samples] or [0]
            table.add_row(
                str(clients),
                str(len(latencies)),
                f"{wall:.1f}",
                f"{len(latencies) / wall * 60:.1f}",
                f"{np.percentile(latencies, 50):.1f}",
                f"{np.percentile(latencies, 95):.1f}",
                str(depth),
                f"{min(replicas)}-{max(replicas)}",
            )
            console.print(
                f"{clients} client(s) done in {wall:.1f} s; replica timeline: "
                + " ".join(str(r) for _, _, r in samples[:: max(1, len(samples) // 30)])
            )
        console.print(table)
        stop_app()


if __name__ == "__main__":
    main()
