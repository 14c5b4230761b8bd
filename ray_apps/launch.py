"""``audiowave serve``: everything on one machine — Redis (if none configured), local Ray, the Serve app."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import ray
import redis
import yaml
from ray import serve
from sqlalchemy import select

from audiowave import jit_cache
from audiowave.service.auth import create_user
from audiowave.service.db import User
from audiowave.service.services import Services
from audiowave.service.settings import ServiceSettings

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "serve_config.yaml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(directory: Path, appendonly: bool = True, port: int | None = None) -> tuple[subprocess.Popen, str]:
    """A private redis-server on a loopback port (free unless given; append-only persistence under ``directory``)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(
            "redis-server not found: install it (apt-get install redis-server) "
            "or set AUDIOWAVE_REDIS_URL to an existing Redis"
        )
    directory.mkdir(parents=True, exist_ok=True)
    port = port or _free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(directory),
            "--appendonly",
            "yes" if appendonly else "no",
            "--save",
            "",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(200):
        try:
            redis.Redis.from_url(url).ping()
            return proc, url
        except redis.ConnectionError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("the local redis-server did not start")


def read_serve_config(path: Path | None = None) -> dict:
    """The first application of serve_config.yaml ({name, args, deployments}); defaults if absent."""
    path = path or DEFAULT_CONFIG
    if not path.exists():
        return {"name": "audiowave", "args": {}, "deployments": []}
    return yaml.safe_load(path.read_text())["applications"][0]


def start_app(
    service_args: dict,
    app_config: dict,
    port: int,
    host: str = "127.0.0.1",
    num_gpus: float = 1.0,
    num_cpus: int | None = None,
    env: dict[str, str] | None = None,
) -> str:
    """Start local Ray (declaring ``num_gpus``) and the Serve app; returns its base URL. If the app fails to
    start, Ray is shut down before the error propagates."""
    from audiowave.ray_apps.app import build_app

    jit_cache.ensure()  # before the replicas import librosa side by side (see audiowave.jit_cache)
    ray.init(
        num_cpus=num_cpus or max(os.cpu_count() or 1, 4),
        num_gpus=num_gpus,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": env or {}},
    )
    try:
        serve.start(http_options={"host": host, "port": port})
        args = {**(app_config.get("args") or {}), **service_args}
        serve.run(build_app(args, app_config.get("deployments")), name=app_config["name"], route_prefix="/")
    except BaseException:
        stop_app()  # a half-started app must not leave Ray running (later drivers would join it)
        raise
    return f"http://{host}:{port}"


def stop_app() -> None:
    if ray.is_initialized():
        serve.shutdown()
        ray.shutdown()


def local_api_key(services: Services) -> str:
    """The key of the 'local' user, created (and saved with mode 600) on first start."""
    path = services.settings.home / "api_key"
    with services.sessions.begin() as session:
        exists = session.scalar(select(User).where(User.name == "local")) is not None
        if not exists:
            _, key = create_user(session, "local")
            path.write_text(key)
            path.chmod(0o600)
    return path.read_text().strip() if path.exists() else ""


def serve_locally(host: str, port: int, config_path: Path | None, logical_gpus: float, announce) -> None:
    """Start Redis (unless configured), Ray and the app; block until interrupted."""
    settings = ServiceSettings()
    redis_proc = None
    if not settings.redis_url:
        redis_proc, url = start_redis(settings.home / "redis")
        os.environ["AUDIOWAVE_REDIS_URL"] = url
        settings = ServiceSettings()
    import torch

    gpus = torch.cuda.device_count() or logical_gpus
    env = {k: v for k, v in os.environ.items() if k.startswith("AUDIOWAVE_")}
    try:
        url = start_app({}, read_serve_config(config_path), port, host, gpus, env=env)
        announce(url, local_api_key(Services.from_settings(settings)), settings, gpus)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stop_app()
        if redis_proc is not None:
            redis_proc.terminate()
