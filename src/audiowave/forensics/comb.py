"""Chorus and flanger: the sound mixed with a copy of itself delayed by a few milliseconds, the delay swept
by a low-frequency oscillator (a flanger's delay is short, 0.5-5 ms, usually with feedback; a chorus's
longer, 5-30 ms).

Hand-written (no library detects them). Mixing a signal with a copy delayed by d puts a comb on its
spectrum, which is a peak at quefrency d in the real cepstrum; the LFO moves that peak along a sinusoid.
So: the cepstrogram (0.3-25 ms), normalised per quefrency and held still parts removed (a sustained
note's pitch is a horizontal line, a drum hit a vertical one); the period of what is left once only
oblique structure is kept (its temporal autocorrelation) proposes LFO rates; at each, the sinusoidal
path (centre, depth, phase) with the highest mean cepstral level is searched. How far its median level
(high only where the line runs through the whole clip) stands above the controls' (the best paths at
rates 27 % off) was the evidence until the path's correlation below replaced it (it is still reported). Both
rules also require a swing of 0.7 ms or more: the false paths (and the true effects' paths found astray) sit on the
depth search's lowest steps, 0.50 and 0.59 ms. On the dev corpus' cases (72
chorus and 72 flanger cases over 3 seeds, each against the 576 others), thresholds fitted on one half of the clips,
the flanger's held-out F1 went 0.81 / 0.56 -> 0.84 / 0.80 (the half fitted low had passed 33 shallow paths); the
chorus's 0.82 / 0.75 -> 0.82 / 0.74 (one case).

The evidence the rules read is the path's sample-domain correlation (:func:`path_z`). A fast sweep's comb moves up
to 1 ms within one 46 ms frame and smears in the cepstrogram, so its path scores low there (the log score correlated
-0.72 with the delay's peak speed). Along the path itself nothing smears: the signal, whitened (each bin divided by its
running median over time, so held notes and the spectrum's tilt drop out; 0.3-4 kHz), is correlated with itself
delayed by the path, per 50 ms segment, at the path and at the path shifted by up to +-3 ms; the shifted ones are the
control. On the dev corpus' dry cases (48 flangers and 48 choruses over 2 seeds, 912 cases in all; the threshold fitted
on one half of the clips, scored on the other) the flanger's held-out F1 went 0.65 / 0.70 -> 0.78 / 0.78, the chorus's
0.76 / 0.50 -> 0.74 / 0.67; the thresholds fitted on either half agree (flanger 3.4 / 5.0, chorus 10.9 / 10.9). What
is left is the path search: in 11 flanger and 20 chorus cases the path found is not the effect's (its rate, centre or
depth wrong), mostly fast sweeps (18 of the 20 choruses move their delay 10-35 ms/s) and flangers whose delay JUCE's
chorus holds at its 1 ms floor. Choosing among the best paths of every candidate rate by their correlation found the
true one no more often (13 flanger paths wrong). Searching depths from 0.7 ms only (so that a shallow path, which the
rules reject, cannot win the search): right paths flanger 37 -> 35, chorus 28 -> 30 of 48, held-out F1 flanger
0.65 / 0.78, chorus 0.63 / 0.70 (the half fitted low passes 11 deeper false paths); not kept. Reading each frame of the
rate and depth search over the bins a comb smears across at the path's speed (the maximum over +-speed x frame / 4,
each width rescaled to the image's mean and spread): right paths flanger 37 -> 41, chorus 28 -> 30, but held-out F1
flanger 0.74 / 0.81, chorus 0.74 / 0.74; not kept yet.

The path found is then refined where the signal says the delay is (:func:`refined_path`): per segment, the offset
within +-0.6 ms where the correlation peaks, fitted by a change of centre, depth, phase and rate. The search's phase
step (2 pi / 32) and rate (a median 0.14 % off, 0.45 % at worst, which drifts the phase 0.1-0.4 rad by the clip's ends)
leave a fast, deep chorus sweep up to 1.1 ms off its path, past the correlation's +-0.15 ms tolerance. Refined, the
right paths' median errors went: chorus rate 0.14 -> 0.04 %, centre 0.30 -> 0.03 %, depth 1.6 -> 0.08 % (flanger rate
0.14 -> 0.12 %, depth 1.6 -> 0.8 %, centre 0.9 -> 0.9 %), and two more chorus paths became right (28 -> 30 of 48).
The chorus rule reads the correlation along the path refined: held-out F1 0.73 / 0.67 -> 0.79 / 0.68 (the same dry
cases and split; in-sample best F1 0.72 -> 0.77). The flanger's stays along the path found: refined, the clips with
no flanger read 7-14 where they read 0 or less (the fit chases whichever segments peak, and the read follows it;
the controls refined the same way, or over a fixed grid of phase and rate corrections, did not make up for it:
flanger held-out F1 0.60-0.67 on the official split against 0.79).

A candidate rate is only as exact as the autocorrelation's lag, and the search's level falls fast away from the true
rate over a long clip: in 12 chorus and 6 flanger cases the rate chosen was wrong though the true rate's path scored
higher than it (8 and 2 of them with no candidate within 5 % of it). So the three best candidates are searched again
1 and 2 % off, over their best depth's neighbours: right rates flanger 42 -> 45, chorus 36 -> 37 of 48, right paths
37 -> 38 and 30 -> 32; held-out F1 (thresholds refitted on the development half) flanger 0.79 / 0.78 -> 0.80 / 0.80,
chorus 0.79 / 0.68 -> 0.83 / 0.75. With the refinement, :func:`swept_comb` went 3.5 -> 4.5 s per 30 s clip. A +-2 %
grid around every candidate (five times the search) chose the right rate for 38 choruses and 46 flangers. What is
left: 16 chorus paths wrong, all fast sweeps (7.5-35 ms/s), and 10 flanger paths. Even on white noise a JUCE chorus
swinging +-2 ms around 12 ms at 0.9-1.8 Hz is found astray (z 0.5-3.6; 27-42 along its true path). The whitened
signal's correlation at each lag over 12 ms windows (10 ms hop) does not smear there and finds those paths exactly,
but on the dev cases, searched at the found rate's family, it is right less often alone (chorus 27, flanger 20 of 48);
one search or the other is right for 37 choruses and 41 flangers.

So the chorus (:func:`chorus_track`) takes the lag correlogram's path, searched at the found rate, its half and its
double, and at the lag correlogram's own candidate rates (candidate_periods on its frames pooled by 4, whose cut then
falls at 0.5 Hz) that give three LFO cycles at least, where refined it reads higher along the signal than the
cepstrogram's. The flanger keeps the cepstrogram's (the same choice made for it lifted the clips with no flanger:
held-out F1 0.80 / 0.80 -> 0.77 / 0.75). A flanger fed back repeats its delay at twice the delay, and the lag
correlogram finds that echo as a chorus-long path (three of the chorus's false alarms, reading 7.7-13.8): a path whose
half reads ECHO_Z or more is an echo and not taken (the true choruses' halves read 2.3 at most, the echoes' 3.1-7.1).
On the dry cases, thresholds refitted, chorus right paths 32 -> 38 of 48, held-out F1 0.83 (17, 0, 7) / 0.75 (15, 1,
9) -> 0.89 (21, 2, 3) / 0.83 (17, 0, 7), in-sample 0.80 -> 0.87. At the found rate's multiples only: 36 right, 0.86 /
0.81. With the own rates allowed two cycles, slow paths (0.09-0.14 Hz, 2.4-2.5 cycles) through one clip's still lines
won on clips with no chorus: 0.74 (21, 12, 3) / 0.83. Each rate also searched 1 and 2 % off (at the multiples only,
five times the search): 0.88 / 0.81, not worth its time.

A fast, deep sweep's line smears even over 12 ms (at 1.9 Hz a 2.3 ms swing moves the delay 0.33 ms within one), and at
the right rate a shallow path along a still line outscored it in 3 of the cases left. So the lag correlogram's best path
swinging LAG_DEEP_MS or more is refined too, and the one that reads higher along the signal is the candidate: right
paths 38 -> 40 of 48, held-out F1 0.89 (21, 2, 3) / 0.83 (17, 0, 7) -> 0.94 (22, 1, 2) / 0.84 (18, 1, 6), in-sample
0.87 -> 0.90 (threshold refitted 7.86 -> 9.06). Searching every frame instead of frames pooled by LAG_POOL found the
same 38 right paths (0.91 / 0.81) in 1.7 times the time; not kept. What is left: 8 chorus paths wrong, all fast sweeps
(1.1-2.0 Hz); for 6 no candidate rate of either image is within 5 % of the LFO's.

Tried and not kept: 23 ms frames instead of 46 (a fast, deep sweep moves the delay ~1.7 ms within one 46 ms
frame and smears the comb): chorus 0.42 / 0.39, flanger 0.63 / 0.59; the better-scoring path of both frame
lengths: 0.69 / 0.63 and 0.64 / 0.60.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
import scipy.ndimage
import scipy.signal

from audiowave.forensics.common import Evidence, Finding, Signal, note_value
from audiowave.forensics.path_sums import segment_correlations, sums_along_offsets
from audiowave.forensics.rules import decide
from audiowave.hpss import median_along

QUEFRENCY_MS = (0.3, 25.0)
FRAME_S = 0.046  # analysis window; hop half of it
POOL = 4  # quefrency bins pooled (max) into one: ~0.09 ms at 44.1 kHz
MAX_DEPTH_MS = 8.0  # the largest delay swing searched (half the peak-to-peak)
MIN_DEPTH_MS = 0.5
MAX_RATE_HZ = 5.0
CONTROL_RATIO = 1.27  # the control rates: the found rate times and divided by this factor
FLANGER_MAX_MS = 5.0  # a centre delay below this is a flanger, at or above it a chorus
PHASES = 16
FINE_REACH = 3  # bins either side of a coarse search's depth that the finer search tries
WHITE_SR = 11025  # the path correlation's sample rate and band (Hz)
WHITE_BAND_HZ = (300.0, 4000.0)
WHITE_MEDIAN_S = 0.5  # the running median over time each bin is divided by
SHIFTS_MS = np.round(np.arange(-3.0, 3.0001, 0.025), 3)  # the path and its shifted controls
SEGMENT_S = 0.05  # the correlation is summed per segment; its median over segments is read
TOLERANCE_MS = 0.15  # a segment's level is its best within this of each shift (the path is found to ~0.1 ms)
CONTROL_MIN_MS = 0.6  # the controls: shifts at least this far from the path...
LAG_FLOOR_MS = 0.4  # ...which keep the shifted path above this lag (near lag 0 a signal matches itself)
REFINE_REACH_MS = 0.6  # the path's refinement: each segment's best offset searched within this...
REFINE_STEP_MS = 0.025  # ...in these steps
REFINE_ROUNDS = 2
REFINE_OUTLIER_MS = 0.2  # segments this far off the fit are left out of the next fit...
REFINE_FITS = 3  # ...over this many fits per round
REFINE_MAX_RATE_CHANGE = 0.03  # a larger relative change of rate stops the refinement
NEAR_RATES_TRIED = 3  # the candidate rates searched again slightly off...
NEAR_RATE_STEPS = (-0.02, -0.01, 0.01, 0.02)  # ...by these relative steps
LAG_WINDOW_S = 0.012  # the lag correlogram's window...
LAG_HOP_S = 0.010  # ...and hop
LAG_POOL = 4  # its frames averaged into one for the rate and depth search...
LAG_DEPTH_STEP = 3.0  # ...over depths this many lags (of 1 / WHITE_SR) apart
LAG_RATE_MULTIPLES = (0.5, 1.0, 2.0)  # the rates it searches: the cepstrogram's found rate times these...
LAG_OWN_MIN_CYCLES = 3.0  # ...and its own candidates (candidate_periods) that give this many LFO cycles at least
LAG_DEEP_MS = 1.0  # besides its best path, its best one swinging this much or more is tried
ECHO_Z = 3.0  # a path whose half (centre and depth halved) reads this high is a feedback echo of that shorter delay
IMAGE_AXES = {"cepstrogram": ("quefrency", "cepstral level (z)"), "lag correlogram": ("lag", "correlation (z)")}


class SweptPath(NamedTuple):
    """A sinusoidally swept delay: delay(t) = centre + depth sin(2 pi rate t + phase), t on the cepstrogram's frame
    starts."""

    rate_hz: float
    centre_ms: float
    depth_ms: float
    phase: float


@dataclass
class CombTrack:
    """The best LFO-swept comb delay found, refined: rate (Hz), centre and depth (ms, half the swing), phase; the
    median normalised cepstral level along the path found and along the controls' best paths."""

    rate_hz: float
    centre_ms: float
    depth_ms: float
    phase: float
    level: float
    control: float
    path_z: float  # the sample-domain correlation along the path found, in robust z against it shifted (see path_z)
    refined_path_z: float  # the same along the path refined (see refined_path): rate, centre, depth, phase above
    found: SweptPath  # the path as the search found it, before the refinement
    times: np.ndarray  # the image's frame times (on the cepstrogram's frame-start clock)
    delay_axis_ms: np.ndarray  # the image's bins: quefrency or lag (ms)
    image: np.ndarray  # (frames, bins) the image the path was found in, for the evidence picture...
    image_kind: str = "cepstrogram"  # ...a key of IMAGE_AXES (its bins' name, its level's)

    @property
    def score(self) -> float:
        return self.level - self.control

    def path_ms(self) -> np.ndarray:
        return self.centre_ms + self.depth_ms * np.sin(2 * np.pi * self.rate_hz * self.times + self.phase)


