"""Sample identification by chunked matched filtering (hand-written: no library does sample-in-mix search).

For each pitch hypothesis (-3..+3 semitones) the track is resampled to undo the shift and whitened against
its own background (:mod:`audiowave.samples.whitening`; and, separately, left plain), and the templates are
filtered the same way, at two sub-sample phases (0 and half a sample: a sample rarely lands on the matcher's
grid; the plain domain at one phase only). The candidate stage (:mod:`audiowave.samples.candidates`) shortlists
``SHORTLIST_PAIRS`` (template, pitch) pairs with the track positions where each may start; a shortlisted
template's first chunk is correlated there first (``LOCAL_SEARCH`` samples around each), and only one that
matches there is cross-correlated with the whole track (batched overlap-save FFT), normalised by the track's
local energy (NCC), so what follows sees the same series as an exhaustive scan. The pitch hypotheses are scanned
on parallel threads (numpy and scipy's FFTs release the GIL; real 30 s queries against the dev library with 848
distractors: median 0.81 -> 0.57 s on 2 cores, the same matches). Strong peaks are verified
by the template's following chunks at the offsets that each time-stretch ratio predicts, each searched within
a tolerance, so WSOLA-style stretching and speed changes survive.

The evidence is a z-score: the chunk NCCs combined with weights in proportion to each chunk's level against
the track there (the optimal combination of independent tests), divided by the spread of the first chunk's
NCC over the whole track (its chance level: a pure tone correlates with any tonal mix, a noisy hit with
nothing). A sound that only begins like the template (another kick) is discounted by how far its later
chunks fall short of what the first chunk's match predicts for them. The confidence maps the z-score to
0..1 (``1 - exp(-z / Z_SCALE)``; ``Z_SCALE`` puts the default threshold where precision on the dev corpus
stays at 0.95, see ``audiowave eval --samples``).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import soxr
from scipy import fft
from scipy.signal import find_peaks

from audiowave.samples import landmarks
from audiowave.samples.candidates import HOP, Shortlist, shortlist
from audiowave.samples.descriptors import CHUNK, N_CHUNKS, SAMPLE_RATE, to_matcher_rate
from audiowave.samples.index_store import SampleIndex
from audiowave.samples.whitening import ALPHA, BackgroundSpectrum, Whitener

PITCHES = (-3, -2, -1, 0, 1, 2, 3)
STRETCHES = (0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15)
# (whitening power, sub-sample phases) searched: whitened, and plain beside it, because the whitened match is
# not always the stronger one (on the dev corpus the plain one was for some hats, crashes and percussion, and
# took recall from 0.79 to 0.81 at the same precision for 35 % more time: one phase only, to hold that down)
DOMAINS = ((ALPHA, (0.0, 0.5)), (0.0, (0.0,)))
FFT_SIZE = 32768
CANDIDATE_NCC = 0.45
CANDIDATES_PER_TEMPLATE = 3
TOLERANCE = 700
MIN_PEAK_DISTANCE = SAMPLE_RATE // 10
Z_SCALE = 16.5
TOP_OF_BAND = 0.88  # of Nyquist: where the resampler to the matcher's rate starts to roll off
DEFAULT_THRESHOLD = 0.74  # eval --samples, dev corpus + 848 distractors: fitted 0.74 on either half of the queries
TEMPLATE_BATCH = 32
# (template, pitch) pairs the candidate stage (audiowave.samples.candidates) shortlists, and how far from where it
# expects a template's first chunk the matched filter looks for it before correlating it with the whole track
SHORTLIST_PAIRS = 512
LOCAL_SEARCH = 3 * HOP
GATE_MARGIN = 0.05  # the local look filters the first chunk alone, at one phase: it passes a little below CANDIDATE_NCC


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


@dataclass
class Templates:
    """The index's templates through one track's filter, once per phase: unit chunks (n, N_CHUNKS, CHUNK),
    chunk weights, the first chunk's norm at the library level (for the gain), and which template each is."""

    chunks: np.ndarray
    weights: np.ndarray
    level: np.ndarray
    template: np.ndarray

    @classmethod
    def filtered(
        cls, index: SampleIndex, whitener: Whitener, phases: tuple[float, ...], rows: np.ndarray | None = None
    ) -> Templates:
        """The templates ``rows`` (all by default) through ``whitener`` at each sub-sample phase; only those rows
        are taken from the index (a pruned scan copies a tenth of it, not all)."""
        rows = np.arange(index.chunks.shape[0]) if rows is None else rows
        relative, index_weights = index.relative_chunks(rows), index.weights[rows]
        scale = index.norms[rows] / np.maximum(index_weights[:, 0], 1e-3)  # first chunk's norm at library level
        parts = []
        for phase in phases:
            seg, norms = _whitened(relative, whitener, phase)
            weights = np.sqrt(norms**2 / np.maximum((norms**2).max(axis=1, keepdims=True), 1e-24))
            weights[(weights < 0.05) | (index_weights == 0)] = 0.0
            parts.append((seg / np.maximum(norms, 1e-12)[:, :, None], weights, norms[:, 0] * scale))
        return cls(
            chunks=np.concatenate([c for c, _, _ in parts]).astype(np.float32),
            weights=np.concatenate([w for _, w, _ in parts]).astype(np.float32),
            level=np.concatenate([lv for _, _, lv in parts]),
            template=np.tile(rows, len(phases)),
        )

    def first_chunk_spectra(self, which: np.ndarray) -> np.ndarray:
        """Conjugate spectra of the first chunks of filtered templates ``which`` on the overlap-save grid."""
        return np.conj(fft.rfft(self.chunks[which, 0, :], FFT_SIZE, axis=1, workers=-1)).astype(np.complex64)


