"""Sample-library listing: audio files under a local folder or an fsspec URL, with content hashes."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import PurePosixPath

import fsspec

from audiowave.audio_io import AudioClip, load_audio
from audiowave.errors import InputError

AUDIO_SUFFIXES = (".wav", ".wave", ".flac", ".aif", ".aiff", ".ogg", ".mp3")


@dataclass(frozen=True)
class LibraryFile:
    """One audio file of a library: its URL, its path relative to the library root, its size."""

    url: str
    path: str
    size: int

    @property
    def pack(self) -> str:
        """The first folder under the root (a sample pack or kit), or '' for files at the root."""
        parts = PurePosixPath(self.path).parts
        return parts[0] if len(parts) > 1 else ""

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name


def list_library(source: str) -> list[LibraryFile]:
    """Every audio file under ``source`` (a folder or a URL such as ``s3://bucket/prefix``), sorted."""
    fs, root = fsspec.core.url_to_fs(source)
    if not fs.exists(root):
        raise InputError(f"{source}: no such folder")
    if not fs.isdir(root):
        raise InputError(f"{source}: not a folder (index a folder of samples)")
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    prefix = "" if protocol in ("file", "local") else f"{protocol}://"
    root = root.rstrip("/")
    files = []
    for path, info in fs.find(root, detail=True).items():
        if not path.lower().endswith(AUDIO_SUFFIXES):
            continue
        rel = path[len(root) :].lstrip("/")
        files.append(LibraryFile(url=prefix + path, path=rel, size=int(info.get("size") or 0)))
    return sorted(files, key=lambda f: f.path)


def read_bytes(url: str) -> bytes:
    with fsspec.open(url, "rb") as fh:
        return fh.read()


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_bytes(data: bytes, name: str, min_duration_s: float) -> AudioClip:
    """Decode a library file's bytes (through a temporary file: the decoders sniff and seek files).
    Errors name ``name``, not the temporary file."""
    with tempfile.NamedTemporaryFile(suffix=PurePosixPath(name).suffix) as tmp:
        tmp.write(data)
        tmp.flush()
        try:
            return load_audio(tmp.name, min_duration_s=min_duration_s)
        except InputError as exc:
            raise InputError(str(exc).replace(tmp.name, name)) from exc
