"""How far a rendering is from the original: multi-resolution spectral distance, envelope and pitch distance.

Both signals are brought to the same RMS first, so the scores judge timbre and shape, not level. Spectra are
compared up to the highest frequency where the original still holds its content (``top_hz``): a resampled
original has nothing above its resampler's passband, where a rendering at the same rate does.
"""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import stft

from audiowave.recipes.pitch_track import f0_track

FFT_SIZES = (2048, 512)  # mel spectrogram resolutions
MEL_BANDS = {2048: 96, 512: 48}
LTAS_FFT = 8192  # long-term average spectrum: partial positions without beating or phase
# The long-term spectrum's power is averaged over 2 * LTAS_SMOOTH_BINS + 1 bins (+/-8 Hz at 8192 points and the
# search rate): a short noise's spectrum, averaged over few frames, scatters from bin to bin, so two renderings of a
# noisy hat differed by 4.9 dB per bin on average (2.5 dB smoothed); a partial stays a few bins wide (Hann window).
LTAS_SMOOTH_BINS = 3
FLOOR_DB = 60.0
DB_SCALE = 20.0  # a 20 dB difference everywhere scores 1
HOP_S = 0.005


def similarity(loss: float) -> float:
    """0..1 from a loss (spectral + envelope distance): exp(-loss), 1 = indistinguishable by these measures."""
    return float(np.exp(-loss))


@dataclass(frozen=True)
class Scores:
    spectral: float  # mean log-mel difference (two resolutions) + long-term spectrum difference, in 20 dB units
    envelope: float  # mean |level difference| in dB / FLOOR_DB (0 = same loudness contour)
    pitch_cents: float | None  # mean |f0 difference| where both are voiced; None when either is unpitched

    @property
    def total(self) -> float:
        return self.spectral + self.envelope

    @property
    def similarity(self) -> float:
        """0..1, 1 = indistinguishable by these measures (:func:`similarity` of the total)."""
        return similarity(self.total)


def _same_length(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = max(len(a), len(b))
    return np.pad(a, (0, n - len(a))), np.pad(b, (0, n - len(b)))


def _rms_normalised(x: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    return x / rms if rms > 0 else x


class Target:
    """The original, analysed once; :meth:`spectral` and :meth:`envelope` score candidate renderings."""

    def __init__(self, audio: np.ndarray, sr: int, top_hz: float | None = None) -> None:
        self.sr = sr
        self.top_hz = sr / 2 if top_hz is None else min(float(top_hz), sr / 2)
        self.audio = _rms_normalised(np.asarray(audio, dtype=np.float64))
        self.n = len(self.audio)
        self._mels = {
            size: librosa.filters.mel(sr=sr, n_fft=size, n_mels=MEL_BANDS[size], fmax=self.top_hz) for size in FFT_SIZES
        }
        self._ref = {size: self._mel_db(self.audio, size) for size in FFT_SIZES}
        self._ltas = self._ltas_db(self.audio)
        self._env = self._envelope_db(self.audio)

    @staticmethod
    def _power(x: np.ndarray, size: int) -> np.ndarray:
        return np.abs(stft(x, nperseg=size, noverlap=size * 3 // 4, boundary=None, padded=True)[2]) ** 2

    def _mel_db(self, x: np.ndarray, size: int) -> np.ndarray:
        return 10 * np.log10(np.maximum(self._mels[size] @ self._power(x, size), 1e-20))

    def _ltas_db(self, x: np.ndarray) -> np.ndarray:
        size = min(LTAS_FFT, 1 << int(np.log2(max(len(x), 256))))
        bins = int(self.top_hz / self.sr * size) + 1
        power = uniform_filter1d(self._power(x, size).mean(axis=1), 2 * LTAS_SMOOTH_BINS + 1, mode="nearest")
        return 10 * np.log10(np.maximum(power[:bins], 1e-20))

    @staticmethod
    def _db_distance(a: np.ndarray, ref: np.ndarray) -> float:
        floor = ref.max() - FLOOR_DB
        return float(np.mean(np.abs(np.maximum(a, floor) - np.maximum(ref, floor))) / DB_SCALE)

    def _envelope_db(self, x: np.ndarray) -> np.ndarray:
        hop = max(1, int(HOP_S * self.sr))
        rms = librosa.feature.rms(y=x, frame_length=4 * hop, hop_length=hop, center=True)[0]
        return 20 * np.log10(np.maximum(rms, 1e-9))

    def _fit(self, candidate: np.ndarray) -> np.ndarray:
        x = np.asarray(candidate, dtype=np.float64)[: self.n]
        return _rms_normalised(np.pad(x, (0, self.n - len(x))))

    def spectral(self, candidate: np.ndarray) -> float:
        x = self._fit(candidate)
        mel = np.mean([self._db_distance(self._mel_db(x, size), ref) for size, ref in self._ref.items()])
        return float(mel + self._db_distance(self._ltas_db(x), self._ltas))

    def envelope(self, candidate: np.ndarray) -> float:
        env = self._envelope_db(self._fit(candidate))
        top = self._env.max()
        a = np.maximum(env, top - FLOOR_DB)
        b = np.maximum(self._env, top - FLOOR_DB)
        return float(np.mean(np.abs(a - b)) / FLOOR_DB)

    def loss(self, candidate: np.ndarray) -> float:
        """What the recipe search minimises: spectral plus envelope distance."""
        return self.spectral(candidate) + self.envelope(candidate)

    def scores(self, candidate: np.ndarray, pitch: float | None = None) -> Scores:
        """Spectral and envelope distance of ``candidate``; ``pitch`` (cents) is measured by the caller."""
        return Scores(self.spectral(candidate), self.envelope(candidate), pitch)


def pitch_distance(reference: tuple[np.ndarray, np.ndarray], b: np.ndarray, sr: int) -> float | None:
    """Mean |f0 difference| in cents between a reference :func:`f0_track` and ``b``, where both are voiced."""
    fa, va = reference
    fb, vb = f0_track(b, sr)
    n = min(len(va), len(vb))
    fa, va, fb, vb = fa[:n], va[:n], fb[:n], vb[:n]
    both = va & vb
    if both.sum() < 5:
        return None
    return float(np.mean(np.abs(1200 * np.log2(fa[both] / fb[both]))))
