"""Sidechain pumping: the sustained parts duck on every beat (or 1/8, 1/2 note) and recover.

Written by hand (no library detects it): the harmonic part (HPSS, 150 Hz-8 kHz) is cut into
beat-anchored periods, frequency bin by frequency bin; each bin's median period is matched against
ducking shapes (a dip at the trigger recovering over part of the period). Notes that start on the beat
give the opposite shape (a peak then a decay). Folding bin by bin rather than the summed level keeps
the drums, which are not ducked and sound in other bins than the held notes, from filling the dips.
The score is the level-weighted ducking (shape x depth) over the bins, less the same measure on a grid
shifted by 3/8 of a period (what the material's own rhythm gives).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import librosa
import numpy as np

from audiowave.forensics.common import ENV_HOP_S, Evidence, Finding, Signal, note_value
from audiowave.forensics.rules import decide

PHASE_BINS = 32
RATES = (0.5, 1.0, 2.0)  # period in beats
TRANSIENT_S = 0.025
WINDOW_S = 0.046  # analysis window of the bin-wise fold (2048 samples at 44.1 kHz)
BAND_HZ = (150.0, 8000.0)
HPSS_KERNEL = 31  # librosa's default median filter length (frames and bins)
WITHIN_DB = 40.0  # bins this far below the loudest bin still count
DUCKING_SHAPE = 0.7  # a bin whose median period correlates this well with a ducking shape "ducks"
CONTROL_SHIFT = 0.375  # the control grid: triggers moved by 3/8 of a period


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


def harmonic_spectrogram(mono: np.ndarray, sr: int) -> tuple[np.ndarray, float]:
    """dB magnitude of the harmonic part (HPSS soft mask) in BAND_HZ, (bins, frames), and its frame hop in s."""
    hop, n_fft = round(sr * ENV_HOP_S), int(2 ** np.round(np.log2(WINDOW_S * sr)))
    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    # The masks of the bins in the band depend on HPSS_KERNEL // 2 bins either side only: leave out the rest
    # (the median filters over all bins cost most of the detector's time).
    top = min(int(np.searchsorted(freqs, BAND_HZ[1])) + HPSS_KERNEL // 2 + 1, len(freqs))
    mag = np.abs(librosa.stft(mono, n_fft=n_fft, hop_length=hop))[:top]
    mask, _ = librosa.decompose.hpss(mag, kernel_size=HPSS_KERNEL, mask=True)
    band = (freqs[:top] > BAND_HZ[0]) & (freqs[:top] < BAND_HZ[1])
    return 20 * np.log10(mag[band] * mask[band] + 1e-6), hop / sr


def fold_bins(spec_db: np.ndarray, hop_s: float, grid: np.ndarray) -> np.ndarray | None:
    """Per bin, the median over periods between consecutive triggers of its level, each period resampled to
    PHASE_BINS frames with its mean removed: (bins, PHASE_BINS). None with fewer than 4 whole periods."""
    frames = [
        np.round((a + (b - a) * np.arange(PHASE_BINS) / PHASE_BINS) / hop_s).astype(int)
        for a, b in itertools.pairwise(grid)
        if a >= 0 and b / hop_s < spec_db.shape[1]
    ]
    if len(frames) < 4:
        return None
    periods = spec_db[:, np.array(frames)]  # (bins, periods, phase)
    return np.median(periods - periods.mean(axis=2, keepdims=True), axis=1)


def bin_ducking(profiles: np.ndarray, skip: int) -> tuple[np.ndarray, np.ndarray]:
    """Per bin, the best correlation of its profile (phase bins ``skip``..) with a ducking template and that
    template's least-squares depth (dB, >= 0)."""
    p = profiles[:, skip:] - profiles[:, skip:].mean(axis=1, keepdims=True)
    norms = np.linalg.norm(p, axis=1) + 1e-9
    best_corr, best_depth = np.full(len(p), -1.0), np.zeros(len(p))
    for template in TEMPLATES:
        t = template[skip:] - template[skip:].mean()
        if not t.any():
            continue
        dot = p @ t
        corr = dot / (norms * np.linalg.norm(t))
        better = corr > best_corr
        best_corr = np.where(better, corr, best_corr)
        best_depth = np.where(better, np.maximum(dot / (t @ t), 0.0), best_depth)
    return best_corr, best_depth


