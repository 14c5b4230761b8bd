"""Library samples that sound like a sound, where none of them *is* it: the nearest by timbre.

Each library sample is summarised by its first template (:mod:`descriptors`: the 0.74 s from its onset at 22.05 kHz,
its chunks at their relative levels) as a spectrogram on a semitone scale: one frame per chunk, bands a semitone
apart from ``LOWEST_HZ`` up, in dB from the template's loudest cell, floored ``FLOOR_DB`` down. A sampler that plays a
sample ``s`` semitones higher moves its partials ``s`` bands up, so a pitch shift is a shift along the band axis. The
distance is the RMS dB difference of the two spectrograms over the bands both cover, taken for every shift in
``SHIFTS`` plus ``SHIFT_PENALTY_DB`` per semitone (a drum played far from its pitch is another drum), and the nearest
shift is the one to play the sample at.

Chosen on the Hydrogen drum kits (``bench/timbre_neighbours.py``: 752 samples in 14 kits). "Kind": 415 named drums,
each searched in the other kits; is the nearest the same kind of drum (chance 0.21)? "Recovery": each sample
varispeeded 1-5 semitones and low-passed, searched in the whole index; is it the nearest, and at the shift applied?

| distance, penalty per semitone | kind | recovery: nearest / in 4 nearest | shift exact |
|---|---|---|---|
| Pearson correlation, 0 (250 of the 415) | 0.43 | | |
| mean abs dB, 0 / 0.5 (250 of the 415) | 0.55 / 0.60 | | |
| RMS dB, 0 | 0.57 | 0.70 / 0.84 | 0.93 |
| **RMS dB, 0.1** | 0.60 | 0.71 / 0.86 | 0.86 |
| RMS dB, 0.25 | 0.63 | 0.69 / 0.84 | 0.74 |
| RMS dB, 0.5 | 0.63 | 0.64 / 0.81 | 0.54 |

RMS over mean absolute: both score alike, and the squared distance is matrix products (a query against 240,000
samples, 100 hours of one-shots, takes 0.36 s).

Hand-written: the matched filter (:mod:`matcher`) answers "is it this recording"; no library offers a
pitch-shift-tolerant nearest neighbour over a sample index, and a semitone log-spectrogram is a few lines on numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

from audiowave.samples.descriptors import CHUNK, SAMPLE_RATE, describe

LOWEST_HZ = 40.0
BANDS = 96  # 8 octaves: 40 Hz - 10 kHz
BAND_WIDTH_ST = 2.0  # each triangular band reaches this far either side of its centre
FLOOR_DB = 50.0
SHIFTS = np.arange(-12, 13)  # semitones the library sample may be played away from its own pitch
SHIFT_PENALTY_DB = 0.1  # added to the distance per semitone of shift
N_FFT = CHUNK  # 10.8 Hz bins; the lowest bands are kept at least 1.5 bins wide


def _filterbank() -> np.ndarray:
    """(BANDS, N_FFT // 2 + 1) triangular weights on a log-frequency axis, at least 1.5 bins wide either side."""
    freqs = np.fft.rfftfreq(N_FFT, 1 / SAMPLE_RATE)
    centres = LOWEST_HZ * 2.0 ** (np.arange(BANDS) / 12)
    reach = np.maximum(centres * (2 ** (BAND_WIDTH_ST / 12) - 1), 1.5 * SAMPLE_RATE / N_FFT)
    weights = np.clip(1 - np.abs(freqs[None, :] - centres[:, None]) / reach[:, None], 0, None)
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


FILTERBANK = _filterbank()


def spectrograms(relative_chunks: np.ndarray) -> np.ndarray:
    """(n, N_CHUNKS, BANDS) semitone spectrograms in dB (0 = loudest cell) of templates (n, N_CHUNKS, CHUNK)."""
    x = np.asarray(relative_chunks, dtype=np.float32) * np.hanning(CHUNK).astype(np.float32)
    power = np.abs(scipy.fft.rfft(x, n=N_FFT, axis=-1, workers=-1)) ** 2
    db = 10 * np.log10(np.maximum(power @ FILTERBANK.T, 1e-20))
    top = db.max(axis=(1, 2), keepdims=True)
    return np.maximum(db - top, -FLOOR_DB).astype(np.float32)


def query_spectrogram(mono: np.ndarray, sample_rate: int) -> np.ndarray:
    """(N_CHUNKS, BANDS) spectrogram of a sound from its onset, made as a library sample's is."""
    d = describe(mono, sample_rate)
    return spectrograms(d.chunks[:1].astype(np.float32) * d.weights[:1, :, None])[0]


def _distances(query: np.ndarray, library: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """(len(shifts), n) RMS dB difference of ``query`` from each library spectrogram played each shift up, over the
    bands both cover: |q - l|^2 = |q|^2 + |l|^2 - 2 q.l, the cross term one matrix product for every shift at once."""
    q = np.zeros((len(shifts), *query.shape), np.float32)  # the query where it meets the library, per shift
    bounds = []
    for k, shift in enumerate(int(s) for s in shifts):
        lo, hi = max(-shift, 0), BANDS - max(shift, 0)  # library bands that land inside the query's range
        q[k, :, lo:hi] = query[:, lo + shift : hi + shift]
        bounds.append((lo, hi))
    lo, hi = np.array(bounds).T
    band_energy = np.cumsum(np.einsum("nfb,nfb->nb", library, library), axis=1)  # (n, BANDS), cumulative
    band_energy = np.pad(band_energy, ((0, 0), (1, 0)))
    library_part = (band_energy[:, hi] - band_energy[:, lo]).T  # (shifts, n)
    cross = q.reshape(len(shifts), -1) @ library.reshape(len(library), -1).T
    squared = (q**2).sum(axis=(1, 2))[:, None] + library_part - 2 * cross
    cells = query.shape[0] * (hi - lo)
    return np.sqrt(np.maximum(squared, 0.0) / cells[:, None])


@dataclass(frozen=True)
class Neighbour:
    entry: int  # index into the library spectrograms
    distance_db: float  # RMS dB difference at ``shift`` (without the shift's penalty)
    shift: int  # semitones to play the library sample at

    @property
    def similarity(self) -> float:
        """1 - distance / FLOOR_DB: 1 = the same spectrogram, 0 = as far apart as two spectrograms can be."""
        return 1.0 - self.distance_db / FLOOR_DB


def nearest(query: np.ndarray, library: np.ndarray, count: int, shifts: np.ndarray = SHIFTS) -> list[Neighbour]:
    """The ``count`` library spectrograms nearest ``query``, each at its best shift, nearest first."""
    if len(library) == 0:
        return []
    distances = _distances(query, library, shifts)
    penalised = distances + SHIFT_PENALTY_DB * np.abs(shifts)[:, None]
    best_shift = penalised.argmin(axis=0)
    columns = np.arange(len(library))
    order = np.argsort(penalised[best_shift, columns], kind="stable")[:count]
    return [Neighbour(int(i), float(distances[best_shift[i], i]), int(shifts[best_shift[i]])) for i in order]