def cepstrogram(mono: np.ndarray, sr: int) -> tuple[np.ndarray, float, float]:
    """(frames, quefrency bins) of normalised pooled cepstrum with held lines removed; the frame rate (Hz)
    and the quefrency of bin 0 (ms)."""
    n_fft = frame_length(sr)
    hop = n_fft // 2
    if len(mono) < 4 * n_fft:
        return np.zeros((0, 0)), sr / hop, QUEFRENCY_MS[0]
    frames = np.lib.stride_tricks.sliding_window_view(mono.astype(np.float64), n_fft)[::hop] * np.hanning(n_fft)
    mag = np.abs(np.fft.rfft(frames, axis=1))
    ceps = np.fft.irfft(np.log(mag + 1e-3 * np.median(mag) + 1e-12), axis=1)
    lo, hi = (int(q * 1e-3 * sr) for q in QUEFRENCY_MS)
    c = ceps[:, lo:hi]
    c = c - np.median(c, axis=0)
    c = c - np.median(c, axis=1, keepdims=True)  # broadband frames (hits) lift every quefrency
    z = _robust_z(c)
    z = _robust_z(z - median_along(z, 5, axis=0, mode="nearest"))  # held lines out
    q = z.shape[1] // POOL * POOL
    pooled = z[:, :q].reshape(z.shape[0], -1, POOL).max(axis=2)
    return _robust_z(pooled - np.median(pooled, axis=0)), sr / hop, lo / sr * 1e3


