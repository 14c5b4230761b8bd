"""The compact instrument-family network: four conv blocks on a 1 s log-mel patch, multi-label output."""

from __future__ import annotations

import torch
from torch import nn


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.AvgPool2d(2),
    )


class FamilyNet(nn.Module):
    """(batch, 1, mels, frames) -> (batch, labels) logits."""

    def __init__(self, n_labels: int, width: int = 16) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(_block(1, w), _block(w, 2 * w), _block(2 * w, 4 * w), _block(4 * w, 8 * w))
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(16 * w, n_labels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x).mean(dim=2)  # average over frequency: (batch, channels, frames)
        return self.head(torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1))
