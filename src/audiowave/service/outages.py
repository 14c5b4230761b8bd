"""Errors that mean a backing service (database, Redis, object storage) is down, not that a request or job is bad.

The API answers them with 503 and ``Retry-After``; the worker retries the job later without spending one of its
``max_attempts`` (an outage is nobody's input), so no job is dead-lettered because a dependency was away.
"""

from __future__ import annotations

import redis
import sqlalchemy.exc

from audiowave.service.storage import StorageUnavailable

OUTAGES: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    StorageUnavailable,
)
MAX_OUTAGE_BACKOFF_S = 60.0
