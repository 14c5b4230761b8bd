"""Distortion/saturation (waveform flattening within each cycle) and bit crushing (a coarse level grid).

Hand-written: a saturated waveform has a low crest factor inside 10 ms frames (compression changes the
gain between frames, not the shape inside one), and a bit-crushed signal takes few distinct values.
"""

from __future__ import annotations

import numpy as np

from audiowave.forensics.common import Evidence, Finding, Signal
from audiowave.forensics.rules import decide, threshold

FRAME_S = 0.01


def frame_crest_db(mono: np.ndarray, sr: int, frame_s: float = FRAME_S) -> np.ndarray:
    """Peak-to-RMS ratio (dB) of each loud ``frame_s`` frame (frames above the median level)."""
    hop = int(sr * frame_s)
    n = len(mono) // hop
    frames = mono[: n * hop].reshape(n, hop).astype(np.float64)
    rms = np.sqrt(np.mean(np.square(frames), axis=1)) + 1e-12
    crest = 20 * np.log10(np.abs(frames).max(axis=1) / rms + 1e-12)
    return crest[rms > np.median(rms)]


def detect_distortion(sig: Signal) -> Finding:
    """Saturation amount from the median in-frame crest factor of the loud frames."""
    mono, sr = sig.mono, sig.sr
    crest = frame_crest_db(mono, sr)
    median = float(np.median(crest)) if len(crest) else 20.0
    kind = "hard/fuzz" if median < 3.5 else "saturation"
    params: dict[str, float | str] = {"in_cycle_crest_db": median}
    detected, confidence = decide("distortion", params)
    params["kind"] = kind if detected else "none"
    bins = np.arange(0.0, 15.01, 0.25)
    hist, _ = np.histogram(crest, bins=np.append(bins, 15.25))
    return Finding(
        "distortion",
        detected,
        confidence,
        parameters=params,
        description=(
            f"{kind} distortion: waveform flattened to a {median:.1f} dB in-cycle crest factor"
            if detected
            else f"clean waveform shape (in-cycle crest {median:.1f} dB)"
        ),
        evidence=Evidence(
            title="Crest factor inside 10 ms frames (saturation pushes it toward 0-3 dB)",
            x=bins,
            curves={"loud frames": hist.astype(float)},
            xlabel="in-frame crest factor (dB)",
            ylabel="frames",
            marks=[(threshold("distortion"), "clean above")],
        ),
    )


def detect_bitcrush(sig: Signal) -> Finding:
    """Effective bit depth from the number of distinct sample values (float audio takes thousands)."""
    levels = max(len(np.unique(ch)) for ch in sig.samples)
    bits = float(np.log2(max(levels, 2)))
    params: dict[str, float | str] = {"effective_bits": bits, "distinct_levels": float(levels)}
    detected, confidence = decide("bitcrush", params)
    return Finding(
        "bitcrush",
        detected,
        confidence,
        parameters=params,
        description=(
            f"bit crushing: only {levels} distinct levels (~{bits:.1f} bits)"
            if detected
            else f"full resolution ({levels} distinct levels)"
        ),
    )
