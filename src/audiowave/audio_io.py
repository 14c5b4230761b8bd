"""Decode, validate and resample audio files into one in-memory representation.

Every stage receives an :class:`AudioClip`: float32, shape ``(channels, samples)``, at the analysis
rate (resampled once, with soxr). Stereo is kept; stages that want mono call :attr:`AudioClip.mono`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from audiowave.config import Settings, get_settings
from audiowave.errors import InputError

SUPPORTED_EXTENSIONS = {
    ".wav",
    ".wave",
    ".flac",
    ".ogg",
    ".oga",
    ".mp3",
    ".m4a",
    ".aac",
    ".mp4",
    ".aif",
    ".aiff",
}
SILENCE_PEAK_DBFS = -80.0

# Magic bytes -> container family, to tell content from a misleading extension.
_MAGIC: list[tuple[bytes, int, str]] = [
    (b"RIFF", 0, "wav"),
    (b"RF64", 0, "wav"),
    (b"fLaC", 0, "flac"),
    (b"OggS", 0, "ogg"),
    (b"ID3", 0, "mp3"),
    (b"FORM", 0, "aiff"),
    (b"ftyp", 4, "mp4"),
]


@dataclass
class AudioClip:
    """Decoded audio at the analysis rate; ``samples`` has shape (channels, n)."""

    samples: np.ndarray
    sample_rate: int
    native_sample_rate: int
    native_channels: int
    source: str
    container: str
    warnings: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.samples.shape[1] / self.sample_rate

    @property
    def mono(self) -> np.ndarray:
        return self.samples.mean(axis=0)

    @property
    def channels(self) -> int:
        return self.samples.shape[0]


def sniff_container(head: bytes) -> str | None:
    """Container family from the first bytes of a file, or None when not recognised."""
    for magic, offset, kind in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return kind
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0:
        return "mp3" if (head[1] & 0x06) != 0 else "aac"  # MPEG layer bits 00 mean ADTS AAC
    return None


def probe(path: str | Path, settings: Settings | None = None) -> tuple[str, float]:
    """Container and duration from the header only (cheap upload check); InputError if unusable."""
    settings = settings or get_settings()
    path = Path(path)
    if path.stat().st_size == 0:
        raise InputError(f"{path.name}: the file is empty")
    with path.open("rb") as fh:
        container = sniff_container(fh.read(16))
    if container is None:
        raise InputError(f"{path.name}: not an audio file (content not recognised as WAV/FLAC/OGG/MP3/AIFF/MP4)")
    try:
        info = sf.info(str(path))
        sr, duration = info.samplerate, info.frames / max(info.samplerate, 1)
    except (sf.LibsndfileError, RuntimeError):
        import av

        try:
            with av.open(str(path)) as c:
                if not c.streams.audio:
                    raise InputError(f"{path.name}: the file contains no audio stream") from None
                stream = c.streams.audio[0]
                sr = int(stream.rate or 0)
                duration = float(c.duration / 1_000_000) if c.duration else 0.0
        # PyAV raises AttributeError for a stream whose codec it cannot set up (found by fuzzing)
        except (av.error.FFmpegError, ValueError, OSError, AttributeError) as exc:  # type: ignore[attr-defined]
            raise InputError(f"{path.name}: could not read the audio header ({exc})") from exc
    _check_header(Path(path.name), sr, duration, settings)
    return container, duration


def load_audio(path: str | Path, settings: Settings | None = None, min_duration_s: float = 0.1) -> AudioClip:
    """Decode ``path``, validate it and resample it to the analysis rate (library one-shots may be
    shorter than the 100 ms a track needs: pass ``min_duration_s``).

    Raises :class:`InputError` with a user-facing reason for every unusable input.
    """
    settings = settings or get_settings()
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise InputError(f"{path}: the file is empty")
    with path.open("rb") as fh:
        head = fh.read(16)
    container = sniff_container(head)
    ext = path.suffix.lower()
    warnings: list[str] = []
    if container is None and ext not in SUPPORTED_EXTENSIONS:
        raise InputError(
            f"{path}: unsupported file type '{ext or 'no extension'}' "
            f"(supported: {', '.join(sorted(SUPPORTED_EXTENSIONS))})"
        )
    if container is not None and ext in SUPPORTED_EXTENSIONS and not _ext_matches(ext, container):
        warnings.append(f"file extension '{ext}' does not match its content ({container}); decoded by content")

    data, native_sr = _decode(path, container, settings)
    _validate(path, data, native_sr, settings, min_duration_s)
    native_channels = data.shape[0]
    data = _to_stereo_or_mono(data)
    if native_sr != settings.analysis_sample_rate:
        data = soxr.resample(data.T, native_sr, settings.analysis_sample_rate, quality="HQ").T
    data = np.ascontiguousarray(data, dtype=np.float32)
    return AudioClip(
        samples=data,
        sample_rate=settings.analysis_sample_rate,
        native_sample_rate=native_sr,
        native_channels=native_channels,
        source=str(path),
        container=container or ext.lstrip("."),
        warnings=warnings,
    )


def _ext_matches(ext: str, container: str) -> bool:
    families = {
        "wav": {".wav", ".wave"},
        "flac": {".flac"},
        "ogg": {".ogg", ".oga"},
        "mp3": {".mp3"},
        "aiff": {".aif", ".aiff"},
        "mp4": {".m4a", ".mp4", ".aac"},
        "aac": {".aac", ".m4a"},
    }
    return ext in families.get(container, set())


def _decode(path: Path, container: str | None, settings: Settings) -> tuple[np.ndarray, int]:
    """Decode with libsndfile where it can, else with PyAV (FFmpeg). Returns (channels, n), rate."""
    if container not in {"mp4", "aac"}:
        try:
            info = sf.info(str(path))
        except (sf.LibsndfileError, RuntimeError):
            info = None
        if info is not None:
            _check_header(path, info.samplerate, info.frames / max(info.samplerate, 1), settings)
            try:
                data, sr = sf.read(str(path), dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise InputError(
                    f"{path}: could not decode audio ({exc}); the file may be truncated or corrupt"
                ) from exc
            return data.T, int(sr)
    return _decode_with_av(path, settings)


def _decode_with_av(path: Path, settings: Settings) -> tuple[np.ndarray, int]:
    import av  # imported lazily: only M4A/AAC and odd files need FFmpeg

    try:
        with av.open(str(path)) as container:
            streams = container.streams.audio
            if not streams:
                raise InputError(f"{path}: the file contains no audio stream")
            stream = streams[0]
            sr = int(stream.rate or stream.codec_context.sample_rate or 0)
            if stream.duration is not None and stream.time_base is not None:
                _check_header(path, sr, float(stream.duration * stream.time_base), settings)
            chunks: list[np.ndarray] = []
            total = 0
            limit = int(settings.max_duration_s * max(sr, 1)) + 1
            for frame in container.decode(stream):
                arr = frame.to_ndarray()
                if frame.format.is_planar:
                    arr = arr.reshape(len(frame.layout.channels), -1)
                else:
                    arr = arr.reshape(-1, len(frame.layout.channels)).T
                chunks.append(_pcm_to_float(arr))
                total += arr.shape[1]
                if total > limit:
                    raise InputError(f"{path}: longer than the limit of {settings.max_duration_s:.0f} s")
    except InputError:
        raise
    except (av.error.FFmpegError, ValueError, OSError, AttributeError) as exc:  # type: ignore[attr-defined]
        raise InputError(f"{path}: could not decode audio ({exc}); unsupported, truncated or corrupt file") from exc
    if not chunks:
        raise InputError(f"{path}: the file contains no audio samples")
    return np.concatenate(chunks, axis=1), sr


def _pcm_to_float(arr: np.ndarray) -> np.ndarray:
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.float32) / float(np.iinfo(arr.dtype).max)
    return arr.astype(np.float32)


def _check_header(path: Path, sr: int, duration_s: float, settings: Settings) -> None:
    if not settings.min_sample_rate <= sr <= settings.max_sample_rate:
        raise InputError(
            f"{path}: sample rate {sr} Hz is outside the accepted range "
            f"{settings.min_sample_rate}-{settings.max_sample_rate} Hz"
        )
    if duration_s > settings.max_duration_s:
        raise InputError(
            f"{path}: {duration_s:.1f} s long, over the limit of {settings.max_duration_s:.0f} s "
            "(set AUDIOWAVE_MAX_DURATION_S to raise it)"
        )


def _validate(path: Path, data: np.ndarray, sr: int, settings: Settings, min_duration_s: float) -> None:
    _check_header(path, sr, data.shape[1] / max(sr, 1), settings)
    if data.size == 0 or data.shape[1] == 0:
        raise InputError(f"{path}: the file contains no audio samples")
    if not np.all(np.isfinite(data)):
        raise InputError(f"{path}: the audio contains NaN or infinite sample values")
    if data.shape[1] < sr * min_duration_s:
        raise InputError(
            f"{path}: too short to analyse ({data.shape[1] / sr * 1000:.0f} ms; "
            f"need at least {min_duration_s * 1000:.0f} ms)"
        )
    peak = float(np.max(np.abs(data)))
    if peak <= 10 ** (SILENCE_PEAK_DBFS / 20):
        raise InputError(f"{path}: the audio is silent (peak below {SILENCE_PEAK_DBFS:.0f} dBFS)")


def _to_stereo_or_mono(data: np.ndarray) -> np.ndarray:
    """Keep mono and stereo as they are; fold more channels into stereo (even->left, odd->right)."""
    if data.shape[0] <= 2:
        return data
    return np.stack([data[0::2].mean(axis=0), data[1::2].mean(axis=0)])
