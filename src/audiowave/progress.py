"""Progress reporting shared by stages, the CLI (progress bars) and the service (job status)."""

from __future__ import annotations

from collections.abc import Callable

ProgressFn = Callable[[float], None]
"""Called with the fraction (0..1) of the current stage that is done."""


def no_progress(_fraction: float) -> None:
    """Default progress callback: ignore."""
