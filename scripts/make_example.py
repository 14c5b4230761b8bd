"""Synthesise the bundled example clip (src/audiowave/data/example.flac) deterministically.

Four bars at 120 BPM in A minor (Am Dm E Am), 32 kHz stereo: kick/snare/hat drums, a sub bass on chord
roots and a detuned-saw pad. Everything is generated here, so the clip is freely redistributable.
Run: python scripts/make_example.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SR = 32000
BPM = 120.0
BEAT = 60.0 / BPM
BARS = 4
PROGRESSION = [(57, "min"), (50, "min"), (52, "maj"), (57, "min")]  # Am Dm E Am: i iv V i
OUT = Path(__file__).resolve().parents[1] / "src" / "audiowave" / "data" / "example.flac"


def hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def envelope(n: int, attack: float, decay: float) -> np.ndarray:
    t = np.arange(n) / SR
    return np.minimum(t / attack, 1.0) * np.exp(-t / decay)


def kick(n: int) -> np.ndarray:
    t = np.arange(n) / SR
    freq = 50 + 90 * np.exp(-t / 0.04)
    return np.sin(2 * np.pi * np.cumsum(freq) / SR) * np.exp(-t / 0.25)


def noise_hit(rng: np.random.Generator, n: int, decay: float, tone: float) -> np.ndarray:
    t = np.arange(n) / SR
    body = np.sin(2 * np.pi * tone * t) * 0.4 if tone else 0.0
    return (rng.standard_normal(n) * 0.6 + body) * np.exp(-t / decay)


def saw(freq: float, n: int, phase: float = 0.0) -> np.ndarray:
    t = np.arange(n) / SR
    return 2 * ((freq * t + phase) % 1.0) - 1.0


def main() -> None:
    rng = np.random.default_rng(20261124)
    total = int(BARS * 4 * BEAT * SR) + SR // 2
    left = np.zeros(total)
    right = np.zeros(total)

    def add(sig: np.ndarray, start_s: float, pan: float = 0.0, gain: float = 1.0) -> None:
        i = int(start_s * SR)
        seg = sig[: total - i] * gain
        left[i : i + len(seg)] += seg * np.sqrt((1 - pan) / 2)
        right[i : i + len(seg)] += seg * np.sqrt((1 + pan) / 2)

    for bar in range(BARS):
        root, quality = PROGRESSION[bar % 4]
        t0 = bar * 4 * BEAT
        for beat in range(4):
            tb = t0 + beat * BEAT
            if beat in (0, 2):
                add(kick(int(0.5 * SR)), tb, gain=0.9)
            if beat in (1, 3):
                add(noise_hit(rng, int(0.3 * SR), 0.08, 190.0), tb, pan=0.1, gain=0.45)
            for half in (0, 1):
                add(noise_hit(rng, int(0.06 * SR), 0.015, 0.0) * 0.5, tb + half * BEAT / 2, pan=0.4, gain=0.35)
            bass_n = int(BEAT * 0.9 * SR)
            add(
                np.sin(2 * np.pi * hz(root - 24) * np.arange(bass_n) / SR) * envelope(bass_n, 0.005, 0.6),
                tb,
                gain=0.5,
            )
        third = 3 if quality == "min" else 4
        pad_n = int(4 * BEAT * SR)
        for interval, pan in ((0, -0.5), (third, 0.0), (7, 0.5), (12, 0.2)):
            f = hz(root + interval)
            tone = (saw(f * 1.003, pad_n) + saw(f * 0.997, pad_n, 0.3)) / 2
            add(tone * envelope(pad_n, 0.05, 3.0), t0, pan=pan, gain=0.09)
    mix = np.stack([left, right], axis=1)
    mix *= 10 ** (-1.0 / 20) / np.max(np.abs(mix))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    sf.write(OUT, mix.astype(np.float32), SR, subtype="PCM_16")
    print(f"wrote {OUT} ({total / SR:.1f} s)")


if __name__ == "__main__":
    main()
