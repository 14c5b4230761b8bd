"""Phaser: a few broad notches (all-pass stages mixed with the dry sound) swept up and down the spectrum
together by an LFO.

Hand-written (no library detects one). On a log-frequency spectrogram (1/8-octave bands, 35 ms windows every
20 ms: a wide sweep moves an octave in 50 ms) with the clip's static spectrum, each frame's broadband level and
its slow spectral tilt removed, a phaser's notch pattern is one shape slid along the log-frequency axis by
A sin(2 pi r t + phi) (an all-pass cascade's notches sit at fixed ratios of its moving cutoff). Candidate rates
are the lines of the bands' summed modulation spectrum that stand out, and half of each (a band inside the
sweep sees a notch pass twice per cycle). At each rate the frames are folded on the LFO cycle and slid back by
every (A, phi) of a grid; the energy of the common shape that this aligns, over the residual's, is the
alignment. How far the best alignment stands above the controls' (the best at rates 27 % off) is the
evidence. A chorus's or flanger's comb shifts the same way but over less than an octave here (its notches
are too close to resolve in 1/8-octave bands above a few hundred hertz); the rule requires a wider sweep.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import scipy.ndimage
import scipy.signal
import scipy.sparse

from audiowave.forensics.common import Evidence, Finding, Signal, fold, note_value
from audiowave.forensics.rules import decide

BANDS_PER_OCTAVE = 8
LOWEST_HZ, HIGHEST_HZ = 180.0, 16000.0  # from where the window's 29 Hz bins fill every band
HOP_S = 0.02
N_FFT = 1536  # 35 ms at 44.1 kHz
PHASE_BINS = 24  # the LFO cycle is folded into this many frames
SWINGS_OCTAVES = np.arange(0.25, 3.01, 0.25)  # A: half the sweep, in octaves
LFO_PHASES = np.arange(16) * 2 * np.pi / 16
RATE_RANGE_HZ = (0.08, 2.0)  # the usual phaser LFO rates
MIN_CYCLES = 2.5  # LFO cycles the clip must hold
CONTROL_RATIO = 1.27
CLIP_DB = 15.0


@dataclass
class PhaserTrack:
    """The best LFO sweep of a notch shape found: rate (Hz), half swing (octaves), phase, alignment and the
    controls' alignment, the aligned shape (dB per band) and the residual image for the picture."""

    rate_hz: float
    swing_octaves: float
    phase: float
    alignment: float
    control: float
    shape_db: np.ndarray
    times: np.ndarray
    residual: np.ndarray  # (frames, bands)

    @property
    def ratio(self) -> float:
        return self.alignment / max(self.control, 1e-9)

    @property
    def notch_hz(self) -> float:
        """Frequency of the shape's deepest notch at the centre of the sweep."""
        return float(band_hz(int(np.argmin(self.shape_db))))

    def notch_path_octaves(self) -> np.ndarray:
        """The deepest notch's position over time, in octaves above LOWEST_HZ."""
        centre = np.log2(self.notch_hz / LOWEST_HZ)
        return centre + self.swing_octaves * np.sin(2 * np.pi * self.rate_hz * self.times + self.phase)


def band_hz(k: int | np.ndarray) -> np.ndarray:
    return LOWEST_HZ * 2 ** ((np.asarray(k) + 0.5) / BANDS_PER_OCTAVE)


def band_levels(mono: np.ndarray, sr: int) -> np.ndarray:
    """(frames, bands) level in dB of the 1/BANDS_PER_OCTAVE-octave bands from LOWEST_HZ to HIGHEST_HZ (or near
    Nyquist)."""
    hop = int(sr * HOP_S)
    if len(mono) < N_FFT + 8 * hop:
        return np.zeros((0, 0))
    frames = np.lib.stride_tricks.sliding_window_view(mono.astype(np.float64), N_FFT)[::hop] * np.hanning(N_FFT)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    top = min(HIGHEST_HZ, 0.45 * sr)
    n_bands = int(np.log2(top / LOWEST_HZ) * BANDS_PER_OCTAVE)
    band = np.floor(np.log2(np.maximum(np.fft.rfftfreq(N_FFT, 1 / sr), 1e-3) / LOWEST_HZ) * BANDS_PER_OCTAVE)
    inside = (band >= 0) & (band < n_bands)
    sums = np.zeros((power.shape[0], n_bands))
    np.add.at(sums.T, band[inside].astype(int), power[:, inside].T)
    counts = np.bincount(band[inside].astype(int), minlength=n_bands)
    return 10 * np.log10(sums / np.maximum(counts, 1) + 1e-12)


