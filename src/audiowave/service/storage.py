"""Object storage through fsspec: a local directory by default, S3/R2 (s3fs) when configured.

Keys are relative paths such as ``<user>/<job>/input.flac``; they are validated so that no key
can escape the store's root.
"""

from __future__ import annotations

import re
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem

_KEY = re.compile(r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$")


class ObjectStore:
    """put/get/delete/list under one root URL (``/dir``, ``file:///dir`` or ``s3://bucket/prefix``)."""

    def __init__(self, url: str, s3_endpoint_url: str = "", **storage_options) -> None:
        if url.startswith("s3://") and s3_endpoint_url:
            storage_options.setdefault("client_kwargs", {})["endpoint_url"] = s3_endpoint_url
        self.fs, root = fsspec.core.url_to_fs(url, **storage_options)
        self.root = root.rstrip("/")
        self.url = url
        if isinstance(self.fs, LocalFileSystem):
            Path(self.root).mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> str:
        if not _KEY.match(key) or any(part in (".", "..") for part in key.split("/")):
            raise ValueError(f"invalid object key: {key!r}")
        return f"{self.root}/{key}"

    def put_bytes(self, key: str, data: bytes) -> str:
        path = self._path(key)
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        with self.fs.open(path, "wb") as fh:
            fh.write(data)
        return key

    def put_file(self, key: str, local: Path) -> str:
        path = self._path(key)
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        self.fs.put_file(str(local), path)
        return key

    def get_bytes(self, key: str) -> bytes:
        with self.fs.open(self._path(key), "rb") as fh:
            return fh.read()

    def get_file(self, key: str, local: Path) -> Path:
        self.fs.get_file(self._path(key), str(local))
        return local

    def exists(self, key: str) -> bool:
        return self.fs.exists(self._path(key))

    def list(self, prefix: str = "") -> list[str]:
        """Every key under ``prefix`` (recursively)."""
        base = self._path(prefix) if prefix else self.root
        if not self.fs.exists(base):
            return []
        found = self.fs.find(base)
        return sorted(p[len(self.root) + 1 :] for p in found)

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix``; returns how many were removed."""
        keys = self.list(prefix)
        for key in keys:
            self.fs.rm_file(self._path(key))
        base = self._path(prefix)
        if self.fs.exists(base) and self.fs.isdir(base):
            self.fs.rm(base, recursive=True)
        return len(keys)
