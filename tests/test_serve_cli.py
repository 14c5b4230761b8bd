"""`audiowave serve` + `audiowave submit` as a new user runs them: two real processes, real HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from servers import free_port
from signals import EXAMPLE

pytestmark = pytest.mark.ray


def test_serve_then_submit_from_the_cli(tmp_path):
    port = free_port()
    env = {**os.environ, "AUDIOWAVE_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"}
    env.pop("AUDIOWAVE_REDIS_URL", None)
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "audiowave", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while "API key of user 'local'" not in (tmp_path / "serve.log").read_text():
            assert server.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "audiowave serve did not come up"
            time.sleep(1)
        assert (tmp_path / "home" / "api_key").read_text().startswith("aw_")
        out = tmp_path / "results"

        def submit(*extra: str) -> subprocess.CompletedProcess:
            cmd = [sys.executable, "-m", "audiowave", "submit", str(EXAMPLE), "--url", f"http://127.0.0.1:{port}"]
            return subprocess.run([*cmd, *extra], env=env, capture_output=True, text=True, timeout=300)

        proc = submit("--stages", "rhythm,tonal", "--out", str(out))
        assert proc.returncode == 0, proc.stderr[-2000:]
        result = json.loads((out / "example" / "result.json").read_text())
        assert result["key"]["label"] == "A minor" and abs(result["tempo_bpm"] - 120) < 2
        bad = submit("--key", "aw_wrong")
        assert bad.returncode == 1 and "invalid or revoked API key" in bad.stderr
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()
