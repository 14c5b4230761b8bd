"""Structured service logs: JSON lines (python-json-logger) carrying the id of the job being worked on.

The worker wraps each job in :func:`job_context`; a filter copies that id onto every record logged meanwhile
by any module (pipeline stages included), so one job's lines can be found across processes and nodes.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

_job: ContextVar[str] = ContextVar("audiowave_job_id", default="")
FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"


@contextmanager
def job_context(job_id: str) -> Iterator[None]:
    token = _job.set(job_id)
    try:
        yield
    finally:
        _job.reset(token)


class JobIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.job_id = getattr(record, "job_id", "") or _job.get()
        return True


def configure_logging(fmt: str = "json", level: int = logging.INFO, stream: TextIO | None = None) -> logging.Handler:
    """Send the ``audiowave`` loggers to ``stream`` (stderr) as JSON lines (or text), each with its job id.

    Idempotent: returns the handler already installed, if any."""
    logger = logging.getLogger("audiowave")
    installed = [h for h in logger.handlers if getattr(h, "audiowave", False)]
    if installed:
        return installed[0]
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.audiowave = True
    if fmt == "json":
        handler.setFormatter(JsonFormatter(FIELDS, rename_fields={"levelname": "level", "asctime": "time"}))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(job_id)s] %(message)s"))
    handler.addFilter(JobIdFilter())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return handler
