"""A small synthetic song (kick/hat drums, saw bass, pad chords) as forensics evaluation material."""

from __future__ import annotations

import numpy as np
import scipy.signal

from audiowave.forensics.evalset import SR, Material


def _note(freq: float, dur: float, kind: str, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(dur * SR)) / SR
    if kind == "saw":
        x = scipy.signal.sawtooth(2 * np.pi * freq * t) * np.exp(-t * 1.5)
    else:  # pad: three detuned saws through a gentle lowpass, slow attack
        x = sum(scipy.signal.sawtooth(2 * np.pi * freq * d * t + rng.uniform(0, 6)) for d in (0.997, 1.0, 1.004))
        x = scipy.signal.sosfilt(scipy.signal.butter(2, 2500, fs=SR, output="sos"), x) * np.minimum(t / 0.05, 1)
    fade = np.minimum(1, (len(t) - np.arange(len(t))) / (0.01 * SR))
    return (x * fade).astype(np.float32)


def synthetic_material(seconds: float = 16.0, bpm: float = 120.0, seed: int = 0) -> Material:
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    beat = 60 / bpm
    beats = np.arange(0, seconds - 0.01, beat)
    kick, hats, bass, pad = (np.zeros(n, np.float32) for _ in range(4))
    tk = np.arange(int(0.3 * SR)) / SR
    kick_wave = np.sin(2 * np.pi * (50 * tk + 120 * (1 - np.exp(-tk * 30)) / 30)) * np.exp(-tk * 12)
    for b in beats:
        i = int(b * SR)
        kick[i : i + len(tk)] += kick_wave[: n - i]
        j = int((b + beat / 2) * SR)
        if j < n:
            hat = rng.standard_normal(int(0.05 * SR)) * np.exp(-np.arange(int(0.05 * SR)) / (0.01 * SR))
            hat = scipy.signal.sosfilt(scipy.signal.butter(2, 7000, "highpass", fs=SR, output="sos"), hat)
            hats[j : j + len(hat)] += 0.3 * hat[: n - j]
    roots = [55.0, 43.65, 65.41, 49.0]
    for bar, start in enumerate(np.arange(0, seconds, 4 * beat)):
        root = roots[bar % 4]
        for k in range(8):
            i = int((start + k * beat / 2) * SR)
            note = _note(root, beat / 2, "saw", rng)
            bass[i : i + len(note)] += 0.35 * note[: n - i]
        i = int(start * SR)
        chord = sum(_note(root * 4 * r, 4 * beat, "pad", rng) for r in (1, 1.26, 1.5))
        pad[i : i + len(chord)] += 0.12 * chord[: n - i]
    pans = {"drums_kick": (0.8, 0.8), "drums_hats": (0.6, 0.9), "bass": (0.8, 0.8), "pad": (0.9, 0.6)}
    stems = {}
    for name, mono in (("drums_kick", kick), ("drums_hats", hats), ("bass", bass), ("pad", pad)):
        gl, gr = pans[name]
        stems[name] = np.stack([mono * gl, mono * gr]).astype(np.float32)
    return Material("synthetic", stems, {"drums_kick", "drums_hats"}, beats)
