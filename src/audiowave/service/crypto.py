"""Encryption at rest for stored objects: AES-256-GCM in 1 MiB segments, keys in a rotatable keyring.

``cryptography`` supplies AES-GCM; what it does not supply is a *streaming* file format, and uploads may be
hundreds of MB, so objects are written as a header followed by independently sealed segments (the STREAM
construction of Hoang, Reyhanitabar, Rogaway and Vizár, as in Tink's streaming AEAD)::

    header  = b"AWE1" | len(key id) (1 byte) | key id | nonce prefix (7 random bytes)
    segment = AES-256-GCM(key, nonce = prefix | segment number (4 bytes) | last flag (1 byte),
                          plaintext <= 1 MiB, associated data = header | object key)

Binding the object key into every segment means a ciphertext copied to another user's path does not
decrypt; the last-segment flag means truncation is detected. Memory stays at one segment either way.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from audiowave.service.secret_files import create_once

MAGIC = b"AWE1"
SEGMENT = 1 << 20
TAG = 16
PREFIX = 7


class DecryptionError(Exception):
    """A stored object is damaged, was moved, or its key is not in the keyring."""


@dataclass
class Keyring:
    """Named 256-bit keys; ``active`` encrypts new objects, every key can still decrypt."""

    active: str
    keys: dict[str, bytes] = field(default_factory=dict)
    source: Path | None = None  # the key file this came from, re-read when it changes (rotation)
    loaded_mtime: float = 0.0

    @classmethod
    def parse(cls, spec: str) -> Keyring:
        """From configuration: ``"id:base64key[,id:base64key...]"``, the first being the active key."""
        keys: dict[str, bytes] = {}
        for item in filter(None, (s.strip() for s in spec.split(","))):
            kid, _, b64 = item.partition(":")
            keys[_check_id(kid)] = _decode_key(kid, b64)
        if not keys:
            raise ValueError("the encryption key setting is empty")
        return cls(next(iter(keys)), keys)

    @classmethod
    def load(cls, path: Path) -> Keyring:
        """From a key file ``{"active": id, "keys": {id: base64}}`` (as a KMS or a Kubernetes secret provides)."""
        data = json.loads(path.read_text())
        keys = {_check_id(kid): _decode_key(kid, b64) for kid, b64 in data["keys"].items()}
        if data["active"] not in keys:
            raise ValueError(f"{path}: active key {data['active']!r} is not among its keys")
        return cls(data["active"], keys, path, path.stat().st_mtime)

    def refresh(self) -> Keyring:
        """Re-read the key file if it changed since loading (another process rotated); returns self."""
        if self.source is not None and self.source.stat().st_mtime != self.loaded_mtime:
            fresh = Keyring.load(self.source)
            self.active, self.keys, self.loaded_mtime = fresh.active, fresh.keys, fresh.loaded_mtime
        return self

    @classmethod
    def load_or_create(cls, path: Path) -> Keyring:
        """The key file at ``path``, created (owner-only) with one fresh key if absent."""
        create_once(path, cls("k1", {"k1": AESGCM.generate_key(bit_length=256)}).save)
        return cls.load(path)

    def save(self, path: Path) -> None:
        """Write the key file atomically with mode 0600."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(
                {"active": self.active, "keys": {k: base64.b64encode(v).decode() for k, v in self.keys.items()}}, fh
            )
        os.replace(tmp, path)

    def rotate(self) -> str:
        """Add a fresh key and make it the active one; returns its id."""
        n = 1 + max((int(k[1:]) for k in self.keys if k[:1] == "k" and k[1:].isdigit()), default=0)
        kid = f"k{n}"
        self.keys[kid] = AESGCM.generate_key(bit_length=256)
        self.active = kid
        return kid

    def retire(self, kid: str) -> None:
        if kid == self.active:
            raise ValueError(f"{kid} is the active key; rotate first")
        if kid not in self.keys:
            raise ValueError(f"no key {kid!r} in the keyring")
        del self.keys[kid]


def _check_id(kid: str) -> str:
    if not (0 < len(kid) <= 32 and kid.replace("-", "").replace("_", "").isalnum() and kid.isascii()):
        raise ValueError(f"key id {kid!r}: use 1-32 letters, digits, '-' or '_'")
    return kid


def _decode_key(kid: str, b64: str) -> bytes:
    try:
        key = base64.b64decode(b64, validate=True)
    except ValueError as exc:
        raise ValueError(f"key {kid!r} is not valid base64") from exc
    if len(key) != 32:
        raise ValueError(f"key {kid!r} must be 32 bytes (AES-256), not {len(key)}")
    return key


def key_id_of(head: bytes) -> str | None:
    """The key id in an object's first bytes, or None for an object stored unencrypted."""
    if not head.startswith(MAGIC) or len(head) < 5:
        return None
    n = head[4]
    return head[5 : 5 + n].decode("ascii", "replace")


def encrypt_stream(ring: Keyring, src: BinaryIO, dst: BinaryIO, object_key: str) -> None:
    """Seal ``src`` into ``dst`` under the active key, bound to ``object_key``."""
    kid = ring.active.encode("ascii")
    header = MAGIC + bytes([len(kid)]) + kid + secrets.token_bytes(PREFIX)
    aead, aad = AESGCM(ring.keys[ring.active]), header + object_key.encode()
    dst.write(header)
    for index, chunk, last in _segments(src, SEGMENT):
        dst.write(aead.encrypt(_nonce(header, index, last), chunk, aad))


def decrypt_stream(ring: Keyring, src: BinaryIO, dst: BinaryIO, object_key: str) -> None:
    """Open what :func:`encrypt_stream` wrote; raises :class:`DecryptionError` on any tampering."""
    head = src.read(5)
    if not head.startswith(MAGIC) or len(head) < 5:
        raise DecryptionError(f"{object_key}: not an encrypted object")
    header = head + src.read(head[4] + PREFIX)
    kid = key_id_of(header) or ""
    if kid not in ring.keys:
        raise DecryptionError(f"{object_key}: key {kid!r} is not in the keyring")
    aead, aad = AESGCM(ring.keys[kid]), header + object_key.encode()
    for index, sealed, last in _segments(src, SEGMENT + TAG):
        try:
            dst.write(aead.decrypt(_nonce(header, index, last), sealed, aad))
        except InvalidTag as exc:
            raise DecryptionError(f"{object_key}: segment {index} fails authentication") from exc


def _nonce(header: bytes, index: int, last: bool) -> bytes:
    return header[-PREFIX:] + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def _segments(src: BinaryIO, size: int) -> Iterator[tuple[int, bytes, bool]]:
    """(index, block, is_last) over ``src`` in blocks of ``size``; an empty stream yields one empty last block."""
    index, block = 0, src.read(size)
    while True:
        following = src.read(size) if len(block) == size else b""
        yield index, block, not following
        if not following:
            return
        index, block = index + 1, following
