"""Loudness per ITU-R BS.1770 / EBU R128 (pyloudnorm), true peak and crest factor."""

from __future__ import annotations

from importlib import metadata

import numpy as np
import pyloudnorm
import soxr

from audiowave.schema import BackendInfo, Loudness


def _db(x: float) -> float:
    return float(20 * np.log10(max(x, 1e-12)))


def true_peak(samples: np.ndarray, sr: int) -> float:
    """Peak after 4x oversampling (BS.1770-4 annex 2), linear."""
    up = soxr.resample(samples.T, sr, sr * 4, quality="HQ")
    return float(np.max(np.abs(up)))


def analyse_loudness(samples: np.ndarray, sr: int) -> Loudness:
    """Integrated loudness, loudness range, true peak, sample peak and crest factor of (channels, n)."""
    meter = pyloudnorm.Meter(sr)
    data = samples.T.astype(np.float64)
    with np.errstate(divide="ignore"):
        integrated = float(meter.integrated_loudness(data))
        try:
            lra = float(meter.loudness_range(data))
        except (ValueError, IndexError):
            lra = float("nan")
    peak = float(np.max(np.abs(samples)))
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
    return Loudness(
        integrated_lufs=round(integrated, 2) if np.isfinite(integrated) else None,
        loudness_range_lu=round(lra, 2) if np.isfinite(lra) else None,
        true_peak_dbtp=round(_db(true_peak(samples, sr)), 2),
        sample_peak_dbfs=round(_db(peak), 2),
        crest_factor_db=round(_db(peak) - _db(rms), 2),
        backend=BackendInfo(name="pyloudnorm", version=metadata.version("pyloudnorm"), model="BS.1770-4"),
    )
