"""Object storage through fsspec: a local directory by default, S3/R2 (s3fs) when configured.

Keys are relative paths such as ``<user>/<job>/input.flac``; they are validated so that no key
can escape the store's root. With a keyring every object is encrypted at rest (``service/crypto``);
objects stored before encryption was enabled are still read, and ``reencrypt`` seals them.
"""

from __future__ import annotations

import io
import re
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem

from audiowave.service.crypto import MAGIC, DecryptionError, Keyring, decrypt_stream, encrypt_stream, key_id_of


class StorageUnavailable(Exception):
    """The storage backend cannot be reached or fails (not: a missing object, a bad key, a damaged object)."""


@contextmanager
def _backend(key: str) -> Iterator[None]:
    """Turn backend failures (network, S3 errors, disk) into :class:`StorageUnavailable`."""
    try:
        yield
    except (FileNotFoundError, ValueError, DecryptionError, PermissionError):
        raise
    except Exception as exc:  # s3fs/botocore/aiohttp/OS errors have no common base short of Exception
        raise StorageUnavailable(f"storage unavailable ({key or 'root'}): {type(exc).__name__}: {exc}") from exc


_KEY = re.compile(r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$")


class ObjectStore:
    """put/get/delete/list under one root URL (``/dir``, ``file:///dir`` or ``s3://bucket/prefix``)."""

    def __init__(self, url: str, s3_endpoint_url: str = "", keyring: Keyring | None = None, **storage_options) -> None:
        if url.startswith("s3://"):
            if s3_endpoint_url:
                storage_options.setdefault("client_kwargs", {})["endpoint_url"] = s3_endpoint_url
            # Fail within seconds when the store is down (the API answers 503, the worker retries later)
            # instead of s3fs/botocore retrying for minutes while a request hangs.
            storage_options.setdefault(
                "config_kwargs", {"connect_timeout": 3, "read_timeout": 60, "retries": {"max_attempts": 2}}
            )
        self.fs, root = fsspec.core.url_to_fs(url, **storage_options)
        self.root = root.rstrip("/")
        self.url = url
        self.keyring = keyring
        if isinstance(self.fs, LocalFileSystem):
            Path(self.root).mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> str:
        if not _KEY.match(key) or any(part in (".", "..") for part in key.split("/")):
            raise ValueError(f"invalid object key: {key!r}")
        return f"{self.root}/{key}"

    def put_bytes(self, key: str, data: bytes) -> str:
        return self._put(key, io.BytesIO(data))

    def put_file(self, key: str, local: Path) -> str:
        with open(local, "rb") as src:
            return self._put(key, src)

    def get_bytes(self, key: str) -> bytes:
        out = io.BytesIO()
        self._get(key, out)
        return out.getvalue()

    def get_file(self, key: str, local: Path) -> Path:
        with open(local, "wb") as dst:
            self._get(key, dst)
        return local

    def _put(self, key: str, src, path: str = "") -> str:
        path = path or self._path(key)
        with _backend(key):
            self._write(key, src, path)
        return key

    def _write(self, key: str, src, path: str) -> None:
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        with self.fs.open(path, "wb") as dst:
            if self.keyring is None:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            else:
                encrypt_stream(self.keyring.refresh(), src, dst, key)

    def _get(self, key: str, dst) -> None:
        with _backend(key), self.fs.open(self._path(key), "rb") as src:
            head = src.read(len(MAGIC))
            if head == MAGIC:
                if self.keyring is None:
                    raise PermissionError(f"{key} is encrypted and no keyring is configured")
                decrypt_stream(self.keyring.refresh(), _Prepended(head, src), dst, key)
                return
            dst.write(head)
            while chunk := src.read(1 << 20):
                dst.write(chunk)

    def key_id(self, key: str) -> str | None:
        """The id of the key that sealed an object (None: stored unencrypted)."""
        with _backend(key), self.fs.open(self._path(key), "rb") as src:
            return key_id_of(src.read(64))

    def key_usage(self, prefix: str = "") -> Counter:
        """How many objects each key id seals (None counts the unencrypted ones)."""
        return Counter(self.key_id(k) for k in self.list(prefix))

    def reencrypt(self, key: str) -> bool:
        """Seal an object with the active key unless it already is; returns whether it was rewritten."""
        if self.keyring is None or self.key_id(key) == self.keyring.refresh().active:
            return False
        staged = self._path(key) + ".reencrypting"
        with tempfile.TemporaryFile() as plain:
            self._get(key, plain)
            plain.seek(0)
            self._put(key, plain, staged)
        with _backend(key):
            self.fs.mv(staged, self._path(key))  # the old copy stays whole until the new one is complete
        return True

    def exists(self, key: str) -> bool:
        path = self._path(key)
        with _backend(key):
            return self.fs.exists(path)

    def list(self, prefix: str = "") -> list[str]:
        """Every key under ``prefix`` (recursively)."""
        base = self._path(prefix) if prefix else self.root
        with _backend(prefix):
            found = self.fs.find(base) if self.fs.exists(base) else []
        return sorted(p[len(self.root) + 1 :] for p in found if not p.endswith(".reencrypting"))

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix``; returns how many were removed."""
        keys = self.list(prefix)
        base = self._path(prefix)
        with _backend(prefix):
            for key in keys:
                self.fs.rm_file(self._path(key))
            if self.fs.exists(base) and self.fs.isdir(base):
                self.fs.rm(base, recursive=True)
        return len(keys)


class _Prepended(io.RawIOBase):
    """A read-only stream of ``head`` followed by ``rest`` (to give back bytes already sniffed)."""

    def __init__(self, head: bytes, rest) -> None:
        self.head, self.rest = head, rest

    def read(self, n: int = -1) -> bytes:
        if not self.head:
            return self.rest.read(n)
        if n < 0:
            out, self.head = self.head + self.rest.read(), b""
            return out
        out, self.head = self.head[:n], self.head[n:]
        return out + (self.rest.read(n - len(out)) if len(out) < n else b"")