def notch_residual(levels: np.ndarray) -> np.ndarray:
    """The band levels less the clip's static spectrum, each frame's broadband level and its slow spectral tilt
    (2-octave moving mean): what moves in the spectrum. Near-silent frames are zeroed."""
    r = levels - np.median(levels, axis=0)
    r = r - np.median(r, axis=1, keepdims=True)
    r = r - scipy.ndimage.uniform_filter1d(r, size=2 * BANDS_PER_OCTAVE + 1, axis=1, mode="nearest")
    loudness = np.median(levels, axis=1)
    r[loudness < np.median(loudness) - 40] = 0.0
    return np.clip(r, -CLIP_DB, CLIP_DB)


def _selection() -> scipy.sparse.csr_array:
    """(A x phi, P x shifts) 0/1 matrix: row (A, phi) picks, for every phase bin, the shift its sweep puts there,
    so one product with the folded frames at every shift sums the slid frames of every sweep at once."""
    theta = 2 * np.pi * (np.arange(PHASE_BINS) + 0.5) / PHASE_BINS
    sweeps = SWINGS_OCTAVES[:, None, None] * BANDS_PER_OCTAVE * np.sin(theta[None, None, :] + LFO_PHASES[None, :, None])
    shifts = np.rint(sweeps).astype(int).reshape(-1, PHASE_BINS)  # (A x phi, P) in bands
    reach = int(np.abs(shifts).max())
    select = np.zeros((shifts.shape[0], PHASE_BINS, 2 * reach + 1), dtype=np.float32)
    rows = np.arange(shifts.shape[0])[:, None]
    select[rows, np.arange(PHASE_BINS)[None, :], shifts + reach] = 1.0
    return scipy.sparse.csr_array(select.reshape(shifts.shape[0], -1))


