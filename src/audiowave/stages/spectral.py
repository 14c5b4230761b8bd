"""Spectral descriptors of the mix (librosa), summarised as means over the track."""

from __future__ import annotations

import librosa
import numpy as np

from audiowave.schema import BackendInfo, SpectralSummary

LOW_END_HZ = 150.0


def analyse_spectrum(mono: np.ndarray, sr: int, n_fft: int = 2048, hop: int = 1024) -> SpectralSummary:
    mag = np.abs(librosa.stft(mono, n_fft=n_fft, hop_length=hop))
    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    power = mag**2
    rms = librosa.feature.rms(S=mag, frame_length=n_fft)
    return SpectralSummary(
        centroid_hz=round(float(np.mean(librosa.feature.spectral_centroid(S=mag, sr=sr))), 1),
        bandwidth_hz=round(float(np.mean(librosa.feature.spectral_bandwidth(S=mag, sr=sr))), 1),
        rolloff_hz=round(float(np.mean(librosa.feature.spectral_rolloff(S=mag, sr=sr))), 1),
        flatness=round(float(np.mean(librosa.feature.spectral_flatness(S=mag))), 5),
        zero_crossing_rate=round(float(np.mean(librosa.feature.zero_crossing_rate(mono, hop_length=hop))), 5),
        rms_dbfs=round(float(20 * np.log10(max(float(np.sqrt(np.mean(rms**2))), 1e-12))), 2),
        low_end_share=round(float(power[freqs < LOW_END_HZ].sum() / max(power.sum(), 1e-12)), 4),
        backend=BackendInfo(name="librosa", version=librosa.__version__),
    )
