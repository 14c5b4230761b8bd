"""Sample identification by chunked matched filtering (hand-written: no library does sample-in-mix search).

For each pitch hypothesis (-3..+3 semitones) the track is resampled to undo the shift; every template's
first chunk is cross-correlated with the whole track (batched overlap-save FFT) and normalised by the
track's local energy (NCC). Strong peaks are verified by the template's following chunks at the offsets
that each time-stretch ratio predicts, each searched within a tolerance, so WSOLA-style stretching and
speed changes survive. The confidence combines the first-chunk NCC, the chain NCC, how often the sample
repeats at that pitch, and a small penalty for pitch-shift hypotheses (more hypotheses, more chance).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import soxr

from audiowave.samples import landmarks
from audiowave.samples.descriptors import CHUNK, N_CHUNKS, SAMPLE_RATE, to_matcher_rate
from audiowave.samples.index_store import SampleIndex

PITCHES = (-3, -2, -1, 0, 1, 2, 3)
STRETCHES = (0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15)
FFT_SIZE = 16384
CANDIDATE_NCC = 0.45
CANDIDATES_PER_TEMPLATE = 3
TOLERANCE = 350
MIN_PEAK_DISTANCE = SAMPLE_RATE // 10
REPEAT_BONUS, REPEAT_CAP, PITCH_PENALTY = 0.02, 8, 0.02
DEFAULT_THRESHOLD = 0.78
TEMPLATE_BATCH = 32


@dataclass
class Occurrence:
    start_s: float
    end_s: float
    ncc: float


@dataclass
class SampleMatch:
    """One library sample found in the track, with its transform and where it occurs."""

    entry: int
    confidence: float
    pitch_semitones: int
    time_stretch: float
    gain_db: float
    sample_offset_s: float
    occurrences: list[Occurrence] = field(default_factory=list)


def _track_blocks(track: np.ndarray) -> np.ndarray:
    """Spectra of the overlap-save blocks of ``track`` (blocks, FFT_SIZE/2+1)."""
    step = FFT_SIZE - CHUNK + 1
    n_blocks = -(-(track.size - CHUNK + 1) // step)
    padded = np.zeros(n_blocks * step + CHUNK - 1, dtype=np.float32)
    padded[: track.size] = track
    frames = np.lib.stride_tricks.sliding_window_view(padded, FFT_SIZE)[::step][:n_blocks]
    return np.fft.rfft(frames, axis=1).astype(np.complex64)


def _first_chunk_ncc(blocks: np.ndarray, spectra: np.ndarray, win: np.ndarray) -> np.ndarray:
    """NCC (templates, positions) of each template's first chunk against the track (overlap-save)."""
    step = FFT_SIZE - CHUNK + 1
    out = np.empty((spectra.shape[0], blocks.shape[0] * step), dtype=np.float32)
    for b in range(blocks.shape[0]):
        out[:, b * step : (b + 1) * step] = np.fft.irfft(blocks[b][None, :] * spectra, FFT_SIZE, axis=1)[:, :step]
    return out[:, : win.size] / win


def stretch_hypotheses(ratio: float) -> list[float]:
    """Chunk-spacing ratios to try in a track resampled by ``ratio``, the likeliest first: speed changes
    keep the spacing at 1 after resampling, pitch shifts that preserve duration leave it at ``ratio``."""
    spacings = {*STRETCHES, *(round(s * ratio, 4) for s in STRETCHES)}
    return sorted(spacings, key=lambda s: min(abs(np.log(s)), abs(np.log(s / ratio))))


def _chain(
    track: np.ndarray, win: np.ndarray, chunks: np.ndarray, weights: np.ndarray, pos: int, ratio: float
) -> tuple[float, float]:
    """(score, spacing): the best weighted mean NCC of chunks 1.. over the spacing hypotheses (ties keep the
    likelier one), and the spacing measured from where those chunks peak (weighted median)."""
    stretches = stretch_hypotheses(ratio)
    per_chunk = []
    for k in range(1, N_CHUNKS):
        lo = max(int(pos + k * CHUNK * min(stretches)) - TOLERANCE, 0)
        hi = min(int(pos + k * CHUNK * max(stretches)) + TOLERANCE, track.size - CHUNK)
        if weights[k] == 0 or hi <= lo:
            continue
        r = np.correlate(track[lo : hi + CHUNK], chunks[k], mode="valid") / win[lo : hi + 1]
        per_chunk.append((k, lo, r))
    if not per_chunk:
        return 0.0, 1.0
    best, best_st, best_peaks = -1.0, 1.0, []
    for st in stretches:
        total, wsum, peaks = 0.0, 0.0, []
        for k, lo, r in per_chunk:
            centre = int(pos + k * CHUNK * st) - lo
            a, b = max(centre - TOLERANCE, 0), min(centre + TOLERANCE + 1, r.size)
            if b > a:
                j = a + int(np.argmax(r[a:b]))
                total += weights[k] * float(r[j])
                peaks.append(((lo + j - pos) / (k * CHUNK), weights[k] * float(r[j])))
            wsum += weights[k]
        if total / wsum > best:
            best, best_st, best_peaks = total / wsum, st, peaks
    strong = sorted((s, w) for s, w in best_peaks if w > 0.3)
    if len(strong) >= 2:
        cum = np.cumsum([w for _, w in strong])
        best_st = strong[int(np.searchsorted(cum, cum[-1] / 2))][0]
    return best, best_st


