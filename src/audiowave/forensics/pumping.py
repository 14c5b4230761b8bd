"""Sidechain pumping: the sustained parts duck on every beat (or 1/8, 1/2 note) and recover.

Written by hand (no library detects it). The harmonic part (HPSS, 150 Hz-8 kHz) is cut into beat-anchored
periods. A sidechain moves every sustained part by the same gain, so the statistic follows the bands' common
level: each of 40 log-spaced bands' level per period less its mean, averaged over the bands within 20 dB of the
loudest (weighted by the square root of their amplitude), and how much lower it sits just after the trigger than
in the second half of the period, median over the periods. Music has its own beat-locked swells and decays, but
they differ from band to band and from period to period. On the dev corpus' effect cases (72 ducked over 3 seeds,
480 others, compression and limiting left out), with the threshold fitted on either half of the clips and scored
on the other, F1 0.66 / 0.64, against 0.44 / 0.47 for the previous statistic (the level-weighted shape x depth of
each frequency bin's median period less the same on a grid shifted by 3/8 period). The choice of bands and weights
matters: over 36 variants (40 or 20 log bands, bands at least 2-3 bins wide, single bins; amplitude, its square
root or equal weights; within 20 or 30 dB) F1 ranged 0.31-0.69, banded ones mostly 0.5-0.66; single bins were the
least stable. The share of band-periods that dip scored 0.61 / 0.62. The official ``eval --forensics`` (seed 0 only:
12 ducked clips per half) refits 3.06 dB and scores the held-out half 0.50 (4 of 12 found, no false alarm), the
previous statistic 0.56 (5 found, 1 false alarm): within one case of each other at that size. Fast 1/8-note ducks
over parts that restart on every trigger (a bass's attacks fill the dip in its bands) are the weak spot.

Depth, release and the picture come from the bin-wise fold on the chosen grid: each bin's median period matched
against ducking shapes (a dip at the trigger recovering over part of the period), depth weighted over the bins
that duck, so loud unducked drums in other bins do not fill the dips.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import librosa
import numpy as np

from audiowave.forensics.common import ENV_HOP_S, Evidence, Finding, Signal, note_value
from audiowave.forensics.rules import decide
from audiowave.hpss import hpss_masks

PHASE_BINS = 32
RATES = (0.5, 1.0, 2.0)  # period in beats
TRANSIENT_S = 0.025
WINDOW_S = 0.046  # analysis window of the bin-wise fold (2048 samples at 44.1 kHz)
BAND_HZ = (150.0, 8000.0)
HPSS_KERNEL = 31  # librosa's default median filter length (frames and bins)
WITHIN_DB = 40.0  # bins this far below the loudest bin still count
DUCKING_SHAPE = 0.7  # a bin whose median period correlates this well with a ducking shape "ducks"
BANDS = 40  # log-spaced bands whose common level the detection follows
COMMON_WITHIN_DB = 20.0  # bands this far below the loudest still count in the common level
EARLY_BINS = 3  # phase bins just after the trigger's transient where the common level is read


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


def harmonic_spectrogram(mono: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray, float]:
    """dB magnitude of the harmonic part (HPSS soft mask) in BAND_HZ, (bins, frames), the bins' frequencies and the
    frame hop in s."""
    hop, n_fft = round(sr * ENV_HOP_S), int(2 ** np.round(np.log2(WINDOW_S * sr)))
    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    # The masks of the bins in the band depend on HPSS_KERNEL // 2 bins either side only: leave out the rest
    # (the median filters over all bins cost most of the detector's time).
    top = min(int(np.searchsorted(freqs, BAND_HZ[1])) + HPSS_KERNEL // 2 + 1, len(freqs))
    mag = np.abs(librosa.stft(mono, n_fft=n_fft, hop_length=hop))[:top]
    mask, _ = hpss_masks(mag, kernel_size=HPSS_KERNEL)
    band = (freqs[:top] > BAND_HZ[0]) & (freqs[:top] < BAND_HZ[1])
    return 20 * np.log10(mag[band] * mask[band] + 1e-6), freqs[:top][band], hop / sr


def band_levels(spec_db: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """(bands, frames) dB mean power of ``spec_db``'s bins (at ``freqs``) in BANDS log-spaced bands; fewer where
    low bands narrower than a bin would share one."""
    edges = np.unique(np.searchsorted(freqs, np.geomspace(freqs[0], freqs[-1], BANDS + 1)[:-1]))
    power = 10 ** (spec_db / 10)
    return 10 * np.log10(np.add.reduceat(power, edges, axis=0) / np.diff([*edges, len(freqs)])[:, None] + 1e-12)


def cut_periods(levels: np.ndarray, hop_s: float, grid: np.ndarray) -> np.ndarray | None:
    """Per row, its level over each period between consecutive triggers, resampled to PHASE_BINS frames with its
    mean removed: (rows, periods, PHASE_BINS). None with fewer than 4 whole periods."""
    frames = [
        np.round((a + (b - a) * np.arange(PHASE_BINS) / PHASE_BINS) / hop_s).astype(int)
        for a, b in itertools.pairwise(grid)
        if a >= 0 and b / hop_s < levels.shape[1]
    ]
    if len(frames) < 4:
        return None
    periods = levels[:, np.array(frames)]
    return periods - periods.mean(axis=2, keepdims=True)


def common_dip_db(bands_db: np.ndarray, hop_s: float, grid: np.ndarray, skip: int) -> float | None:
    """How much lower the bands' common level is in the EARLY_BINS after phase bin ``skip`` than over the second
    half of the period (dB, median over the periods): the per-period levels averaged over the bands within
    COMMON_WITHIN_DB of the loudest, weighted by the square root of their amplitude (by amplitude, the one or two
    loudest bands decide; equally, quiet bands add their noise). None with too few periods."""
    periods = cut_periods(bands_db, hop_s, grid)
    if periods is None:
        return None
    level = bands_db.mean(axis=1)
    weight = np.where(level > level.max() - COMMON_WITHIN_DB, 10 ** (level / 40), 0.0)
    common = np.tensordot(weight / weight.sum(), periods, axes=(0, 0))  # (periods, phase)
    dips = common[:, PHASE_BINS // 2 :].mean(axis=1) - common[:, skip : skip + EARLY_BINS].mean(axis=1)
    return float(np.median(dips))


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
    def ducking(self) -> np.ndarray:
        """Mask of the counted bins whose median period has the ducking shape."""
        return (self.corr >= DUCKING_SHAPE) & (self.weight > 0)


def bin_fold(spec_db: np.ndarray, hop_s: float, grid: np.ndarray, skip: int) -> BinFold | None:
    """Fold every bin on ``grid`` and match its median period with the ducking shapes (None: too few periods)."""
    periods = cut_periods(spec_db, hop_s, grid)
    if periods is None:
        return None
    profiles = np.median(periods, axis=1)
    corr, depth = bin_ducking(profiles, skip)
    level = spec_db.mean(axis=1)
    weight = np.where(level > level.max() - WITHIN_DB, 10 ** (level / 20), 0.0)
    return BinFold(profiles[:, skip:], corr, depth, weight)


def detect_sidechain(sig: Signal) -> Finding:
    """Pumping on the grid (every 1/2, 1 or 2 beats) where the bands' common level dips most after the triggers
    (:func:`common_dip_db`); rate (note value), depth (dB) and release from the bin-wise fold on that grid. The
    picture shows the median period of every bin that ducks."""
    period, beats = sig.beat_grid
    if period <= 0 or len(beats) < 4:
        return Finding("sidechain", False, 0.0, description="no beat grid to fold the level on")
    spec, freqs, hop_s = harmonic_spectrogram(sig.mono, sig.sr)
    bands = band_levels(spec, freqs)
    best = None
    for rate in RATES:
        grid = trigger_grid(beats, rate)
        # The trigger's own transient (a kick or hat on the grid) sits in the first ~25 ms: leave it out.
        skip = int(np.ceil(TRANSIENT_S / (rate * period / PHASE_BINS)))
        dip = common_dip_db(bands, hop_s, grid, skip)
        if dip is not None and (best is None or dip > best[0]):
            best = (dip, rate, grid, skip)
    if best is None:
        return Finding("sidechain", False, 0.0, description="too few beats to fold the level on")
    dip, rate, grid, skip = best
    fold = bin_fold(spec, hop_s, grid, skip)  # the same whole periods as the bands had
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
        "common_dip_db": dip,  # the bands' common level after the triggers, below the periods' second half
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
            else f"no pumping (best fold {every}: the sustained level {dip:.1f} dB lower after the triggers)"
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
