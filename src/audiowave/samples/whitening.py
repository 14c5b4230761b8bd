"""Whitening against the track's background, so a matched filter listens where the sample stands out.

The optimal detector of a known waveform in coloured noise correlates after dividing by the noise spectrum.
The noise here is the rest of the mix, whose spectrum is estimated as a low percentile of the track's
short-time power per frequency: a sustained background sets it, while a one-shot that sounds in a minority
of frames (the thing searched for) barely moves it. The same zero-phase filter is applied to the track and to
every template, so a sample in the track is still the filtered template, at the same gain.

``ALPHA`` < 1 whitens partly: fully whitened, a low-frequency sample (a kick) loses the band it dominates
when it repeats often enough to raise the percentile there. Bands the track does not carry at all (a codec's
lowpass, the resampler's transition band) get no weight, so a template's energy there cannot count against
it. Hand-written: it is a few lines over scipy and has to match the matcher's FFT grid exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft
from scipy.signal import stft

NPERSEG = 1024
PERCENTILE = 20
ALPHA = 0.7
FLOOR = 1e-3  # power floor relative to the median over the band: at most ~10 dB of boost at ALPHA
DEAD = 1e-3  # mean power below this share of the band's median marks a band the track does not carry
BAND_HZ = (30.0, 10000.0)


@dataclass
class BackgroundSpectrum:
    """A track's short-time power per frequency: a low percentile (the background) and the mean."""

    freqs: np.ndarray
    floor_power: np.ndarray
    mean_power: np.ndarray

    @classmethod
    def of_track(cls, track: np.ndarray, sample_rate: int) -> BackgroundSpectrum:
        nperseg = min(NPERSEG, 1 << int(np.log2(max(track.size, 64))))
        freqs, _, z = stft(track, sample_rate, nperseg=nperseg, noverlap=nperseg // 2, boundary=None)
        power = np.abs(z) ** 2
        return cls(freqs, np.percentile(power, PERCENTILE, axis=1), power.mean(axis=1))

    def whitener(self, alpha: float = ALPHA, top_hz: float = BAND_HZ[1]) -> Whitener:
        """The filter that whitens this background to the power ``alpha`` (0: only the band limits), passing
        nothing above ``top_hz`` nor in bands the track does not carry."""
        in_band = (self.freqs >= BAND_HZ[0]) & (self.freqs <= min(top_hz, BAND_HZ[1]))
        if in_band.any():
            in_band &= self.mean_power >= DEAD * float(np.median(self.mean_power[in_band]))
        median = float(np.median(self.floor_power[in_band])) if in_band.any() else 0.0
        if median <= 0:
            return Whitener(self.freqs, in_band.astype(np.float64))
        gain = np.where(in_band, np.maximum(self.floor_power, FLOOR * median) ** (-alpha / 2), 0.0)
        return Whitener(self.freqs, gain / gain.max())


@dataclass
class Whitener:
    """Magnitude response ``gain`` at ``freqs`` (Hz): the track's background, inverted."""

    freqs: np.ndarray
    gain: np.ndarray

    def response(self, n_fft: int, sample_rate: int, delay: float = 0.0) -> np.ndarray:
        """The filter on the rfft grid of ``n_fft`` points, delayed by ``delay`` samples (fractional)."""
        grid = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
        gain = np.interp(grid, self.freqs, self.gain)
        if delay:
            return (gain * np.exp(-2j * np.pi * grid / sample_rate * delay)).astype(np.complex64)
        return gain.astype(np.float32)

    def apply(self, x: np.ndarray, sample_rate: int, delay: float = 0.0) -> np.ndarray:
        """``x`` (..., n) filtered along its last axis, same length (zero-padded, so no wrap-around)."""
        n = x.shape[-1]
        n_fft = fft.next_fast_len(n + NPERSEG * 2, real=True)
        spectrum = fft.rfft(x, n_fft, axis=-1, workers=-1) * self.response(n_fft, sample_rate, delay)
        return fft.irfft(spectrum, n_fft, axis=-1, workers=-1)[..., :n].astype(np.float32)
