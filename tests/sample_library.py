"""A small generated sample library and tracks that use it (sample identification tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SR = 44100


def one_shot(seed: int, seconds: float = 0.4) -> np.ndarray:
    """A decaying noise burst (a snare- or hat-like hit): a distinct waveform per seed."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    return (0.5 * rng.standard_normal(t.size) * np.exp(-t * 6)).astype(np.float32)


def another_take(hit: np.ndarray, seed: int = 1) -> np.ndarray:
    """Another recording of ``hit``'s sound: duller, louder, with its own noise floor (not the same waveform)."""
    from scipy.signal import butter, sosfilt

    take = 1.3 * sosfilt(butter(2, 6000, "lowpass", fs=SR, output="sos"), hit)
    noise = 0.002 * np.abs(hit).max() * np.random.default_rng(seed).standard_normal(hit.size)
    return (take + noise).astype(np.float32)


def background(seconds: float, seed: int = 99) -> np.ndarray:
    """Sustained chord plus soft noise, so matches must survive other material on top."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) / 3
    return (0.2 * chord + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


def embed(bg: np.ndarray, sample: np.ndarray, starts_s: list[float], gain: float) -> np.ndarray:
    out = bg.copy()
    for s in starts_s:
        i = int(s * SR)
        out[i : i + sample.size] += gain * sample[: out.size - i]
    return out


def write_library(root: Path) -> None:
    for i in range(4):
        pack = root / ("kit_a" if i < 2 else "kit_b")
        pack.mkdir(parents=True, exist_ok=True)
        sf.write(pack / f"hit{i}.wav", one_shot(i), SR)
    (root / "kit_b" / "notes.txt").write_text("not audio")
    (root / "kit_b" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")


def write_track(path: Path, starts: list[float]) -> None:
    """hit1 of :func:`write_library`, pitched down a semitone, at ``starts`` over a chord (stereo)."""
    down1 = soxr.resample(one_shot(1), SR, SR / 2 ** (-1 / 12)).astype(np.float32)
    track = embed(background(6.0), down1, starts, gain=1.2)
    sf.write(path, np.stack([track, 0.8 * track], axis=1), SR)
