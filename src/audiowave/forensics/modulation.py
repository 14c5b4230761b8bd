"""Tremolo: a steady sinusoidal modulation of the sustained level at 1.5-12 Hz.

Hand-written: the sustained level (see :mod:`pumping`) is detrended, its modulation spectrum taken,
and the strongest line compared with the spectrum around it; note attacks spread over many
harmonics, a tremolo LFO is one narrow line.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage
import scipy.signal

from audiowave.forensics.common import (
    ENV_HOP_S,
    Evidence,
    Finding,
    Signal,
    line_amplitude,
    note_value,
    strongest_line,
)
from audiowave.forensics.rules import decide

RATE_RANGE_HZ = (1.5, 12.0)


def detect_tremolo(sig: Signal) -> Finding:
    """Rate (Hz, note value) and depth (dB) of the strongest narrow line in the level's modulation spectrum."""
    env = sig.sustained_db
    beat_s = sig.beat_grid[0]
    fs = 1 / ENV_HOP_S
    detrended = env - scipy.ndimage.uniform_filter1d(env, size=int(fs))
    freqs, power = scipy.signal.welch(detrended, fs=fs, nperseg=min(len(env), int(8 * fs)))
    band = (freqs >= RATE_RANGE_HZ[0]) & (freqs <= RATE_RANGE_HZ[1])
    if band.sum() < 5:
        return Finding("tremolo", False, 0.0, description="clip too short for a modulation spectrum")
    k, ratio = strongest_line(freqs, power, band, reach=12)
    rate = float(freqs[k])
    depth = 2 * line_amplitude(freqs, power, k)  # peak-to-peak dB of the line
    label, _ = note_value(1 / rate, beat_s) if rate > 0 else ("", 0.0)
    params: dict[str, float | str] = {"rate_hz": rate, "note_value": label, "depth_db": depth, "line_ratio": ratio}
    detected, confidence = decide("tremolo", params)
    return Finding(
        "tremolo",
        detected,
        confidence,
        parameters=params,
        description=(
            f"tremolo at {rate:.2f} Hz{f' ({label} note)' if label else ''}, about {depth:.1f} dB deep"
            if detected
            else "no tremolo"
        ),
        evidence=Evidence(
            title="Modulation spectrum of the sustained level (a tremolo is one narrow line)",
            x=freqs[band],
            curves={"power (dB)": 10 * np.log10(power[band] + 1e-12)},
            xlabel="modulation rate (Hz)",
            ylabel="dB",
            marks=[(rate, f"{rate:.2f} Hz")],
        ),
    )
