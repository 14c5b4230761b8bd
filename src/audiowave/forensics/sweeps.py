"""Filter sweeps and automation: the spectral edge gliding smoothly across octaves.

Hand-written: per 50 ms frame, the frequency below which 95 % of the energy lies (librosa's rolloff)
is tracked in octaves; a sweep is a window of seconds over which it moves >= 1.5 octaves along a
smooth straight line in log-frequency (instrument changes jump, they do not glide).
"""

from __future__ import annotations

import librosa
import numpy as np
import scipy.ndimage

from audiowave.forensics.common import Evidence, Finding, Signal
from audiowave.forensics.rules import decide

HOP_S = 0.05
WINDOWS_S = (2.0, 4.0, 8.0)


def edge_octaves(mono: np.ndarray, sr: int) -> np.ndarray:
    """log2 of the 95 % rolloff frequency per 50 ms, median-smoothed over 0.5 s; silent frames (50 dB below the
    loudest) hold the last audible value, so a song's ending is not a sweep down to nothing."""
    hop = int(sr * HOP_S)
    rolloff = librosa.feature.spectral_rolloff(y=mono, sr=sr, n_fft=4096, hop_length=hop, roll_percent=0.95)[0]
    rms = librosa.feature.rms(y=mono, frame_length=4096, hop_length=hop)[0][: len(rolloff)]
    audible = np.nonzero(20 * np.log10(rms + 1e-12) > 20 * np.log10(rms.max() + 1e-12) - 50)[0]
    if len(audible):
        held = audible[np.clip(np.searchsorted(audible, np.arange(len(rolloff)), side="right") - 1, 0, None)]
        rolloff = rolloff[held]
    return scipy.ndimage.median_filter(np.log2(np.maximum(rolloff, 20.0)), size=11, mode="nearest")


def refine_span(edge: np.ndarray, i: int, j: int, step: int = 2) -> tuple[int, int]:
    """Start and end of the glide: the hold-ramp-hold curve (continuous) that fits the edge best around the
    window [i, j), searched on a grid of ``step`` frames."""
    w = j - i
    lo, hi = max(0, i - w), min(len(edge), j + w)
    seg = edge[lo:hi]
    x = np.arange(len(seg))
    best, span = np.inf, (i, j)
    for a in range(0, len(seg) - 4, step):
        for b in range(a + 4, len(seg), step):
            ramp = np.clip((x - a) / (b - a), 0, 1)
            design = np.stack([np.ones_like(ramp), ramp], axis=1)
            coef, res, *_ = np.linalg.lstsq(design, seg, rcond=None)
            sse = float(res[0]) if len(res) else float(np.sum((design @ coef - seg) ** 2))
            if sse < best:
                best, span = sse, (lo + a, lo + b + 1)
    return span


def detect_filter_sweep(sig: Signal) -> Finding:
    """The best straight glide of the spectral edge over 2, 4 or 8 s windows."""
    mono, sr = sig.mono, sig.sr
    edge = edge_octaves(mono, sr)
    t = np.arange(len(edge)) * HOP_S
    best = (0.0, 0.0, 0, 0)  # score, r2, start, end
    for window in WINDOWS_S:
        w = int(window / HOP_S)
        for i in range(0, max(len(edge) - w, 0) + 1, max(1, w // 8)):
            seg = edge[i : i + w]
            if len(seg) < w:
                break
            x = np.arange(w)
            slope, icpt = np.polyfit(x, seg, 1)
            fit = slope * x + icpt
            r2 = 1 - np.sum((seg - fit) ** 2) / (np.sum((seg - seg.mean()) ** 2) + 1e-12)
            octaves = abs(slope) * (w - 1)
            score = octaves * max(r2, 0)
            if score > best[0]:
                best = (score, float(r2), i, i + w)
    _, r2, i, j = best
    if best[0] > 0:
        i, j = refine_span(edge, i, j)
    octaves = float(edge[j - 1] - edge[i]) if j > i else 0.0
    direction = "opens" if octaves > 0 else "closes"
    start_hz, end_hz = float(2 ** edge[i]), float(2 ** edge[max(j - 1, 0)])
    params: dict[str, float | str] = {
        "start_hz": start_hz,
        "end_hz": end_hz,
        "octaves": octaves,
        "abs_octaves": abs(octaves),
        "linearity_r2": r2,
    }
    detected, confidence = decide("filter_sweep", params)
    params["type"] = f"lowpass {'opening' if octaves > 0 else 'closing'}" if detected else "none"
    return Finding(
        "filter_sweep",
        detected,
        confidence,
        spans=[(float(t[i]), float(t[j - 1]))] if detected else [],
        parameters=params,
        description=(
            f"filter sweep {direction} from {start_hz:.0f} Hz to {end_hz:.0f} Hz over {t[j - 1] - t[i]:.1f} s"
            if detected
            else "no filter sweep"
        ),
        evidence=Evidence(
            title="Spectral edge (95 % rolloff) over time, sweep window marked",
            x=t,
            curves={"edge (Hz, log2)": edge},
            xlabel="time (s)",
            ylabel="log2 Hz",
            marks=[(float(t[i]), "start"), (float(t[j - 1]), "end")] if detected else [],
        ),
    )