def frame_length(sr: int) -> int:
    """The cepstrogram's frame (samples): FRAME_S rounded to a power of two."""
    return 1 << int(np.round(np.log2(FRAME_S * sr)))


def _robust_z(x: np.ndarray) -> np.ndarray:
    return x / (1.4826 * np.median(np.abs(x), axis=0) + 1e-9)


def candidate_periods(image: np.ndarray, fps: float, count: int = 3) -> list[float]:
    """The strongest periods (s) of the image's oblique structure (its 2-D spectrum away from both axes):
    a swept delay repeats with the LFO, held notes and drum hits are removed first."""
    n_frames, n_bins = image.shape
    spectrum = np.fft.fft2(image - image.mean())
    kt = np.abs(np.fft.fftfreq(n_frames))[:, None]
    kq = np.abs(np.fft.fftfreq(n_bins))[None, :]
    oblique = np.real(np.fft.ifft2(spectrum * ((kt >= 0.02) & (kq >= 0.02))))
    padded = np.fft.rfft(oblique - oblique.mean(axis=0), 2 * n_frames, axis=0)
    ac = np.fft.irfft(np.abs(padded) ** 2, 2 * n_frames, axis=0)[:n_frames].sum(axis=1)
    ac = ac / (ac[0] + 1e-12) * n_frames / (n_frames - np.arange(n_frames))
    lags = np.arange(n_frames) / fps
    band = (lags >= 0.2) & (lags <= lags[-1] / 2)
    peaks, _ = scipy.signal.find_peaks(np.where(band, ac, -np.inf))
    return [float(lags[k]) for k in sorted(peaks, key=lambda k: -ac[k])[:count]]


