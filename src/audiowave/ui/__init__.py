"""The web UI: ``app`` (the Streamlit script, a client of the HTTP service) and ``views`` (what it shows)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP = Path(__file__).resolve().parent / "app.py"


def streamlit_command(port: int) -> list[str]:
    """The command that serves the UI on ``port`` (headless, no usage statistics)."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]


def ui_environment(service_url: str) -> dict[str, str]:
    """This process's environment with the service URL the UI talks to."""
    return {**os.environ, "AUDIOWAVE_URL": service_url}
