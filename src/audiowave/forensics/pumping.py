"""Sidechain pumping: the sustained parts duck on every beat (or 1/8, 1/2 note) and recover.

Written by hand (no library detects it): the level of the harmonic part (HPSS, above 150 Hz, so kick
drums and bass notes that start on the beat do not mask the dips) is cut into beat-anchored periods;
their median profile is matched against ducking shapes (a dip at the trigger recovering over part of
the period). Notes that start on the beat give the opposite shape (a peak then a decay).
"""

from __future__ import annotations

import itertools

import librosa
import numpy as np

from audiowave.forensics.common import ENV_HOP_S, Evidence, Finding, Signal, note_value
from audiowave.forensics.rules import decide

PHASE_BINS = 32
RATES = (0.5, 1.0, 2.0)  # period in beats
TRANSIENT_S = 0.025


def ducking_fit(profile: np.ndarray, skip: int) -> tuple[float, float]:
    """Best correlation of the profile (phase bins ``skip``..) with a ducking template, and the depth (dB) of
    that template fitted by least squares: extrapolated to the trigger, under its transient."""
    best = (-1.0, 0.0)
    for template in TEMPLATES:
        part = template[skip : skip + len(profile)]
        if part.std() == 0:
            continue
        corr = float(np.corrcoef(profile, part)[0, 1])
        if corr > best[0]:
            slope = float(np.polyfit(part, profile, 1)[0])  # profile ~ offset + depth * template (template 0..-1)
            best = (corr, max(slope, 0.0))
    return best


def _ducking_templates() -> np.ndarray:
    phase = np.linspace(0, 1, PHASE_BINS, endpoint=False)
    rows = []
    for release in (0.3, 0.5, 0.7, 0.9):
        rows.append(-np.clip(1 - phase / release, 0, 1))
        rows.append(-np.exp(-phase / (release / 3)))
    return np.array(rows)


TEMPLATES = _ducking_templates()


def trigger_grid(beats: np.ndarray, rate: float) -> np.ndarray:
    """Trigger times every ``rate`` beats, anchored on the detected beats."""
    if rate == 1.0:
        return beats
    if rate == 0.5:
        mids = (beats[:-1] + beats[1:]) / 2
        return np.sort(np.concatenate([beats, mids]))
    return beats[:: int(rate)]


def _folded(env: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Envelope (dB) of each period between consecutive triggers, resampled to PHASE_BINS, mean removed."""
    rows = []
    for a, b in itertools.pairwise(grid):
        i, j = int(a / ENV_HOP_S), int(b / ENV_HOP_S)
        if j > len(env) or j - i < 8:
            continue
        seg = env[i:j]
        row = np.interp(np.linspace(0, len(seg) - 1, PHASE_BINS), np.arange(len(seg)), seg)
        rows.append(row - row.mean())
    return np.array(rows)


def sustained_envelope(mono: np.ndarray, sr: int) -> np.ndarray:
    """dB level per 10 ms of the harmonic part above 150 Hz."""
    hop = int(sr * ENV_HOP_S)
    spec = librosa.stft(mono, n_fft=2 * hop, hop_length=hop, center=False)  # 20 ms: short dips survive
    mag = np.abs(spec)
    mask, _ = librosa.decompose.hpss(mag, mask=True)  # a soft mask keeps the level changes median filters smooth
    harmonic = mag * mask
    freqs = librosa.fft_frequencies(sr=sr, n_fft=2 * hop)
    power = np.square(harmonic[freqs > 150]).sum(axis=0)
    level = 10 * np.log10(power + 1e-10)
    return np.concatenate([np.full(1, level[0]), level])  # frame i starts at (i - 1) hops: centre it


def detect_sidechain(sig: Signal) -> Finding:
    """Pumping rate (note value), depth (dB) and regularity from the beat-folded sustained level."""
    period, beats = sig.beat_grid
    env = sig.sustained_db
    best = None
    for rate in RATES:
        if period <= 0 or len(beats) < 4:
            break
        grid = trigger_grid(beats, rate)
        rows = _folded(env, grid)
        if len(rows) < 4:
            continue
        # The trigger's own transient (a kick or hat on the grid) sits in the first ~25 ms: leave it out.
        skip = int(np.ceil(TRANSIENT_S / (rate * period / PHASE_BINS)))
        profile = np.median(rows, axis=0)[skip:]
        shape, depth = ducking_fit(profile, skip)
        regular = float(np.median([np.corrcoef(r[skip:], profile)[0, 1] for r in rows if r[skip:].std() > 0] or [0.0]))
        score = max(shape, 0) * depth * max(regular, 0)
        if best is None or score > best[0] * 1.25:  # prefer the slower rate unless clearly better
            best = (score, rate, profile, rows[:, skip:], shape, depth, regular, skip)
    if best is None:
        return Finding("sidechain", False, 0.0, description="no beat grid to fold the level on")
    _, rate, profile, rows, shape, depth, regular, skip = best
    label, _ = note_value(rate * period, period)
    phase = np.linspace(0, rate, PHASE_BINS, endpoint=False)[skip:]
    lo = int(np.argmin(profile))
    recover = np.nonzero(profile[lo:] >= profile.max() - 1.0)[0]
    every = f"{label} note" if label else f"{rate:g} beats"
    release = (recover[0] if len(recover) else PHASE_BINS - lo) / PHASE_BINS * rate * period
    params: dict[str, float | str] = {
        "rate": label or f"{rate:g} beats",
        "rate_beats": float(rate),
        "depth_db": depth,
        "release_s": float(release),
        "shape_match": shape,
        "regularity": regular,
        "pumping_score": max(shape, 0.0) * depth,  # a clear ducking shape that is also deep
    }
    detected, confidence = decide("sidechain", params)
    return Finding(
        "sidechain",
        detected,
        confidence,
        parameters=params,
        description=(
            f"sidechain pumping every {every}, {depth:.1f} dB deep, recovering in {release * 1000:.0f} ms"
            if detected
            else f"no pumping (best fold {label}: shape {shape:.2f}, depth {depth:.1f} dB)"
        ),
        evidence=Evidence(
            title=f"Sustained level folded on every {every} (rows: periods, line: median)",
            x=phase,
            curves={"median level (dB)": profile},
            xlabel="beats after trigger",
            ylabel="dB re. period mean",
            image=rows,
            image_label="period",
        ),
    )
