"""Log-mel front end shared by training and inference (torch, so it batches with the model)."""

from __future__ import annotations

from functools import lru_cache

import librosa
import numpy as np
import torch

SAMPLE_RATE = 16000
N_FFT = 512
HOP = 160
N_MELS = 64
WINDOW_S = 1.0
WINDOW = int(WINDOW_S * SAMPLE_RATE)


@lru_cache(maxsize=1)
def _mel_basis() -> torch.Tensor:
    return torch.from_numpy(librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=30, fmax=8000))


def log_mel(audio: torch.Tensor) -> torch.Tensor:
    """(batch, samples) at 16 kHz -> (batch, 1, N_MELS, frames), each example centred on its mean level,
    so recognition does not depend on the playback gain."""
    window = torch.hann_window(N_FFT, device=audio.device)
    spec = torch.stft(audio, N_FFT, HOP, window=window, return_complex=True).abs() ** 2
    mel = torch.log10(torch.matmul(_mel_basis().to(audio.device), spec) + 1e-8)
    return (mel - mel.mean(dim=(1, 2), keepdim=True)).unsqueeze(1)


def windows(mono: np.ndarray, hop_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Overlapping WINDOW-long frames of ``mono`` (16 kHz) and their start times; short input is padded."""
    hop = int(hop_s * SAMPLE_RATE)
    if mono.size < WINDOW:
        mono = np.pad(mono, (0, WINDOW - mono.size))
    starts = np.arange(0, mono.size - WINDOW + 1, hop)
    if starts[-1] + WINDOW < mono.size:
        starts = np.append(starts, mono.size - WINDOW)
    frames = np.stack([mono[s : s + WINDOW] for s in starts]).astype(np.float32)
    return frames, starts / SAMPLE_RATE
