"""The PANNs CNN14 network (Kong et al., 2020), built here so the official checkpoint loads as is.

Parameter names match the released ``Cnn14_mAP=0.431.pth`` state dict (``spectrogram_extractor.
stft.conv_real.weight``, ``logmel_extractor.melW``, ``conv_block1.conv1.weight`` ... ``fc_audioset``).
The STFT and mel front end are frozen convolutions, as in torchlibrosa, which is not a dependency.
"""

from __future__ import annotations

import librosa
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SAMPLE_RATE = 32000
WINDOW = 1024
HOP = 320
MEL_BINS = 64
FMIN = 50.0
FMAX = 14000.0
CLASSES = 527


class _STFT(nn.Module):
    """Short-time Fourier transform as two frozen 1-D convolutions (real and imaginary parts)."""

    def __init__(self, n_fft: int, hop: int) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        window = librosa.filters.get_window("hann", n_fft, fftbins=True)
        n = np.arange(n_fft)
        k = np.arange(n_fft // 2 + 1)[:, None]
        basis = np.exp(-2j * np.pi * k * n / n_fft) * window
        self.conv_real = nn.Conv1d(1, n_fft // 2 + 1, n_fft, stride=hop, bias=False)
        self.conv_imag = nn.Conv1d(1, n_fft // 2 + 1, n_fft, stride=hop, bias=False)
        self.conv_real.weight.data = torch.tensor(basis.real[:, None, :], dtype=torch.float32)
        self.conv_imag.weight.data = torch.tensor(basis.imag[:, None, :], dtype=torch.float32)
        for p in self.parameters():
            p.requires_grad = False

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.pad(x[:, None, :], (self.n_fft // 2, self.n_fft // 2), mode="reflect")
        return self.conv_real(x), self.conv_imag(x)


class _Spectrogram(nn.Module):
    def __init__(self, n_fft: int, hop: int) -> None:
        super().__init__()
        self.stft = _STFT(n_fft, hop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        real, imag = self.stft(x)
        return (real**2 + imag**2).transpose(1, 2)[:, None]  # (batch, 1, time, freq)


class _LogMel(nn.Module):
    def __init__(self, sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> None:
        super().__init__()
        mel = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax).T
        self.melW = nn.Parameter(torch.tensor(mel, dtype=torch.float32), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mel = torch.matmul(x, self.melW)
        return 10.0 * torch.log10(torch.clamp(mel, min=1e-10))


class _ConvBlock(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor, pool: tuple[int, int]) -> torch.Tensor:
        x = F.relu_(self.bn1(self.conv1(x)))
        x = F.relu_(self.bn2(self.conv2(x)))
        return F.avg_pool2d(x, kernel_size=pool)


class Cnn14(nn.Module):
    """CNN14 for 32 kHz mono input of shape (batch, samples); returns clip-wise sigmoid scores."""

    def __init__(self, classes: int = CLASSES, widths: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048)) -> None:
        super().__init__()
        self.spectrogram_extractor = _Spectrogram(WINDOW, HOP)
        self.logmel_extractor = _LogMel(SAMPLE_RATE, WINDOW, MEL_BINS, FMIN, FMAX)
        self.bn0 = nn.BatchNorm2d(MEL_BINS)
        chans = (1, *widths)
        for i in range(6):
            setattr(self, f"conv_block{i + 1}", _ConvBlock(chans[i], chans[i + 1]))
        self.fc1 = nn.Linear(widths[-1], widths[-1], bias=True)
        self.fc_audioset = nn.Linear(widths[-1], classes, bias=True)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        x = self.logmel_extractor(self.spectrogram_extractor(audio))
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)
        for i in range(6):
            block = getattr(self, f"conv_block{i + 1}")
            x = block(x, (2, 2) if i < 5 else (1, 1))
        x = torch.mean(x, dim=3)
        x = torch.amax(x, dim=2) + torch.mean(x, dim=2)
        x = F.relu_(self.fc1(x))
        return torch.sigmoid(self.fc_audioset(x))
