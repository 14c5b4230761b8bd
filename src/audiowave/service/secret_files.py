"""Secrets generated on first use (keyring, JWT secret), created so that concurrent processes agree on one."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def create_once(path: Path, write: Callable[[Path], None]) -> None:
    """Unless ``path`` exists, have ``write`` fill a private staging file and link it into place atomically.

    ``os.link`` fails when the target exists, so of several processes starting together exactly one file
    wins and every process then reads that one (a plain write-then-rename would let each keep its own)."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    try:
        write(staged)
        os.link(staged, path)
    except FileExistsError:
        pass
    finally:
        staged.unlink()