@dataclass
class BinFold:
    """The bin-wise fold on one trigger grid: per bin its median period (from phase bin ``skip``), ducking
    correlation, depth (dB) and weight (linear level; 0 for bins more than WITHIN_DB below the loudest)."""

    profiles: np.ndarray
    corr: np.ndarray
    depth: np.ndarray
    weight: np.ndarray

    @property
    def score(self) -> float:
        """Level-weighted mean over the bins of shape x depth (dB)."""
        return float(np.sum(np.maximum(self.corr, 0) * self.depth * self.weight) / (self.weight.sum() + 1e-12))

    @property
    def ducking(self) -> np.ndarray:
        """Mask of the counted bins whose median period has the ducking shape."""
        return (self.corr >= DUCKING_SHAPE) & (self.weight > 0)


def bin_fold(spec_db: np.ndarray, hop_s: float, grid: np.ndarray, skip: int) -> BinFold | None:
    """Fold every bin on ``grid`` and match its median period with the ducking shapes (None: too few periods)."""
    profiles = fold_bins(spec_db, hop_s, grid)
    if profiles is None:
        return None
    corr, depth = bin_ducking(profiles, skip)
    level = spec_db.mean(axis=1)
    weight = np.where(level > level.max() - WITHIN_DB, 10 ** (level / 20), 0.0)
    return BinFold(profiles[:, skip:], corr, depth, weight)


def detect_sidechain(sig: Signal) -> Finding:
    """Pumping rate (note value), depth (dB) and release from the bin-wise fold of the harmonic part on the
    beat grid; the picture shows the median period of every bin that ducks."""
    period, beats = sig.beat_grid
    if period <= 0 or len(beats) < 4:
        return Finding("sidechain", False, 0.0, description="no beat grid to fold the level on")
    spec, hop_s = harmonic_spectrogram(sig.mono, sig.sr)
    best = None
    for rate in RATES:
        grid = trigger_grid(beats, rate)
        # The trigger's own transient (a kick or hat on the grid) sits in the first ~25 ms: leave it out.
        skip = int(np.ceil(TRANSIENT_S / (rate * period / PHASE_BINS)))
        on, control = (bin_fold(spec, hop_s, g, skip) for g in (grid, grid + CONTROL_SHIFT * rate * period))
        if on is None or control is None:
            continue
        score = on.score - control.score
        if best is None or score > best[0] + 0.25 * abs(best[0]):  # prefer the slower rate unless clearly better
            best = (score, rate, skip, on)
    if best is None:
        return Finding("sidechain", False, 0.0, description="too few beats to fold the level on")
    score, rate, skip, fold = best
    ducking = fold.ducking
    depth = float(np.average(fold.depth[ducking], weights=fold.weight[ducking])) if ducking.any() else 0.0
    share = float(fold.weight[ducking].sum() / (fold.weight.sum() + 1e-12))
    rows = ducking if ducking.any() else fold.weight > 0  # the bins shown: those that duck, else every counted bin
    shown = fold.profiles[rows]
    profile = np.average(shown, axis=0, weights=fold.weight[rows])
    label, _ = note_value(rate * period, period)
    every = f"{label} note" if label else f"{rate:g} beats"
    lo = int(np.argmin(profile))
    recover = np.nonzero(profile[lo:] >= profile.max() - 1.0)[0]
    release = (recover[0] if len(recover) else PHASE_BINS - skip - lo) / PHASE_BINS * rate * period
    params: dict[str, float | str] = {
        "rate": label or f"{rate:g} beats",
        "rate_beats": float(rate),
        "depth_db": depth,  # level-weighted over the bins that duck
        "release_s": float(release),
        "ducking_share": share,  # of the level, in bins whose period has the ducking shape
        "ducking_score": score,  # dB: bin-wise shape x depth on the grid, less on the shifted grid
    }
    detected, confidence = decide("sidechain", params)
    return Finding(
        "sidechain",
        detected,
        confidence,
        parameters=params,
        description=(
            f"sidechain pumping every {every}, {depth:.1f} dB deep in {100 * share:.0f} % of the sustained level, "
            f"recovering in {release * 1000:.0f} ms"
            if detected
            else f"no pumping (best fold {every}: ducking score {score:.1f} dB)"
        ),
        evidence=Evidence(
            title=f"Harmonic part folded on every {every}, bin by bin (rows: bins that duck, low to high)",
            x=np.linspace(0, rate, PHASE_BINS, endpoint=False)[skip:],
            curves={"level-weighted median period (dB)": profile},
            xlabel="beats after trigger",
            ylabel="dB re. period mean",
            image=shown,
            image_label="frequency bin",
        ),
    )
