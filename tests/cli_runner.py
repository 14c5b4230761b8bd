"""Run the real ``audiowave`` command line in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m audiowave ARGS`` with ``env`` added to this process's environment (10 min limit)."""
    return subprocess.run(
        [sys.executable, "-m", "audiowave", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )
