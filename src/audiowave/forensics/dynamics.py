"""Clipping, limiting and compression, from the sample values and the short-term level statistics.

Hand-written measurements: flat-topped runs at the peak (clipping), frame peaks piling up under one
ceiling (brick-wall limiting), and the short-term crest factor and loudness spread (compression).
"""

from __future__ import annotations

import numpy as np

from audiowave.forensics.common import Evidence, Finding, Signal
from audiowave.forensics.rules import decide

PEAK_FRAME_S = 0.01
CREST_FRAME_S = 0.05


def _db(x):
    return 20 * np.log10(np.maximum(x, 1e-12))


def _flat_runs(x: np.ndarray, level: float, min_len: int = 3) -> tuple[int, int]:
    """Count runs of >= ``min_len`` consecutive samples at |x| >= level, and the samples in them."""
    at = np.abs(x) >= level
    if not at.any():
        return 0, 0
    edges = np.diff(np.concatenate([[0], at.astype(np.int8), [0]]))
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    lengths = ends - starts
    long = lengths >= min_len
    return int(long.sum()), int(lengths[long].sum())


def detect_clipping(sig: Signal) -> Finding:
    """Hard clipping: runs of identical-magnitude samples at the peak in any channel."""
    samples, sr = sig.samples, sig.sr
    peak = float(np.max(np.abs(samples))) or 1e-12
    runs, clipped = 0, 0
    for ch in samples:
        r, c = _flat_runs(ch, peak * 0.9995)
        runs, clipped = runs + r, clipped + c
    minutes = samples.shape[1] / sr / 60
    rate = runs / max(minutes, 1e-6)
    values, counts = np.unique(
        np.round(_db(np.abs(samples[0][np.abs(samples[0]) > peak * 0.25]) / peak), 1), return_counts=True
    )
    params: dict[str, float | str] = {
        "clip_level_dbfs": float(_db(peak)),
        "clipped_runs_per_min": float(rate),
        "clipped_share_pct": 100.0 * clipped / samples.size,
    }
    detected, confidence = decide("clipping", params)
    return Finding(
        "clipping",
        detected,
        confidence,
        parameters=params,
        description=(
            f"hard clipping at {_db(peak):.1f} dBFS: {rate:.0f} flat-topped runs per minute "
            f"({100.0 * clipped / samples.size:.2f} % of samples)"
            if detected
            else "no flat-topped clipping"
        ),
        evidence=Evidence(
            title="Sample magnitude histogram (clipping piles samples at the ceiling)",
            x=values,
            curves={"samples (log10 count)": np.log10(counts + 1.0)},
            xlabel="level re. peak (dB)",
            ylabel="log10 count",
        ),
    )


def frame_peaks_db(samples: np.ndarray, sr: int, frame_s: float = PEAK_FRAME_S) -> np.ndarray:
    hop = int(sr * frame_s)
    n = samples.shape[1] // hop
    return _db(np.abs(samples[:, : n * hop]).reshape(samples.shape[0], n, hop).max(axis=(0, 2)))


def detect_limiting(sig: Signal) -> Finding:
    """Brick-wall limiting: many loud frames whose peaks sit within 0.5 dB of one ceiling."""
    samples, sr = sig.samples, sig.sr
    peaks = frame_peaks_db(samples, sr)
    ceiling = float(np.percentile(peaks, 99.9))
    loud = peaks > ceiling - 12
    share = float(np.mean(peaks[loud] >= ceiling - 0.5)) * float(loud.mean()) if loud.any() else 0.0
    hist_x = np.arange(-24.0, 0.51, 0.25)
    hist, _ = np.histogram(peaks - ceiling, bins=np.append(hist_x, 0.75))
    params: dict[str, float | str] = {"ceiling_dbfs": ceiling, "frames_at_ceiling_pct": 100 * share}
    detected, confidence = decide("limiting", params)
    return Finding(
        "limiting",
        detected,
        confidence,
        parameters=params,
        description=(
            f"brick-wall limiting: {100 * share:.1f} % of 10 ms frames peak within 0.5 dB of {ceiling:.1f} dBFS"
            if detected
            else f"no limiter ceiling ({100 * share:.1f} % of frames at the peak level)"
        ),
        evidence=Evidence(
            title="10 ms frame peaks re. the ceiling (limiting stacks them at 0 dB)",
            x=hist_x,
            curves={"frames": hist.astype(float)},
            xlabel="frame peak re. ceiling (dB)",
            ylabel="frames",
        ),
    )


def onset_dip_db(sig: Signal) -> float:
    """Gain-reduction estimate: how far the sustained level drops 20-80 ms after the strongest transients,
    compared with the 100 ms before them (a compressor ducks everything under a drum hit; without one the
    sustained parts carry on or rise with a new note). Median over the top third of onsets, in dB."""
    import librosa

    env, strength = sig.sustained_db, sig.onset_strength
    peaks = librosa.util.peak_pick(strength, pre_max=5, post_max=5, pre_avg=10, post_avg=10, delta=0.1, wait=10)
    peaks = peaks[(peaks > 12) & (peaks < len(env) - 8)]
    if len(peaks) < 4:
        return 0.0
    strong = peaks[strength[peaks] >= np.percentile(strength[peaks], 67)]
    dips = [float(env[i - 12 : i - 2].mean() - env[i + 2 : i + 8].mean()) for i in strong]
    return float(np.median(dips))


def detect_compression(sig: Signal) -> Finding:
    """Dynamic-range compression: the loud half of the clip held within a few dB (spread of the 50 ms RMS level
    between its 10th and 95th percentiles), with the short-term crest factor and a gain-reduction estimate."""
    mono, sr = sig.mono, sig.sr
    hop = int(sr * CREST_FRAME_S)
    n = len(mono) // hop
    frames = mono[: n * hop].reshape(n, hop)
    rms = _db(np.sqrt(np.mean(np.square(frames), axis=1)))
    peak = _db(np.abs(frames).max(axis=1))
    loud = rms > np.percentile(rms, 50)
    crest = float(np.median((peak - rms)[loud])) if loud.any() else 0.0
    spread = float(np.percentile(rms[loud], 95) - np.percentile(rms[loud], 10)) if loud.any() else 0.0
    params: dict[str, float | str] = {
        "short_term_crest_db": crest,
        "loud_level_spread_db": spread,
        "gain_reduction_db": onset_dip_db(sig),
    }
    detected, confidence = decide("compression", params)
    return Finding(
        "compression",
        detected,
        confidence,
        parameters=params,
        description=(
            f"compressed: loud passages held within {spread:.1f} dB, short-term crest factor {crest:.1f} dB, "
            f"sustained parts dip {params['gain_reduction_db']:.1f} dB under each hit"
            if detected
            else f"dynamic (loud passages span {spread:.1f} dB)"
        ),
        evidence=Evidence(
            title="Short-term level (50 ms RMS) and peaks",
            x=np.arange(n) * CREST_FRAME_S,
            curves={"peak (dBFS)": peak, "RMS (dBFS)": rms},
            xlabel="time (s)",
            ylabel="dBFS",
        ),
    )
