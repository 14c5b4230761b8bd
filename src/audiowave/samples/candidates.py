"""Candidate stage of sample identification: which (template, pitch) pairs the matched filter verifies, and where.

The matched filter costs a whole-track correlation per template and pitch hypothesis, so an index is not scanned
exhaustively. Here every template is summarised by the mel band power of its first frames (32 bands, 12 frames
at an 11.6 ms hop: the attack and early decay of a hit; templates start at the sample's onsets), and the track,
resampled per pitch hypothesis as the matcher does, by the same patch at its onsets: the ``ONSETS`` strongest
rises of its power above the background, each at the ``SPAN`` frames from two before to three after the rise
(where a template's first frame falls). The score is the cosine of the two patches after dividing both by the
track's background power per band (its median over time), the track's patch taken as its power *above* that
background: the power-domain analogue of the whitened matched filter (:mod:`audiowave.samples.whitening`), so a
hit counts where it stands out of the mix. It is linear in the template's power, so all templates against all
onset patches are one matrix product per pitch, and the template side's norm under the track's weighting is a
product with band energies. Each template keeps its ``KEEP_ONSETS`` best onsets: a loop's best-scored beat is
not always where it matches.

The weighting belongs to the track, so the scores are computed, not looked up. Measured on the dev corpus with 848
distractor samples: a fixed weighting (a typical background) or a PCA of the patches ranked the true pair in the
thousands, and clusters of templates (spherical k-means, each cluster scored by its mean patch under the track's
weighting, only the best clusters' members scored) cut recall from 0.79 to 0.55 probing 3 % of the clusters and to 0.76
probing 25 %. What does hold under any weighting is a basis per band: the weighting is one factor within a band, so each
band's 12 frames are cut to their ``RANK`` leading time shapes (an SVD over the templates) and a template's score is
approximated band by band. Above ``APPROXIMATE_ABOVE`` templates this rough pass (4 shapes per band, 2 of the 6 patches
of each onset's span, the 40 strongest of the 64 onsets: 1/14 of the exact arithmetic) ranks every template and only its
best ``RERANK`` per pitch are scored exactly. Ranks of the true templates of the dev corpus' queries among 1,327
(library and distractor kits), per pitch, median/90th percentile: exact 0/6; 4 shapes on 2 patches of every onset 1/108;
2 shapes on 3 patches 22/348 (random templates, as in the synthetic scale test, hid that: 2 shapes kept 99 % of the
exact shortlist there). ``bench/sample_scale_recall.py`` measures what that costs in recall: emulated at 100 hours, 0.53
with the shipped pass, 0.60 with exact scores; fewer shapes or patches lose it (3 shapes on 2 patches, 3/4 of the
arithmetic: 0.43; 6 shapes on 1 patch: 0.17), fewer onsets barely do (the 16-64 strongest: 0.49-0.53 at 100 hours, at 10
hours 0.70 with 40 or 48, 0.68 with 32 or 64, 0.66 with 24: the true hit is rarely among the weakest rises). At 100
synthetic hours the pass with 40 onsets is ~0.2 s of a 0.73-0.76 s query with the pitch hypotheses verified one after
another (``bench/sample_scale.py``; 0.78 s with all 64 on the same machine; 0.53 s verified on threads).
Hand-written: no library scores a sample against a mix; it is a few array operations over librosa's mel filters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import librosa
import numpy as np
from scipy import fft
from scipy.signal import find_peaks

from audiowave.samples.descriptors import CHUNK, N_CHUNKS, SAMPLE_RATE

N_FFT = 1024
HOP = 256
BANDS = 32
FRAMES = 12
FMIN, FMAX = 40.0, 10000.0
BACKGROUND_PERCENTILE = 50
ONSETS = 64  # onsets per pitch hypothesis whose patches are scored
ONSET_FRAMES = (-2, 3)  # frames around an onset's rise where a template's first frame may fall
ONSET_DISTANCE = 3  # frames between onsets at least
SPAN = ONSET_FRAMES[1] - ONSET_FRAMES[0] + 1  # patches per onset
KEEP_ONSETS = 6  # a template's best onsets, where the matched filter looks for it (a loop's best beat may not be)
BATCH = 2048  # templates transformed at once
SCORE_CELLS = 1 << 24  # template x patch scores held at once (64 MB)
APPROXIMATE_ABOVE = 16384  # templates above which a low-rank pass picks those scored exactly
RANK = 4  # time shapes per band in that pass (of FRAMES)
COARSE = slice(1, None, 3)  # the patches of each onset's span that pass scores: its frames -1 and +2 (every frame
# of the span at most one away)
RERANK = 4096  # templates per pitch hypothesis scored exactly after it
ROUGH_ONSETS = 40  # strongest onsets per hypothesis whose patches the rough pass scores (of ONSETS)
SCORE_ROWS = 4096  # templates per block of the exact pass (its scores stay in the cache: ~20 % faster than 64 MB)
ROUGH_ROWS = 512  # templates per block of the rough pass, which scores every pitch hypothesis at once
_MEL = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=BANDS, fmin=FMIN, fmax=FMAX).astype(np.float32)
_WINDOW = np.hanning(N_FFT).astype(np.float32)


def band_power(x: np.ndarray) -> np.ndarray:
    """Mel band power of ``x`` (..., n): (..., BANDS, frames), frame i starting at sample i * HOP."""
    if x.shape[-1] < N_FFT:
        x = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, N_FFT - x.shape[-1])])
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT, axis=-1)[..., ::HOP, :] * _WINDOW
    power = np.abs(fft.rfft(frames, axis=-1, workers=-1)) ** 2
    return np.ascontiguousarray(np.swapaxes(power @ _MEL.T, -1, -2), dtype=np.float32)  # a BLAS product: 5x einsum


def template_power(relative: np.ndarray) -> np.ndarray:
    """(templates, BANDS * FRAMES) band power of the templates' first frames, peak cell 1."""
    wave = relative.reshape(relative.shape[0], N_CHUNKS * CHUNK)[:, : (FRAMES - 1) * HOP + N_FFT]
    power = band_power(wave.astype(np.float32))[..., :FRAMES].reshape(relative.shape[0], -1)
    return power / np.maximum(power.max(axis=1, initial=0.0), 1e-20)[:, None]


