"""One-shots with known recipes for scoring ``suggest``: random patches of every source kind, seeded."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audiowave.recipes.patch import FM, Effect, Envelope, Filter, NoiseLayer, Oscillator, Patch, PitchEnvelope

KINDS = ("subtractive", "subtractive", "fm", "drum", "wavetable")
SHAPES = ("saw", "square", "triangle", "sine")


@dataclass(frozen=True)
class OneShot:
    id: str
    patch: Patch


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _effects(rng: np.random.Generator) -> list[Effect]:
    roll = rng.integers(3)
    if roll == 1:
        return [
            Effect(
                kind="reverb",
                params={
                    "room_size": float(rng.uniform(0.2, 0.8)),
                    "wet_level": float(rng.uniform(0.1, 0.4)),
                    "dry_level": 0.8,
                },
            )
        ]
    if roll == 2:
        return [Effect(kind="distortion", params={"drive_db": float(rng.uniform(6, 30))})]
    return []


def _noise_layer(rng: np.random.Generator) -> NoiseLayer:
    return NoiseLayer(
        level=float(rng.uniform(0.2, 0.8)),
        filter=Filter(type="bandpass", cutoff_hz=_log_uniform(rng, 1000, 8000), resonance=float(rng.uniform(0, 0.5))),
        envelope=Envelope(attack_s=0.001, decay_s=_log_uniform(rng, 0.03, 0.3), sustain=0.0, release_s=0.05),
    )


def random_patch(kind: str, rng: np.random.Generator, layers: np.random.Generator) -> Patch:
    """A random patch of ``kind``. Half of the drums with noise have it as a layer of its own, drawn from ``layers``
    so that every other setting is what ``rng`` alone drew before layers existed (runs stay comparable)."""
    amp = Envelope(
        attack_s=_log_uniform(rng, 0.001, 0.1),
        decay_s=_log_uniform(rng, 0.05, 1.0),
        sustain=float(rng.uniform(0, 1)),
        release_s=_log_uniform(rng, 0.05, 0.5),
    )
    common = {
        "source": kind,
        "note_midi": float(rng.integers(36, 73)),
        "duration_s": float(rng.uniform(0.2, 1.0)),
        "amp": amp,
        "fx": _effects(rng),
    }
    if kind == "subtractive":
        unison = int(rng.choice([1, 1, 3, 5]))
        return Patch(
            **common,
            oscillators=[
                Oscillator(
                    waveform=str(rng.choice(SHAPES[:3])),
                    unison=unison,
                    unison_detune_cents=float(rng.uniform(5, 30)) if unison > 1 else 0.0,
                )
            ],
            filter=Filter(
                type="lowpass",
                cutoff_hz=_log_uniform(rng, 200, 5000),
                resonance=float(rng.uniform(0, 0.7)),
                env_octaves=float(rng.uniform(0, 4)),
                envelope=Envelope(attack_s=0.001, decay_s=_log_uniform(rng, 0.05, 1.0), sustain=0.0),
            ),
        )
    if kind == "fm":
        return Patch(
            **common,
            oscillators=[Oscillator(waveform="sine")],
            fm=FM(
                ratio=float(rng.choice([1.0, 2.0, 3.0])),
                index=float(rng.uniform(0.5, 6)),
                index_decay_s=_log_uniform(rng, 0.05, 1.0),
            ),
        )
    if kind == "wavetable":
        k = np.arange(1, 33)
        harmonics = rng.uniform(0, 1, 32) / k ** rng.uniform(0.5, 1.5)
        harmonics[0] = 1.0
        return Patch(**common, oscillators=[Oscillator(waveform="custom", harmonics=[float(h) for h in harmonics])])
    drum_amp = Envelope(attack_s=0.001, decay_s=_log_uniform(rng, 0.1, 1.0), sustain=0.0, release_s=0.1)
    note = float(rng.integers(28, 48))
    pitch = PitchEnvelope(semitones=float(rng.uniform(12, 36)), time_s=_log_uniform(rng, 0.01, 0.08))
    noise_level = float(rng.choice([0.0, 0.1]))
    layered = noise_level > 0 and layers.random() < 0.5
    return Patch(
        **{**common, "note_midi": note, "duration_s": 0.05, "amp": drum_amp},
        oscillators=[Oscillator(waveform="sine")],
        pitch=pitch,
        noise_level=0.0 if layered else noise_level,
        noise=_noise_layer(layers) if layered else None,
    )


def one_shots(count: int, seed: int = 0) -> list[OneShot]:
    """``count`` one-shots, the source kinds in turn; drums with noise have it under the body or as a layer."""
    rng, layers = np.random.default_rng(seed), np.random.default_rng(seed + 1)
    return [
        OneShot(f"{KINDS[i % len(KINDS)]}-{i:02d}", random_patch(KINDS[i % len(KINDS)], rng, layers))
        for i in range(count)
    ]
