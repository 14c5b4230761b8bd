"""Stereo image: width per band, mono compatibility of the low end, overall panning.

Measurements by hand from mid/side energies (numpy); no detector threshold is involved except the
flags for a wide image and a low end that loses level when summed to mono.
"""

from __future__ import annotations

import numpy as np
import scipy.signal

from audiowave.forensics.common import Evidence, Finding, Signal

BANDS = ((20.0, 150.0), (150.0, 600.0), (600.0, 2500.0), (2500.0, 8000.0), (8000.0, 20000.0))
WIDE_SIDE_RATIO = 0.5
MONO_LOSS_DB = 1.0


def _band(x: np.ndarray, sr: int, lo: float, hi: float) -> np.ndarray:
    hi = min(hi, 0.45 * sr)
    sos = scipy.signal.butter(4, (lo, hi), btype="bandpass", fs=sr, output="sos")
    return scipy.signal.sosfilt(sos, x, axis=-1)


def detect_stereo(sig: Signal) -> Finding:
    """Side/mid ratio and L/R correlation per band, low-end mono loss and the balance (pan) position."""
    samples, sr = sig.samples, sig.sr
    if samples.shape[0] < 2:
        return Finding("stereo", False, 1.0, {"channels": 1.0}, "mono file: no stereo image")
    left, right = samples[0].astype(np.float64), samples[1].astype(np.float64)
    widths, correlations, labels = [], [], []
    params: dict[str, float | str] = {}
    for lo, hi in BANDS:
        if lo >= 0.45 * sr:
            continue
        bl, br = _band(left, sr, lo, hi), _band(right, sr, lo, hi)
        mid, side = (bl + br) / 2, (bl - br) / 2
        e_mid, e_side = float(np.sum(mid**2)), float(np.sum(side**2))
        width = float(np.sqrt(e_side / (e_mid + 1e-20)))
        corr = float(np.sum(bl * br) / (np.sqrt(np.sum(bl**2) * np.sum(br**2)) + 1e-20))
        name = f"{lo:g}-{hi:g}Hz"
        params[f"width_{name}"], params[f"correlation_{name}"] = width, corr
        widths.append(width)
        correlations.append(corr)
        labels.append(name)
        if lo == BANDS[0][0]:
            mono_power = np.sum(mid**2)
            stereo_power = (np.sum(bl**2) + np.sum(br**2)) / 2
            params["low_end_mono_loss_db"] = float(10 * np.log10(stereo_power / (mono_power + 1e-20) + 1e-20))
    e_l, e_r = float(np.sum(left**2)), float(np.sum(right**2))
    pan = float((np.sqrt(e_r) - np.sqrt(e_l)) / (np.sqrt(e_r) + np.sqrt(e_l) + 1e-20))
    params["balance_db"] = float(10 * np.log10((e_r + 1e-20) / (e_l + 1e-20)))
    params["pan"] = float(2 / np.pi * (np.arctan2(np.sqrt(e_r), np.sqrt(e_l))) * 2 - 1)
    wide = max(widths) >= WIDE_SIDE_RATIO
    low_loss = float(params.get("low_end_mono_loss_db", 0.0))
    notes = [f"widest band {labels[int(np.argmax(widths))]} (side/mid {max(widths):.2f})"]
    if low_loss >= MONO_LOSS_DB:
        notes.append(f"low end loses {low_loss:.1f} dB in mono")
    if abs(pan) > 0.1:
        notes.append(f"panned {'right' if pan > 0 else 'left'} ({params['balance_db']:+.1f} dB)")
    return Finding(
        "stereo",
        wide,
        min(1.0, max(widths) / WIDE_SIDE_RATIO / 2 + 0.25),
        parameters=params,
        description=("wide stereo: " if wide else "narrow/mono-compatible image: ") + "; ".join(notes),
        evidence=Evidence(
            title="Stereo width per band (side/mid) and L/R correlation",
            x=np.arange(len(widths), dtype=float),
            curves={"side/mid": np.array(widths), "correlation": np.array(correlations)},
            xlabel="band: " + ", ".join(f"{i}={name}" for i, name in enumerate(labels)),
            ylabel="ratio",
        ),
    )
