"""Tremolo: a steady sinusoidal modulation of the sustained level at 1.5-12 Hz.

Hand-written: the sustained level (see :mod:`pumping`) is detrended and its modulation spectrum taken.
Music on a steady grid has narrow lines too (its notes' rhythm), so each of the strongest lines is scored
by how far it stands out of the spectrum around it times how much of the level's variance one sinusoid at
its rate explains (an LFO moves the level the whole clip long; a rhythm's line is a small part of a level
that also jumps at every note). The best-scoring line is the tremolo.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage

from audiowave.forensics.common import ENV_HOP_S, Evidence, Finding, Signal, best_line, note_value
from audiowave.forensics.rules import decide

RATE_RANGE_HZ = (1.5, 12.0)
REACH = 12  # bins either side (3 and more away) that a line is compared with


def detect_tremolo(sig: Signal) -> Finding:
    """Rate (Hz, note value) and depth (dB peak to peak) of the most LFO-like line of the level's modulation
    spectrum (:func:`best_line`)."""
    env = sig.sustained_db
    fs = 1 / ENV_HOP_S
    level = env - scipy.ndimage.uniform_filter1d(env, size=int(fs))
    line, freqs, power = best_line(level, fs, RATE_RANGE_HZ, int(8 * fs), REACH)
    if line is None or freqs.size < 5:
        return Finding("tremolo", False, 0.0, description="clip too short for a modulation spectrum")
    rate, depth = line.rate_hz, 2 * line.amplitude  # depth: peak to peak
    label, _ = note_value(1 / rate, sig.beat_grid[0])
    params: dict[str, float | str] = {
        "rate_hz": rate,
        "note_value": label,
        "depth_db": depth,
        "line_ratio": line.line_ratio,
        "fit_r2": line.fit_r2,
        "line_score": line.score,
    }
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
            x=freqs,
            curves={"power (dB)": 10 * np.log10(power + 1e-12)},
            xlabel="modulation rate (Hz)",
            ylabel="dB",
            marks=[(rate, f"{rate:.2f} Hz")],
        ),
    )