def _peaks(series: np.ndarray, floor: float) -> np.ndarray:
    """Indices of local maxima above ``floor`` at least MIN_PEAK_DISTANCE apart, strongest first."""
    from scipy.signal import find_peaks

    idx, _ = find_peaks(series, height=floor, distance=MIN_PEAK_DISTANCE)
    return idx[np.argsort(series[idx])[::-1]]


def match(
    index: SampleIndex, mono: np.ndarray, sample_rate: int, threshold: float = DEFAULT_THRESHOLD
) -> list[SampleMatch]:
    """Library samples found in ``mono`` with confidence at least ``threshold``, best first."""
    if not index.entries:
        return []
    x = to_matcher_rate(mono, sample_rate)
    spectra = index.first_chunk_spectra(FFT_SIZE)
    best: dict[int, SampleMatch] = {}
    for p in PITCHES:
        ratio = 2.0 ** (p / 12)
        track = soxr.resample(x, SAMPLE_RATE, SAMPLE_RATE * ratio).astype(np.float32) if p else x
        if track.size < CHUNK:
            continue
        energy = np.concatenate([[0.0], np.cumsum(track.astype(np.float64) ** 2)])
        win = np.sqrt(np.maximum(energy[CHUNK:] - energy[:-CHUNK], 1e-12)).astype(np.float32)
        blocks = _track_blocks(track)
        for lo in range(0, spectra.shape[0], TEMPLATE_BATCH):
            ncc = _first_chunk_ncc(blocks, spectra[lo : lo + TEMPLATE_BATCH], win)
            for t in np.nonzero(ncc.max(axis=1) >= CANDIDATE_NCC)[0] + lo:
                _verify(index, track, win, ncc[t - lo], int(t), p, threshold, best)
    return sorted(best.values(), key=lambda m: -m.confidence)


def _verify(
    index: SampleIndex,
    track: np.ndarray,
    win: np.ndarray,
    series: np.ndarray,
    t: int,
    p: int,
    threshold: float,
    best: dict[int, SampleMatch],
) -> None:
    """Chain-verify the strongest first-chunk peaks of template ``t``; keep the best match per entry."""
    ratio = 2.0 ** (p / 12)
    mu, sd = float(series.mean()), float(series.std()) + 1e-6
    peaks = _peaks(series, CANDIDATE_NCC)
    repeats = int(np.sum(series[peaks] > mu + 6 * sd))
    for pos in peaks[:CANDIDATES_PER_TEMPLATE]:
        chain, spacing = _chain(track, win, index.chunks[t], index.weights[t], int(pos), ratio)
        stretch = round(spacing / ratio, 3)  # duration in the track / in the library
        first = float(series[pos])
        conf = 0.5 * (first + chain) + REPEAT_BONUS * min(repeats, REPEAT_CAP) - PITCH_PENALTY * abs(p)
        entry = int(index.template_entry[t])
        if conf < threshold or conf <= (best[entry].confidence if entry in best else -1):
            continue
        duration = index.entries[entry].descriptor.duration_s
        offset = int(index.template_start[t]) / SAMPLE_RATE
        span = (duration - offset) * stretch
        occ = [
            Occurrence(
                start_s=round(float(i) / (SAMPLE_RATE * ratio), 3),
                end_s=round(float(i) / (SAMPLE_RATE * ratio) + span, 3),
                ncc=round(float(series[i]), 3),
            )
            for i in _peaks(series, max(CANDIDATE_NCC, 0.75 * first))
        ]
        dot = first * float(win[pos])
        gain = dot / max(float(index.norms[t]), 1e-9)
        best[entry] = SampleMatch(
            entry=entry,
            confidence=round(float(min(conf, 1.0)), 3),
            pitch_semitones=p,
            time_stretch=stretch,
            gain_db=round(float(20 * np.log10(max(gain, 1e-9))), 1),
            sample_offset_s=round(offset, 3),
            occurrences=sorted(occ, key=lambda o: o.start_s),
        )


def landmark_match(index: SampleIndex, mono: np.ndarray, sample_rate: int) -> list[tuple[int, int, float]]:
    """Baseline: (entry, votes, start seconds) for references with enough aligned landmark hashes."""
    h, f = landmarks.hashes(mono, sample_rate)
    hits = index.landmarks.query(h, f)
    return sorted(((e, v, off * landmarks.FRAME_S) for e, v, off in hits), key=lambda m: -m[1])