@dataclass
class OnsetPatches:
    """A track's patches at its onsets under one pitch hypothesis: (onsets * SPAN, BANDS * FRAMES) divided by the
    background per band and unit-normalised in that weighting (``SPAN`` consecutive frames per onset), the frame
    each starts at, and 1 / background²."""

    weighted: np.ndarray
    frames: np.ndarray
    inverse_background: np.ndarray

    @classmethod
    def of(cls, track: np.ndarray) -> OnsetPatches | None:
        """The onset patches of ``track`` (22.05 kHz grid), or None if it is shorter than a patch."""
        power = band_power(track)
        last = power.shape[1] - FRAMES
        if last < 0:
            return None
        background = np.percentile(power, BACKGROUND_PERCENTILE, axis=1) + 1e-12
        excess = np.maximum(power - background[:, None], 0.0) / background[:, None]
        level = np.log1p(excess.sum(axis=0))
        rise = np.maximum(np.diff(level, prepend=level[0]), 0.0)
        peaks, _ = find_peaks(rise, distance=ONSET_DISTANCE)
        peaks = peaks[np.argsort(rise[peaks])[::-1][:ONSETS]] if peaks.size else np.zeros(1, np.int64)
        frames = np.clip(peaks[:, None] + np.arange(ONSET_FRAMES[0], ONSET_FRAMES[1] + 1)[None, :], 0, last)
        frames = frames.reshape(-1)
        patches = np.lib.stride_tricks.sliding_window_view(excess, FRAMES, axis=1)[:, frames]
        patches = patches.transpose(1, 0, 2).reshape(-1, BANDS * FRAMES)
        norm = np.maximum(np.linalg.norm(patches, axis=1), 1e-9)
        weighted = patches / np.repeat(background, FRAMES)[None, :] / norm[:, None]
        return cls(weighted.astype(np.float32), frames, (1.0 / background**2).astype(np.float32))