def _track_blocks(track: np.ndarray) -> np.ndarray:
    """Spectra of the overlap-save blocks of ``track`` (blocks, FFT_SIZE/2+1)."""
    step = FFT_SIZE - CHUNK + 1
    n_blocks = -(-(track.size - CHUNK + 1) // step)
    padded = np.zeros(n_blocks * step + CHUNK - 1, dtype=np.float32)
    padded[: track.size] = track
    frames = np.lib.stride_tricks.sliding_window_view(padded, FFT_SIZE)[::step][:n_blocks]
    return fft.rfft(frames, axis=1, workers=-1).astype(np.complex64)


def _first_chunk_ncc(blocks: np.ndarray, spectra: np.ndarray, win: np.ndarray) -> np.ndarray:
    """NCC (templates, positions) of each template's first chunk against the track (overlap-save)."""
    step = FFT_SIZE - CHUNK + 1
    out = np.empty((spectra.shape[0], win.size), dtype=np.float32)
    product = np.empty_like(spectra)
    for b in range(blocks.shape[0]):
        np.multiply(spectra, blocks[b][None, :], out=product)
        block = fft.irfft(product, FFT_SIZE, axis=1, workers=-1)
        n = min(step, win.size - b * step)
        out[:, b * step : b * step + n] = block[:, :n]
    out /= win
    return out


def stretch_hypotheses(ratio: float) -> list[float]:
    """Chunk-spacing ratios to try in a track resampled by ``ratio``, the likeliest first: speed changes
    keep the spacing at 1 after resampling, pitch shifts that preserve duration leave it at ``ratio``."""
    spacings = {*STRETCHES, *(round(s * ratio, 4) for s in STRETCHES)}
    return sorted(spacings, key=lambda s: min(abs(np.log(s)), abs(np.log(s / ratio))))


@dataclass
class ChainFit:
    """Chunks 1.. of a template at the best spacing: (chunk, NCC, track level there) each, and the spacing
    measured from where they peak (weighted median)."""

    chunks: list[tuple[int, float, float]]
    spacing: float


def _chain(
    track: np.ndarray, win: np.ndarray, chunks: np.ndarray, weights: np.ndarray, pos: int, ratio: float
) -> ChainFit:
    """Chunks 1.. searched around the offsets each spacing hypothesis predicts; the hypothesis with the best
    weighted mean NCC wins (ties keep the likelier one)."""
    stretches = stretch_hypotheses(ratio)
    spans = []
    for k in range(1, N_CHUNKS):
        lo = max(int(pos + k * CHUNK * min(stretches)) - TOLERANCE, 0)
        hi = min(int(pos + k * CHUNK * max(stretches)) + TOLERANCE, track.size - CHUNK)
        if weights[k] != 0 and hi > lo:
            spans.append((k, lo, hi))
    if not spans:
        return ChainFit([], 1.0)
    # every chunk's NCC over its search span, all at once (one batched FFT correlation)
    n_fft = fft.next_fast_len(max(hi - lo for _, lo, hi in spans) + CHUNK, real=True)
    segments = np.zeros((len(spans), n_fft), np.float32)
    for row, (_, lo, hi) in enumerate(spans):
        segments[row, : hi - lo + CHUNK] = track[lo : hi + CHUNK]
    spectra = fft.rfft(segments, axis=1, workers=-1) * np.conj(
        fft.rfft(chunks[[k for k, _, _ in spans]], n_fft, axis=1, workers=-1)
    )
    corr = fft.irfft(spectra, n_fft, axis=1, workers=-1)
    per_chunk = [(k, lo, corr[row, : hi - lo + 1] / win[lo : hi + 1]) for row, (k, lo, hi) in enumerate(spans)]
    best, best_st, best_fits = -np.inf, 1.0, []
    for st in stretches:
        total, fits = 0.0, []
        for k, lo, r in per_chunk:
            centre = int(pos + k * CHUNK * st) - lo
            a, b = max(centre - TOLERANCE, 0), min(centre + TOLERANCE + 1, r.size)
            if b > a:
                j = a + int(np.argmax(r[a:b]))
                total += weights[k] * float(r[j])
                fits.append((k, float(r[j]), float(win[lo + j]), (lo + j - pos) / (k * CHUNK)))
        if total > best:
            best, best_st, best_fits = total, st, fits
    strong = sorted((s, weights[k] * r) for k, r, _, s in best_fits if weights[k] * r > 0.3)
    if len(strong) >= 2:
        cum = np.cumsum([w for _, w in strong])
        best_st = strong[int(np.searchsorted(cum, cum[-1] / 2))][0]
    return ChainFit([(k, r, m) for k, r, m, _ in best_fits], best_st)


def evidence(first: float, level: float, fit: ChainFit, weights: np.ndarray, chance: float) -> float:
    """z-score of a match: chunk NCCs combined with weights level/track level, over the chance spread, times
    how much of the correlation the first chunk predicts for the later chunks they show (at most 1)."""
    gains = [weights[0] / max(level, 1e-12)] + [weights[k] / max(m, 1e-12) for k, _, m in fit.chunks]
    nccs = [first] + [r for _, r, _ in fit.chunks]
    if not np.any(gains):  # no chunk with weight left after the filter (a loop that starts softly): no evidence
        return 0.0
    combined = float(np.dot(gains, nccs) / np.linalg.norm(gains))
    noise = 1.0 / min(first, 0.999) ** 2 - 1.0  # background/sample energy under the first chunk
    shown = expected = 0.0
    for k, r, _ in fit.chunks:
        expected += weights[k] ** 2 / np.sqrt(1.0 + (weights[0] / weights[k]) ** 2 * noise)
        shown += weights[k] ** 2 * max(r, 0.0)
    consistency = min(1.0, shown / expected) if expected > 0.02 * float(np.sum(weights**2)) else 1.0
    return combined / chance * consistency


def _peaks(series: np.ndarray, floor: float) -> np.ndarray:
    """Indices of local maxima above ``floor`` at least MIN_PEAK_DISTANCE apart, strongest first."""
    idx, _ = find_peaks(series, height=floor, distance=MIN_PEAK_DISTANCE)
    return idx[np.argsort(series[idx])[::-1]]


def _whitened(relative: np.ndarray, whitener: Whitener, phase: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Template chunks at their relative levels (rows, chunks, CHUNK) through ``whitener`` at a sub-sample
    ``phase``, each chunk's mean removed; and their norms (rows, chunks)."""
    seg = whitener.apply(relative.reshape(relative.shape[0], -1), SAMPLE_RATE, phase).reshape(relative.shape)
    seg -= seg.mean(axis=2, keepdims=True)
    return seg, np.linalg.norm(seg, axis=2)


def _first_chunks(index: SampleIndex, whitener: Whitener, rows: np.ndarray) -> np.ndarray:
    """The first chunks of templates ``rows`` through ``whitener`` (filtered with the second chunk after them, as
    the filter spreads less than a chunk), unit norm: what the local look correlates."""
    seg, norms = _whitened(index.relative_chunks(rows)[:, :2], whitener)
    return seg[:, 0] / np.maximum(norms[:, :1], 1e-12)


def _near_ncc(track: np.ndarray, win: np.ndarray, first_chunks: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Each first chunk's best NCC against ``track`` within ``LOCAL_SEARCH`` samples of any of its ``expected``
    starts (chunks, starts)."""
    positions = 2 * LOCAL_SEARCH + 1
    length = positions - 1 + CHUNK
    if track.size < length:  # a short track: zeros after it, where no position can match
        win = np.concatenate([win, np.full(length - track.size, np.inf, np.float32)])
        track = np.concatenate([track, np.zeros(length - track.size, np.float32)])
    starts = np.clip(expected - LOCAL_SEARCH, 0, track.size - length)  # (chunks, starts)
    unique, which = np.unique(starts, return_inverse=True)  # templates look at the same few onsets
    which = which.reshape(starts.shape)
    n_fft = fft.next_fast_len(length + CHUNK, real=True)
    segments = fft.rfft(track[unique[:, None] + np.arange(length)], n_fft, axis=1, workers=-1)
    chunk_spectra = np.conj(fft.rfft(first_chunks, n_fft, axis=1, workers=-1))[:, None, :]
    corr = fft.irfft(segments[which] * chunk_spectra, n_fft, axis=2, workers=-1)[:, :, :positions]
    return (corr / win[unique[:, None] + np.arange(positions)][which]).max(axis=(1, 2))


def pitch_tracks(x: np.ndarray) -> dict[int, np.ndarray]:
    """The track (22.05 kHz) resampled to undo each pitch hypothesis."""
    return {
        p: soxr.resample(x, SAMPLE_RATE, SAMPLE_RATE * 2.0 ** (p / 12)).astype(np.float32) if p else x for p in PITCHES
    }


def scan_plan(
    index: SampleIndex, tracks: dict[int, np.ndarray], pairs: int = SHORTLIST_PAIRS, exhaustive: bool = False
) -> dict[int, Shortlist | None]:
    """What to verify per pitch hypothesis (``tracks``: :func:`pitch_tracks`): every template over the whole
    track (None) when ``exhaustive``, else the ``pairs`` (template, pitch) pairs the candidate stage ranks best,
    near where it expects them."""
    if exhaustive:
        return dict.fromkeys(tracks)
    return shortlist(index.candidates, tracks, pairs)


def match(
    index: SampleIndex,
    mono: np.ndarray,
    sample_rate: int,
    threshold: float = DEFAULT_THRESHOLD,
    pairs: int = SHORTLIST_PAIRS,
    exhaustive: bool = False,
) -> list[SampleMatch]:
    """Library samples found in ``mono`` with confidence at least ``threshold``, best first. Only the ``pairs``
    (template, pitch) pairs that the candidate stage shortlists are correlated, and only those whose first chunk
    matches near where it expects them are then correlated with the whole track; ``exhaustive`` correlates every
    pair with the whole track (the reference the shortlist is measured against)."""
    if not index.entries:
        return []
    tracks = pitch_tracks(to_matcher_rate(mono, sample_rate))
    plan = scan_plan(index, tracks, pairs, exhaustive)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # numpy and scipy's FFTs release the GIL
        found = pool.map(lambda p: _scan_pitch(index, p, tracks[p], plan[p], threshold), tracks)
        best: dict[int, SampleMatch] = {}
        for per_pitch in found:  # in pitch order: on a tie the first hypothesis keeps it, as in one loop
            for entry, m in per_pitch.items():
                if entry not in best or m.confidence > best[entry].confidence:
                    best[entry] = m
    return sorted(best.values(), key=lambda m: -m.confidence)


def _scan_pitch(
    index: SampleIndex, p: int, track: np.ndarray, short: Shortlist | None, threshold: float
) -> dict[int, SampleMatch]:
    """The best match per entry under pitch hypothesis ``p`` (``track`` resampled to undo it): the shortlisted
    templates (all when ``short`` is None) in each domain, gated near their expected starts, then correlated with
    the whole track and chain-verified."""
    best: dict[int, SampleMatch] = {}
    if (short is not None and short.rows.size == 0) or track.size < CHUNK:
        return best
    ratio = 2.0 ** (p / 12)
    top_hz = TOP_OF_BAND * SAMPLE_RATE / 2 / max(ratio, 1.0)  # the band a track upsampled here still has
    background = BackgroundSpectrum.of_track(track, SAMPLE_RATE)
    for alpha, phases in DOMAINS:
        whitener = background.whitener(alpha, top_hz)
        filtered = whitener.apply(track, SAMPLE_RATE)
        energy = np.concatenate([[0.0], np.cumsum(filtered.astype(np.float64) ** 2)])
        win = np.sqrt(np.maximum(energy[CHUNK:] - energy[:-CHUNK], 1e-12)).astype(np.float32)
        rows = None
        if short is not None:
            near = _near_ncc(filtered, win, _first_chunks(index, whitener, short.rows), short.positions)
            rows = short.rows[near >= CANDIDATE_NCC - GATE_MARGIN]
            if rows.size == 0:
                continue
        templates = Templates.filtered(index, whitener, phases, rows)
        blocks = _track_blocks(filtered)
        for lo in range(0, templates.template.size, TEMPLATE_BATCH):
            batch = np.arange(lo, min(lo + TEMPLATE_BATCH, templates.template.size))
            ncc = _first_chunk_ncc(blocks, templates.first_chunk_spectra(batch), win)
            for i in np.nonzero(ncc.max(axis=1) >= CANDIDATE_NCC)[0]:
                _verify(index, templates, filtered, win, ncc[i], int(batch[i]), p, threshold, best)
    return best


def _verify(
    index: SampleIndex,
    templates: Templates,
    track: np.ndarray,
    win: np.ndarray,
    series: np.ndarray,
    t: int,
    p: int,
    threshold: float,
    best: dict[int, SampleMatch],
) -> None:
    """Chain-verify the strongest first-chunk peaks of filtered template ``t``; keep the best match per entry."""
    ratio = 2.0 ** (p / 12)
    chance = float(series.std()) + 1e-6
    source = int(templates.template[t])
    entry = int(index.template_entry[source])
    weights = templates.weights[t]
    for pos in _peaks(series, CANDIDATE_NCC)[:CANDIDATES_PER_TEMPLATE]:
        fit = _chain(track, win, templates.chunks[t], weights, int(pos), ratio)
        first = float(series[pos])
        conf = 1.0 - np.exp(-evidence(first, float(win[pos]), fit, weights, chance) / Z_SCALE)
        if conf < threshold or conf <= (best[entry].confidence if entry in best else -1):
            continue
        stretch = round(fit.spacing / ratio, 3)  # duration in the track / in the library
        duration = index.entries[entry].descriptor.duration_s
        offset = int(index.template_start[source]) / SAMPLE_RATE
        span = (duration - offset) * stretch
        occ = [
            Occurrence(
                start_s=round(float(i) / (SAMPLE_RATE * ratio), 3),
                end_s=round(float(i) / (SAMPLE_RATE * ratio) + span, 3),
                ncc=round(float(series[i]), 3),
            )
            for i in _peaks(series, max(CANDIDATE_NCC, 0.75 * first))
        ]
        gain = first * float(win[pos]) / max(float(templates.level[t]), 1e-9)
        best[entry] = SampleMatch(
            entry=entry,
            confidence=round(float(conf), 3),
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