_SELECT = _selection()
_REACH = (_SELECT.shape[1] // PHASE_BINS - 1) // 2


@cache
def _reaching(n_bands: int) -> np.ndarray:
    """(A x phi, bands): how many phase bins each sweep slides onto each band."""
    return _SELECT @ _at_every_shift(np.ones((PHASE_BINS, n_bands), dtype=np.float32))


def _at_every_shift(folded: np.ndarray) -> np.ndarray:
    """(P x shifts, bands): each phase bin's frame slid by every shift from -_REACH to _REACH (zeros outside)."""
    padded = np.pad(folded.astype(np.float32), ((0, 0), (_REACH, _REACH)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, folded.shape[1], axis=1)  # (P, shifts, B)
    return windows.reshape(-1, folded.shape[1])


def best_alignment(folded: np.ndarray, energy: float) -> tuple[float, int, int, np.ndarray]:
    """(alignment, swing index, phase index, shape) of the (A, phi) that slides the folded frames into the most
    common shape. Per band the shape is the mean of the slid frames that reach it (half the cycle at least: a
    wide sweep slides the spectrum's ends out); its energy is estimated without the noise of averaging few
    frames (mean^2 - var/n), weighted by frames, over the residual's ``energy``."""
    slid = _at_every_shift(folded)
    n = _reaching(folded.shape[1])
    total, squares = _SELECT @ slid, _SELECT @ np.square(slid)
    used = n >= PHASE_BINS // 2
    weight = np.where(used, n, 0.0)
    mean = total / np.maximum(n, 1)
    spread = (squares - n * mean**2) / np.maximum(n - 1, 1)
    offset = ((weight * mean).sum(axis=1) / np.maximum(weight.sum(axis=1), 1))[:, None]
    frames = weight.sum(axis=1)
    signal = (weight * ((mean - offset) ** 2 - spread / np.maximum(n, 1))).sum(axis=1)
    score = np.where(frames >= 2 * BANDS_PER_OCTAVE * PHASE_BINS, signal / np.maximum(frames, 1), 0.0)
    k = int(np.argmax(score))
    a, p = divmod(k, len(LFO_PHASES))
    return float(score[k]) / energy, a, p, np.where(used[k], mean[k] - offset[k], np.nan)


def candidate_rates(residual: np.ndarray, fps: float, count: int = 8) -> list[float]:
    """The lines of the bands' summed modulation spectrum (within RATE_RANGE_HZ) that stand out most over the
    spectrum within 30 % of their rate (music's own modulation falls with rate), and half of each."""
    n = residual.shape[0]
    spectrum = np.abs(np.fft.rfft((residual - residual.mean(axis=0)) * np.hanning(n)[:, None], 4 * n, axis=0))
    power = (spectrum**2).sum(axis=1)
    freqs = np.fft.rfftfreq(4 * n, 1 / fps)
    inside = (freqs >= RATE_RANGE_HZ[0]) & (freqs <= RATE_RANGE_HZ[1])
    peaks, _ = scipy.signal.find_peaks(np.where(inside, power, 0.0))

    def prominence(k: int) -> float:
        near = (freqs >= freqs[k] / 1.3) & (freqs <= freqs[k] * 1.3)
        return float(power[k] / (np.median(power[near]) + 1e-12))

    strongest = [float(freqs[k]) for k in sorted(peaks, key=lambda k: -prominence(k))[:count]]
    return sorted({round(f * m, 4) for f in strongest for m in (0.5, 1.0)})


def swept_notches(mono: np.ndarray, sr: int) -> PhaserTrack | None:
    """The best LFO-swept notch shape in ``mono``; None when the clip is too short for MIN_CYCLES slow cycles.
    Each candidate rate is refined on a grid of 1/20 LFO cycle over the clip (a wide sweep misaligns fast
    with the LFO's phase) and scored against its controls; the best is refined again to 1/100 cycle."""
    levels = band_levels(mono, sr)
    if levels.shape[0] < 40:
        return None
    residual = notch_residual(levels)
    times = np.arange(residual.shape[0]) * HOP_S
    duration = float(times[-1] + HOP_S)
    energy = float(np.mean(residual**2)) + 1e-9
    rates = [r for r in candidate_rates(residual, 1 / HOP_S) if r * duration >= MIN_CYCLES and r <= RATE_RANGE_HZ[1]]
    if not rates:
        return None

    @cache  # the candidate search asks again for the rates it refined to
    def aligned(rate: float) -> tuple[float, int, int, np.ndarray]:
        return best_alignment(fold(residual, times, rate, PHASE_BINS), energy)

    def refine(rate: float, step_cycles: float, steps: int) -> float:
        grid = rate + np.arange(-steps, steps + 1) * step_cycles / duration
        return max((g for g in grid if g > 0), key=lambda g: aligned(g)[0])

    def control(rate: float) -> float:
        return max(aligned(rate * k)[0] for k in (CONTROL_RATIO, 1 / CONTROL_RATIO))

    rate = max((refine(r, 0.05, 12) for r in rates), key=lambda g: aligned(g)[0] / max(control(g), 1e-9))
    rate = refine(rate, 0.01, 4)
    alignment, a, p, shape = aligned(rate)
    return PhaserTrack(
        rate_hz=float(rate),
        swing_octaves=float(SWINGS_OCTAVES[a]),
        phase=float(LFO_PHASES[p]),
        alignment=alignment,
        control=control(rate),
        shape_db=np.nan_to_num(shape, nan=0.0),
        times=times,
        residual=residual,
    )


def detect_phaser(sig: Signal) -> Finding:
    """Rate (Hz, note value), sweep (octaves) and deepest notch of the best LFO-swept notch shape."""
    track = swept_notches(sig.mono, sig.sr)
    if track is None:
        return Finding("phaser", False, 0.0, description=f"clip too short for {MIN_CYCLES:g} LFO cycles")
    label, _ = note_value(1 / track.rate_hz, sig.beat_grid[0])
    low, high = track.notch_hz * 2**-track.swing_octaves, track.notch_hz * 2**track.swing_octaves
    params: dict[str, float | str] = {
        "rate_hz": track.rate_hz,
        "note_value": label,
        "swing_octaves": track.swing_octaves,
        "notch_hz": track.notch_hz,
        "notch_depth_db": float(-np.min(track.shape_db)),
        "alignment": track.alignment,
        "alignment_ratio": track.ratio,
    }
    detected, confidence = decide("phaser", params)
    path = track.notch_path_octaves()
    top = track.residual.shape[1] / BANDS_PER_OCTAVE
    return Finding(
        "phaser",
        detected,
        confidence,
        parameters=params,
        description=(
            f"phaser: notches swept {low:.0f}-{high:.0f} Hz at {track.rate_hz:.2f} Hz"
            f"{f' ({label} note)' if label else ''}"
            if detected
            else "no phaser"
        ),
        spans=[(0.0, float(track.times[-1]))] if detected else [],
        evidence=Evidence(
            title=f"What moves in the spectrum: a phaser's notches slide together (found {track.rate_hz:.2f} Hz, "
            f"+/-{track.swing_octaves:g} octaves)",
            x=track.times,
            curves={"deepest notch found": np.where((path >= 0) & (path <= top), path, np.nan)},
            xlabel="time (s)",
            ylabel=f"octaves above {LOWEST_HZ:.0f} Hz",
            image=track.residual.T,
            image_label="level re. clip (dB)",
            image_y=(0.0, float(top)),
        ),
    )