def _best_onsets(power: np.ndarray, weighted: np.ndarray, keep: int) -> np.ndarray:
    """Each row of ``power`` against onsets of ``SPAN`` patches each: at its ``keep`` best onsets (by the best dot
    product over the onset's span), best first, the patch of each (the best of that onset's span): (rows, keep)."""
    onsets = weighted.shape[0] // SPAN
    keep = min(keep, onsets)
    patch = np.empty((power.shape[0], keep), np.int64)
    rows = max(1, SCORE_CELLS // max(weighted.shape[0], 1))  # bounds the (templates, patches) block in memory
    for i in range(0, power.shape[0], rows):
        s = (power[i : i + rows] @ weighted.T).reshape(-1, onsets, SPAN)
        per_onset = s[:, :, 0].copy()
        for k in range(1, SPAN):  # a running maximum over the span: far faster than max/argmax on a short axis
            np.maximum(per_onset, s[:, :, k], out=per_onset)
        top = (
            np.argpartition(-per_onset, keep - 1, axis=1)[:, :keep]
            if keep < onsets
            else np.tile(np.arange(onsets), (s.shape[0], 1))
        )
        order = np.argsort(-np.take_along_axis(per_onset, top, axis=1), axis=1)
        top = np.take_along_axis(top, order, axis=1)
        within = s[np.arange(s.shape[0])[:, None], top].argmax(axis=2)  # (rows, keep): the frame of each kept onset
        patch[i : i + rows] = top * SPAN + within
    return patch


@dataclass
class CandidateIndex:
    """Every template's first-frame band power, flattened (templates, BANDS * FRAMES), its energy per band, and
    (above ``APPROXIMATE_ABOVE`` templates) each band's power on that band's ``RANK`` leading time shapes."""

    power: np.ndarray
    band_energy: np.ndarray
    basis: np.ndarray | None = None  # (BANDS, FRAMES, RANK): per band, orthonormal time shapes
    coords: np.ndarray | None = None  # (templates, BANDS * RANK): each band's power on its band's shapes
    rerank: int = RERANK  # templates per hypothesis the rough pass hands to the exact scores

    @classmethod
    def of(
        cls,
        relative_chunks: Callable[[np.ndarray], np.ndarray],
        n: int,
        approximate_above: int = APPROXIMATE_ABOVE,
        rerank: int = RERANK,
    ) -> CandidateIndex:
        """The summary of ``n`` templates, read ``BATCH`` rows at a time from ``relative_chunks(rows)``; above
        ``approximate_above`` templates also the coordinates the rough pass scores with, which keeps ``rerank``
        templates per hypothesis."""
        batches = [template_power(relative_chunks(np.arange(i, min(i + BATCH, n)))) for i in range(0, n, BATCH)]
        power = np.concatenate(batches) if batches else np.zeros((0, BANDS * FRAMES), np.float32)
        basis = coords = None
        if n > approximate_above:
            basis = time_shapes(power, RANK)
            coords = np.einsum("tbf,bfk->tbk", power.reshape(-1, BANDS, FRAMES), basis).reshape(n, -1)
        return cls(power, np.square(power.reshape(-1, BANDS, FRAMES)).sum(axis=2), basis, coords, rerank)

    def scores(self, onsets: list[OnsetPatches]) -> np.ndarray:
        """(templates, hypotheses) each template's best cosine over each hypothesis' onset patches. With time-shape
        coordinates only the ``rerank`` templates per hypothesis that the rough pass ranks best are scored
        exactly; the rest get -1."""
        n = self.power.shape[0]
        norms = _norms(self.band_energy, onsets)
        best = np.full((n, len(onsets)), -1.0, np.float32)
        rough = None
        if self.coords is not None and n > self.rerank and onsets:
            rough = _approximate_best(self.coords, self.basis, norms, [o.weighted for o in onsets])
        keep = self.rerank
        for j, o in enumerate(onsets):
            rows = np.arange(n) if rough is None else np.sort(np.argpartition(-rough[:, j], keep - 1)[:keep])
            for i in range(0, rows.size, SCORE_ROWS):
                block = rows[i : i + SCORE_ROWS]
                best[block, j] = (self.power[block] @ o.weighted.T).max(axis=1) / norms[block, j]
        return best

    def onset_frames(self, rows: np.ndarray, onsets: OnsetPatches, keep: int = KEEP_ONSETS) -> np.ndarray:
        """(rows, keep) the track frames where each template's best patches start at its ``keep`` best onsets."""
        return _padded(onsets.frames[_best_onsets(self.power[rows], onsets.weighted, keep)], keep)


def _norms(band_energy: np.ndarray, onsets: list[OnsetPatches]) -> np.ndarray:
    """(templates, hypotheses) the templates' norms under each hypothesis' weighting of the track (one product:
    the band energies are read once, not once per hypothesis)."""
    inverse = np.stack([o.inverse_background for o in onsets], axis=1) if onsets else np.zeros((BANDS, 0), np.float32)
    return np.maximum(np.sqrt(band_energy @ inverse), 1e-20)


def time_shapes(power: np.ndarray, rank: int) -> np.ndarray:
    """Per band, the ``rank`` leading right singular vectors of the templates' power over the FRAMES frames
    (from the eigenvectors of each band's Gram matrix): (BANDS, FRAMES, rank). Within a band the track's weighting
    is one factor, so a template's score is approximated band by band and no band's weight can blow up the error
    of another (a basis over all bands at once failed that way: a track whose background is quiet in some bands
    weights them by thousands)."""
    bands = power.reshape(-1, BANDS, FRAMES)
    gram = np.zeros((BANDS, FRAMES, FRAMES), np.float64)
    for i in range(0, bands.shape[0], 65536):
        block = bands[i : i + 65536].astype(np.float64)
        gram += np.einsum("tbf,tbg->bfg", block, block)
    _, vectors = np.linalg.eigh(gram)  # ascending eigenvalues, per band
    return np.ascontiguousarray(vectors[:, :, ::-1][:, :, :rank], dtype=np.float32)


def _approximate_best(
    coords: np.ndarray, basis: np.ndarray, norms: np.ndarray, weighted: list[np.ndarray]
) -> np.ndarray:
    """(templates, hypotheses) each template's best cosine over the ``COARSE`` patches of the spans of each
    hypothesis' ``ROUGH_ONSETS`` strongest onsets (a frame either side of one kept costs the cosine ~0.01 at the
    median), from its coordinates on the bands' time shapes. All hypotheses' patches are scored in one product per
    block of templates, so each block is read once (measured with 2 shapes at 240,000 templates: 0.32 s for 7
    hypotheses against 0.38 s one by one)."""
    coarse = [w.reshape(-1, SPAN, BANDS, FRAMES)[:ROUGH_ONSETS, COARSE] for w in weighted]  # strongest first
    projected = [np.einsum("osbf,bfk->osbk", c, basis).reshape(-1, coords.shape[1]) for c in coarse]
    starts = np.cumsum([0] + [p.shape[0] for p in projected[:-1]])
    stacked = np.ascontiguousarray(np.concatenate(projected).T)
    out = np.empty((coords.shape[0], len(projected)), np.float32)
    for i in range(0, coords.shape[0], ROUGH_ROWS):
        out[i : i + ROUGH_ROWS] = np.maximum.reduceat(coords[i : i + ROUGH_ROWS] @ stacked, starts, axis=1)
    return out / norms


def _padded(frames: np.ndarray, keep: int) -> np.ndarray:
    """(rows, k) frames widened to ``keep`` columns by repeating the best (fewer onsets than ``keep``)."""
    if frames.shape[1] == keep:
        return frames
    return np.concatenate([frames, np.repeat(frames[:, :1], keep - frames.shape[1], axis=1)], axis=1)


@dataclass
class Shortlist:
    """Templates to verify under one pitch hypothesis and the track samples (on that hypothesis' resampled grid)
    where each one's first chunk may be, (rows, KEEP_ONSETS)."""

    rows: np.ndarray
    positions: np.ndarray


def shortlist(index: CandidateIndex, tracks: dict[int, np.ndarray], pairs: int) -> dict[int, Shortlist]:
    """The ``pairs`` best-scored (template, pitch) pairs, per pitch hypothesis; ``tracks`` holds the track resampled
    for each hypothesis (semitones -> 22.05 kHz grid), as the matcher correlates it."""
    pitches = list(tracks)
    onsets = {p: OnsetPatches.of(tracks[p]) for p in pitches}
    scored = [p for p in pitches if onsets[p] is not None]
    scores = np.full((index.power.shape[0], len(pitches)), -1.0, np.float32)
    scores[:, [pitches.index(p) for p in scored]] = index.scores([onsets[p] for p in scored])
    pairs = min(pairs, scores.size)
    empty = Shortlist(np.zeros(0, np.int64), np.zeros((0, KEEP_ONSETS), np.int64))
    if pairs == 0:
        return dict.fromkeys(pitches, empty)
    best = np.argpartition(-scores.reshape(-1), pairs - 1)[:pairs]
    best = best[scores.reshape(-1)[best] > 0]
    template, pitch = np.unravel_index(best, scores.shape)
    out = {}
    for j, p in enumerate(pitches):
        rows = np.sort(template[pitch == j])
        out[p] = Shortlist(rows, index.onset_frames(rows, onsets[p]) * HOP) if rows.size else empty
    return out
