"""Small generated test signals."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SR = 44100
EXAMPLE = Path(__file__).resolve().parents[1] / "src" / "audiowave" / "data" / "example.flac"


def tone(freq: float, seconds: float, sr: int = SR, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def click_track(bpm: float, seconds: float, sr: int = SR, accent_every: int = 4) -> np.ndarray:
    """Decaying noise bursts on every beat, louder on every ``accent_every``-th, over a quiet drone."""
    rng = np.random.default_rng(1)
    out = np.zeros(int(seconds * sr), dtype=np.float32)
    n = int(0.05 * sr)
    env = np.exp(-np.arange(n) / (0.01 * sr))
    for k, t in enumerate(np.arange(0, seconds - 0.1, 60.0 / bpm)):
        i = int(t * sr)
        amp = 0.9 if k % accent_every == 0 else 0.5
        out[i : i + n] += (rng.standard_normal(n) * env * amp).astype(np.float32)[: len(out) - i]
    return out
