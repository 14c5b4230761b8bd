"""Random multi-label training examples: 1 s crops of 0-4 stems of different families mixed at random gains.
The targets are the families present and the kinds within them (``recipe.OUTPUTS``)."""

from __future__ import annotations

import numpy as np

from audiowave.instruments.features import WINDOW
from audiowave.instruments.recipe import LABELS, OUTPUTS, Stem

PRESENT_DB = -20.0  # a stem counts as present when its crop is at most this far below the mix


class MixtureSampler:
    """Draws (audio (batch, WINDOW), targets (batch, labels)) from a bank of rendered stems."""

    def __init__(self, stems: list[Stem], seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.by_label = {label: [s for s in stems if s.label == label] for label in LABELS}
        self.labels = [label for label in LABELS if self.by_label[label]]

    def batch(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        audio = np.zeros((size, WINDOW), np.float32)
        target = np.zeros((size, len(OUTPUTS)), np.float32)
        for i in range(size):
            audio[i], target[i] = self.example()
        return audio, target

    def example(self) -> tuple[np.ndarray, np.ndarray]:
        rng = self.rng
        n = int(rng.choice([0, 1, 2, 3, 4], p=[0.04, 0.26, 0.33, 0.23, 0.14]))
        chosen = rng.choice(self.labels, size=n, replace=False)
        parts = []
        for label in chosen:
            bank = self.by_label[label]
            stem = bank[int(rng.integers(len(bank)))]
            start = int(rng.integers(0, stem.audio.size - WINDOW + 1))
            crop = stem.audio[start : start + WINDOW].astype(np.float32)
            rms = float(np.sqrt(np.mean(crop**2)))
            if rms < 1e-4:
                continue
            parts.append((stem, crop / rms * 10 ** (rng.uniform(-12, 0) / 20)))
        mix = sum((p for _, p in parts), np.zeros(WINDOW, np.float32))
        mix_rms = float(np.sqrt(np.mean(mix**2))) or 1.0
        target = np.zeros(len(OUTPUTS), np.float32)
        for stem, p in parts:
            if 20 * np.log10(np.sqrt(np.mean(p**2)) / mix_rms + 1e-12) >= PRESENT_DB:
                target[OUTPUTS.index(stem.label)] = 1.0
                if stem.detail:
                    target[OUTPUTS.index(stem.detail)] = 1.0
        mix = mix + rng.standard_normal(WINDOW).astype(np.float32) * mix_rms * 10 ** (rng.uniform(-60, -25) / 20)
        peak = float(np.abs(mix).max()) or 1.0
        return (mix / peak * 10 ** (rng.uniform(-20, -1) / 20)).astype(np.float32), target