def best_path(
    image: np.ndarray, times: np.ndarray, rate: float, depths: np.ndarray, phases: int = PHASES
) -> tuple[float, int, float, float]:
    """(mean level, centre bin, depth in bins, phase) of the best sinusoidal path at ``rate`` Hz."""
    n_frames, n_bins = image.shape
    image = np.ascontiguousarray(image, dtype=np.float64)
    best = (-np.inf, 0, 0.0, 0.0)
    angles = np.linspace(0, 2 * np.pi, phases, endpoint=False)
    for depth in depths:
        reach = int(np.ceil(depth))
        centres = np.arange(reach, n_bins - reach)
        if not centres.size:
            continue
        offsets = np.round(depth * np.sin(2 * np.pi * rate * times[None, :] + angles[:, None])).astype(np.int64)
        levels = sums_along_offsets(image, offsets, reach, len(centres)) / n_frames  # (phases, centres)
        p, c = np.unravel_index(int(np.argmax(levels)), levels.shape)
        if levels[p, c] > best[0]:
            best = (float(levels[p, c]), int(centres[c]), float(depth), float(angles[p]))
    return best


def finer_path(
    image: np.ndarray, times: np.ndarray, rate: float, coarse_depth: float, bin_ms: float
) -> tuple[float, int, float, float]:
    """:func:`best_path` at ``rate`` over the depths within FINE_REACH bins of ``coarse_depth`` (a coarse search's),
    one bin apart and MIN_DEPTH_MS at least, with twice the phases."""
    fine = np.arange(max(coarse_depth - FINE_REACH, MIN_DEPTH_MS / bin_ms), coarse_depth + FINE_REACH + 0.5, 1.0)
    return best_path(image, times, rate, fine, phases=2 * PHASES)


