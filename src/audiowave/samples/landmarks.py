"""Landmark fingerprinting in the style of audfprint (Ellis 2009, after Wang 2003): the baseline.

Spectral peaks are paired into (f1, df, dt) hashes; a query matches a reference when many hashes agree on
one time offset. Written here (about 100 lines) because audfprint is not packaged on PyPI and its code is
a script tree, not a library; parameters follow audfprint's defaults (11025 Hz, 512-point FFT, 256 hop,
~20 peaks/s, 3 pairs per peak, |df| < 32 bins, dt < 64 frames, 20-bit hashes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr
from scipy.ndimage import maximum_filter
from scipy.signal import stft

SAMPLE_RATE = 11025
N_FFT = 512
HOP = 256
FRAME_S = HOP / SAMPLE_RATE
PEAKS_PER_SECOND = 20
PAIRS_PER_PEAK = 3
MAX_DF = 31
MAX_DT = 63
MIN_VOTES = 5


def peaks(mono: np.ndarray, sample_rate: int) -> np.ndarray:
    """Spectral peaks as (frame, bin) rows, strongest ``PEAKS_PER_SECOND`` per second of audio."""
    x = np.asarray(mono, dtype=np.float32)
    if sample_rate != SAMPLE_RATE:
        x = soxr.resample(x, sample_rate, SAMPLE_RATE)
    if x.size < N_FFT:
        x = np.pad(x, (0, N_FFT - x.size))
    _, _, z = stft(x, nperseg=N_FFT, noverlap=N_FFT - HOP, boundary=None, padded=True)
    mag = np.log(np.abs(z[1:]) + 1e-9)  # drop DC: 256 bins fit the 8-bit f1 field
    mag -= mag.mean()
    local_max = (mag == maximum_filter(mag, size=(15, 9))) & (mag > mag.max() - 9.0)
    f, t = np.nonzero(local_max)
    keep = max(1, int(PEAKS_PER_SECOND * x.size / SAMPLE_RATE))
    order = np.argsort(mag[f, t])[::-1][:keep]
    rows = np.stack([t[order], f[order]], axis=1)
    return rows[np.lexsort((rows[:, 1], rows[:, 0]))]


def hashes(mono: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(hash uint32, anchor frame int32) pairs of the landmark constellation."""
    pk = peaks(mono, sample_rate)
    out_h: list[int] = []
    out_t: list[int] = []
    for i, (t1, f1) in enumerate(pk):
        n = 0
        for t2, f2 in pk[i + 1 :]:
            dt = t2 - t1
            if dt > MAX_DT:
                break
            if dt < 1 or abs(f2 - f1) > MAX_DF:
                continue
            out_h.append(((int(f1) & 0xFF) << 12) | (((int(f2) - int(f1)) & 0x3F) << 6) | (int(dt) & 0x3F))
            out_t.append(int(t1))
            n += 1
            if n == PAIRS_PER_PEAK:
                break
    return np.asarray(out_h, dtype=np.uint32), np.asarray(out_t, dtype=np.int32)


@dataclass
class LandmarkIndex:
    """Sorted hash table: ``hash`` with the reference ``item`` and anchor ``frame`` of each entry."""

    hash: np.ndarray
    item: np.ndarray
    frame: np.ndarray

    @classmethod
    def build(cls, per_item: list[tuple[np.ndarray, np.ndarray]]) -> LandmarkIndex:
        if not per_item:
            return cls(np.zeros(0, np.uint32), np.zeros(0, np.int32), np.zeros(0, np.int32))
        h = np.concatenate([p[0] for p in per_item])
        t = np.concatenate([p[1] for p in per_item])
        item = np.concatenate([np.full(p[0].size, i, np.int32) for i, p in enumerate(per_item)])
        order = np.argsort(h, kind="stable")
        return cls(h[order], item[order], t[order])

    def query(self, q_hash: np.ndarray, q_frame: np.ndarray) -> list[tuple[int, int, int]]:
        """(item, votes, offset frame) for each reference with at least ``MIN_VOTES`` aligned hashes."""
        lo = np.searchsorted(self.hash, q_hash, "left")
        hi = np.searchsorted(self.hash, q_hash, "right")
        counts = hi - lo
        if counts.sum() == 0:
            return []
        rows = np.repeat(np.arange(q_hash.size), counts)
        ref = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True) if b > a])
        items = self.item[ref]
        offsets = q_frame[rows] - self.frame[ref]
        key = items.astype(np.int64) * 1_000_003 + (offsets // 2 + 500_000)  # 2-frame offset bins
        uniq, votes = np.unique(key, return_counts=True)
        best: dict[int, tuple[int, int]] = {}
        for k, v in zip(uniq, votes, strict=True):
            it = int(k // 1_000_003)
            if v > best.get(it, (0, 0))[0]:
                best[it] = (int(v), int((k % 1_000_003 - 500_000) * 2))
        return [(it, v, off) for it, (v, off) in best.items() if v >= MIN_VOTES]