def path_median(image: np.ndarray, times: np.ndarray, rate: float, centre: int, depth: float, phase: float) -> float:
    """The median level along one sinusoidal path: high only where the line runs the whole clip."""
    rows = np.round(centre + depth * np.sin(2 * np.pi * rate * times + phase)).astype(int)
    return float(np.median(image[np.arange(len(times)), np.clip(rows, 0, image.shape[1] - 1)]))


def whitened(mono: np.ndarray, sr: int) -> np.ndarray:
    """``mono`` at WHITE_SR with each STFT bin divided by its running median magnitude over time (held notes and the
    spectral tilt out, a moving comb kept), band-limited to WHITE_BAND_HZ."""
    x = scipy.signal.resample_poly(mono.astype(np.float64), WHITE_SR, sr)
    n_fft, hop = 512, 128
    freqs, _, spec = scipy.signal.stft(x, WHITE_SR, nperseg=n_fft, noverlap=n_fft - hop)
    mag = np.abs(spec)
    median = median_along(mag, int(WHITE_MEDIAN_S * WHITE_SR / hop) | 1, axis=1, mode="nearest")
    spec = spec / (median + 1e-3 * np.median(mag) + 1e-12)
    spec[(freqs < WHITE_BAND_HZ[0]) | (freqs > WHITE_BAND_HZ[1])] = 0
    return scipy.signal.istft(spec, WHITE_SR, nperseg=n_fft, noverlap=n_fft - hop)[1][: len(x)]


def path_levels(white: np.ndarray, sr: int, path: SweptPath, shifts_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(segments, shifts) normalised correlation of the whitened signal with itself delayed along the path shifted by
    each of ``shifts_ms``, per SEGMENT_S; and the segments' centre times on the path's clock. ``sr`` is the clip's
    rate: the path's phase is that of the cepstrogram's frame starts, so sample time t is read half a frame on."""
    n = len(white)
    index = np.arange(n)
    offset_s = frame_length(sr) / 2 / sr
    rate, centre, depth, phase = path
    delay_ms = centre + depth * np.sin(2 * np.pi * rate * (index / WHITE_SR - offset_s) + phase)
    seg = int(SEGMENT_S * WHITE_SR)
    to_samples = 1e-3 * WHITE_SR
    level = segment_correlations(
        np.ascontiguousarray(white, dtype=np.float64), delay_ms * to_samples, np.asarray(shifts_ms) * to_samples, seg
    )
    return level, (np.arange(n // seg) + 0.5) * SEGMENT_S - offset_s


def refined_path(white: np.ndarray, sr: int, path: SweptPath) -> SweptPath:
    """The path corrected to the delay the signal follows: per segment, the offset (within +-REFINE_REACH_MS) where
    the correlation peaks; a weighted least-squares fit of those offsets by a change of centre, depth, phase and
    rate (offset ~ dc + dd sin + depth dphi cos + depth 2 pi drate (t - mean t) cos, each segment weighted by its
    peak's height above its median, squared; segments REFINE_OUTLIER_MS off the fit left out of the next one);
    REFINE_ROUNDS times. A correction past the reach, by more than REFINE_MAX_RATE_CHANGE in rate or to a swing under
    MIN_DEPTH_MS stops it."""
    shifts = np.round(np.arange(-REFINE_REACH_MS, REFINE_REACH_MS + 1e-9, REFINE_STEP_MS), 3)
    for _ in range(REFINE_ROUNDS):
        level, t = path_levels(white, sr, path, shifts)
        if len(t) < 8:
            return path
        peak = np.argmax(level, axis=1)
        offset = shifts[peak]
        weight = np.clip(level[np.arange(len(t)), peak] - np.median(level, axis=1), 0, None) ** 2
        theta = 2 * np.pi * path.rate_hz * t + path.phase
        design = np.stack([np.ones_like(t), np.sin(theta), np.cos(theta), (t - t.mean()) * np.cos(theta)], axis=1)
        kept = weight
        for _ in range(REFINE_FITS):
            root = np.sqrt(kept)[:, None]
            coef = np.linalg.lstsq(design * root, offset * root[:, 0], rcond=None)[0]
            kept = weight * (np.abs(offset - design @ coef) < REFINE_OUTLIER_MS)
        d_centre, d_sin, d_cos, d_slope = coef
        depth = float(np.hypot(path.depth_ms + d_sin, d_cos))
        d_rate = d_slope / (2 * np.pi * path.depth_ms)
        too_far = abs(d_centre) > REFINE_REACH_MS or abs(d_rate) > REFINE_MAX_RATE_CHANGE * path.rate_hz
        if too_far or depth < MIN_DEPTH_MS:
            return path
        phase = path.phase + np.arctan2(d_cos, path.depth_ms + d_sin) - 2 * np.pi * d_rate * t.mean()
        path = SweptPath(path.rate_hz + d_rate, path.centre_ms + d_centre, depth, float(phase))
    return path


def path_z(white: np.ndarray, sr: int, path: SweptPath) -> float:
    """How far the whitened signal's correlation with itself delayed along the path stands above the same path
    shifted by CONTROL_MIN_MS-3 ms, in robust z (median and MAD over the shifts); NaN where too few shifts remain.
    Each segment's level at a shift is its best within TOLERANCE_MS of it; the median over segments is read.
    Correlating along the path, a fast sweep does not smear as its comb does in a frame's cepstrum."""
    level, t = path_levels(white, sr, path, SHIFTS_MS)
    if len(t) < 8:
        return float("nan")
    reach = round(TOLERANCE_MS / (SHIFTS_MS[1] - SHIFTS_MS[0]))
    level = np.median(scipy.ndimage.maximum_filter1d(level, 2 * reach + 1, axis=1, mode="nearest"), axis=0)
    floor = path.centre_ms - path.depth_ms + SHIFTS_MS >= LAG_FLOOR_MS
    controls = level[(np.abs(SHIFTS_MS) >= CONTROL_MIN_MS) & floor]
    if controls.size < 10:
        return float("nan")
    centre = np.median(controls)
    spread = 1.4826 * np.median(np.abs(controls - centre)) + 1e-9
    return float((level[np.argmin(np.abs(SHIFTS_MS))] - centre) / spread)


def swept_comb(mono: np.ndarray, sr: int, white: np.ndarray) -> CombTrack | None:
    """The strongest LFO-swept comb delay in ``mono`` (``white``: ``mono`` :func:`whitened`); None when the clip is too
    short to measure one.
    Rates are compared on a grid of depths 4 bins apart over frames pooled in pairs (the best few candidates also 1 and
    2 % off); the best one's path and the controls' are refined to one bin and scored by their median level; the path
    is then refined along the signal (:func:`refined_path`) and its correlation read along it and as found."""
    image, fps, q0 = cepstrogram(mono, sr)
    if image.shape[0] < 40:
        return None
    bin_ms = POOL / sr * 1e3
    times = np.arange(image.shape[0]) / fps
    coarse, coarse_times = pooled_frames(image, times, 2)
    depths = np.arange(max(MIN_DEPTH_MS / bin_ms, 1.0), MAX_DEPTH_MS / bin_ms, 4.0)
    # a period found may be a multiple of the LFO's (the pattern repeats every 2 or 3 cycles too) or half of it
    # (a stereo chorus's two opposite tracks together repeat twice per cycle)
    rates = {round(f / period, 4) for period in candidate_periods(image, fps) for f in (0.5, 1.0, 2.0, 3.0)}
    rates = {r for r in rates if r * coarse_times[-1] >= 2.0 and r <= MAX_RATE_HZ}  # two LFO cycles at least
    if not rates:
        return None

    def refined(rate: float, coarse_depth: float) -> tuple[float, int, float, float]:
        """(median level, centre bin, depth bins, phase) of the best path at ``rate``, from its coarse-grid depth
        refined to one bin and a finer phase on the full image."""
        _, centre, depth, phase = finer_path(image, times, rate, coarse_depth, bin_ms)
        return path_median(image, times, rate, centre, depth, phase), centre, depth, phase

    def coarse_depth(rate: float) -> float:
        return best_path(coarse, coarse_times, rate, depths)[2]

    paths = {r: best_path(coarse, coarse_times, r, depths) for r in rates}
    # a candidate is only as exact as the autocorrelation's lag (one frame, 1-3 % of a fast LFO's period), and over a
    # 30 s clip 1 % of the rate drifts the path's phase by a third of a cycle: the best few are tried a little off too
    for r in sorted(paths, key=lambda r: -paths[r][0])[:NEAR_RATES_TRIED]:
        near_depths = depths[np.abs(depths - paths[r][2]) <= 4.0]
        for step in NEAR_RATE_STEPS:
            paths[r * (1 + step)] = best_path(coarse, coarse_times, r * (1 + step), near_depths)
    rate = max(paths, key=lambda r: paths[r][0])
    depth = paths[rate][2]
    level, centre, depth, phase = refined(rate, depth)
    control = max(refined(r, coarse_depth(r))[0] for r in (rate * CONTROL_RATIO, rate / CONTROL_RATIO))
    found = SweptPath(rate, q0 + centre * bin_ms, depth * bin_ms, phase)
    path = refined_path(white, sr, found)
    found_z = path_z(white, sr, found)
    return CombTrack(
        *path,
        level=level,
        control=control,
        path_z=found_z,
        refined_path_z=found_z if path == found else path_z(white, sr, path),  # a refinement stopped at once
        found=found,
        times=times,
        delay_axis_ms=q0 + np.arange(image.shape[1]) * bin_ms,
        image=image,
    )


def lag_correlogram(white: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(frames, lags) the whitened signal's normalised correlation with itself at each lag (every sample at WHITE_SR
    in QUEFRENCY_MS) over LAG_WINDOW_S windows every LAG_HOP_S, in robust z per lag; the frames' times on the paths'
    clock (the cepstrogram's frame starts: ``sr`` is the clip's rate) and the first lag (ms). Over 12 ms a fast sweep's
    delay moves a fraction of a lag, so its line does not smear as its comb does in a 46 ms frame's cepstrum."""
    window, hop = round(LAG_WINDOW_S * WHITE_SR), round(LAG_HOP_S * WHITE_SR)
    lags = np.arange(int(np.ceil(QUEFRENCY_MS[0] * 1e-3 * WHITE_SR)), int(QUEFRENCY_MS[1] * 1e-3 * WHITE_SR) + 1)
    energy = scipy.ndimage.uniform_filter1d(white**2, window)
    at = np.arange(lags[-1] + window, len(white) - window, hop)
    image = np.empty((len(at), len(lags)))
    for k, lag in enumerate(lags):
        product = np.zeros_like(white)
        product[lag:] = white[lag:] * white[:-lag]
        local = scipy.ndimage.uniform_filter1d(product, window)[at]
        image[:, k] = local / np.sqrt(np.clip(energy[at] * energy[at - lag], 1e-12, None))
    image = _robust_z(image - np.median(image, axis=0))
    return image, at / WHITE_SR - frame_length(sr) / 2 / sr, lags[0] / WHITE_SR * 1e3


def pooled_frames(image: np.ndarray, times: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """An image (frames, bins) and its frame times, every ``factor`` frames averaged into one (the rest left out)."""
    n = image.shape[0] // factor * factor
    return image[:n].reshape(-1, factor, image.shape[1]).mean(axis=1), times[:n].reshape(-1, factor).mean(axis=1)


def lag_paths(image: np.ndarray, times: np.ndarray, lag0: float, rates: list[float]) -> list[SweptPath]:
    """The best sinusoidal path through the lag correlogram (:func:`lag_correlogram`'s image, times and first lag) at
    one of ``rates`` (those giving two LFO cycles at least) or of its own candidate rates (its oblique structure's
    periods, :func:`candidate_periods`, giving LAG_OWN_MIN_CYCLES at least: slower ones find still lines wandering),
    and the best one swinging LAG_DEEP_MS or more (a fast, deep sweep's line smears even over 12 ms and a shallow path
    along a still line can outscore it); each searched over frames pooled by LAG_POOL and depths LAG_DEPTH_STEP lags
    apart, then the best depth to one lag and a finer phase on every frame. Empty when no rate is left."""
    pooled, pooled_times = pooled_frames(image, times, LAG_POOL)
    if len(pooled_times) < 8:
        return []
    span = pooled_times[-1] - pooled_times[0]
    own = [1 / p for p in candidate_periods(pooled, 1 / (pooled_times[1] - pooled_times[0]))]
    rates = [r for r in rates if r * span >= 2.0] + [r for r in own if r * span >= LAG_OWN_MIN_CYCLES]
    rates = [r for r in rates if r <= MAX_RATE_HZ]
    if not rates:
        return []
    lag_ms = 1e3 / WHITE_SR
    depths = np.arange(max(MIN_DEPTH_MS / lag_ms, 1.0), MAX_DEPTH_MS / lag_ms, LAG_DEPTH_STEP)
    found = []
    for searched in (depths, depths[depths * lag_ms >= LAG_DEEP_MS]):
        paths = {r: best_path(pooled, pooled_times, r, searched) for r in rates}
        rate = max(paths, key=lambda r: paths[r][0])
        _, centre, depth, phase = finer_path(image, times, rate, paths[rate][2], lag_ms)
        found.append(SweptPath(rate, lag0 + centre * lag_ms, depth * lag_ms, phase))
    return list(dict.fromkeys(found))


def is_echo(white: np.ndarray, sr: int, path: SweptPath) -> bool:
    """Whether the path is a feedback echo: a delay line fed back repeats its delay at twice (and three times) the
    delay, so a flanger sweeping 2-5 ms also reads along a path of twice its centre and depth."""
    half = SweptPath(path.rate_hz, path.centre_ms / 2, path.depth_ms / 2, path.phase)
    return bool(path_z(white, sr, half) >= ECHO_Z)


def chorus_track(track: CombTrack, white: np.ndarray, sr: int) -> CombTrack:
    """The track, or, where one of the lag correlogram's paths (searched at the found rate's LAG_RATE_MULTIPLES and at
    its own candidates, see :func:`lag_paths`), refined, reads higher along the signal (the higher of them) and is not
    an echo, the track with that path and the lag correlogram as its picture (its frames unpooled: pooled, a fast
    sweep's line blurs): the cepstrogram finds a fast, deep chorus sweep astray (see the module's notes), the lag
    correlogram finds it but more often astray elsewhere."""
    image, times, lag0 = lag_correlogram(white, sr)
    candidates = []
    for found in lag_paths(image, times, lag0, [track.found.rate_hz * m for m in LAG_RATE_MULTIPLES]):
        path = refined_path(white, sr, found)
        candidates.append((path_z(white, sr, path), path, found))
    if not candidates:
        return track
    z, path, found = max(candidates, key=lambda c: c[0])
    if not z > track.refined_path_z or is_echo(white, sr, path):
        return track
    found_z = z if path == found else path_z(white, sr, found)
    return replace(
        track,
        **path._asdict(),
        path_z=found_z,
        refined_path_z=z,
        found=found,
        times=times,
        delay_axis_ms=lag0 + np.arange(image.shape[1]) * 1e3 / WHITE_SR,
        image=image,
        image_kind="lag correlogram",
    )


def _finding(effect: str, sig: Signal, track: CombTrack | None) -> Finding:
    if track is None:
        return Finding(effect, False, 0.0, description="clip too short for two LFO cycles")
    label, _ = note_value(1 / track.rate_hz, sig.beat_grid[0])
    params: dict[str, float | str] = {
        "rate_hz": track.rate_hz,
        "note_value": label,
        "centre_delay_ms": track.centre_ms,
        "depth_ms": track.depth_ms,
        "track_score": track.score,
        "track_level": track.level,
        "path_z": track.path_z,
        "refined_path_z": track.refined_path_z,
        # a flanger's delay is short, a chorus's long: each rule requires its side of FLANGER_MAX_MS
        "delay_above_flanger_ms": track.centre_ms - FLANGER_MAX_MS,
        "delay_below_flanger_ms": FLANGER_MAX_MS - track.centre_ms,
    }
    detected, confidence = decide(effect, params)
    swing = f"{track.centre_ms - track.depth_ms:.1f}-{track.centre_ms + track.depth_ms:.1f} ms"
    bins, level = IMAGE_AXES[track.image_kind]
    return Finding(
        effect,
        detected,
        confidence,
        parameters=params,
        description=(
            f"{effect}: a delayed copy swept {swing} at {track.rate_hz:.2f} Hz{f' ({label} note)' if label else ''}"
            if detected
            else f"no {effect}"
        ),
        spans=[(0.0, float(track.times[-1]))] if detected else [],
        evidence=Evidence(
            title=(
                f"{track.image_kind.capitalize()}: a swept delay is a sinusoidal line"
                f" (found: {swing} at {track.rate_hz:.2f} Hz)"
            ),
            x=track.times,
            curves={"delay found (ms)": track.path_ms()},
            xlabel="time (s)",
            ylabel=f"delay / {bins} (ms)",
            image=np.clip(track.image.T, -1, 6),
            image_label=level,
            image_y=(float(track.delay_axis_ms[0]), float(track.delay_axis_ms[-1])),
        ),
    )


def detect_chorus(sig: Signal) -> Finding:
    return _finding("chorus", sig, sig.chorus_comb)


def detect_flanger(sig: Signal) -> Finding:
    return _finding("flanger", sig, sig.swept_comb)
