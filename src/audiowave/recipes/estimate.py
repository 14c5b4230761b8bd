"""First recipe guesses from :class:`Measurements`: one patch per kind of synth that could have made the sound.

Subtractive: the basic shape and low-pass (cutoff, resonance) whose harmonic response best fits the measured
harmonics. Wavetable: the measured harmonics as a custom single cycle. FM: a sine carrier with modulator
ratios that give the measured harmonic pattern. Drum: a sine body with a pitch drop plus noise (or, hat-like,
filtered noise alone).
"""

from __future__ import annotations

import numpy as np

from audiowave.recipes.measure import Measurements
from audiowave.recipes.patch import (
    FM,
    GLIDE_SEMITONES,
    GLIDE_TIME_S,
    Envelope,
    Filter,
    Oscillator,
    Patch,
    PitchEnvelope,
)
from audiowave.recipes.synth import shape_harmonics

SHAPES = ("saw", "square", "triangle", "sine")
CUTOFFS = np.geomspace(60.0, 16000.0, 48)
RESONANCES = (0.0, 0.3, 0.6, 0.85)
FM_RATIOS = (1.0, 2.0, 3.0, 0.5)
DRUM_NOISE = (0.0, 0.07, 0.2, 0.55)  # noise levels under a drum's body, screened by rendering


def hz_to_midi(hz: float) -> float:
    return float(69 + 12 * np.log2(max(hz, 1.0) / 440.0))


def lowpass_gain(freqs: np.ndarray, cutoff: float, resonance: float) -> np.ndarray:
    """Magnitude of the synth's 12 dB/oct low-pass (analogue prototype of its state-variable filter)."""
    w = freqs / cutoff
    k = 2.0 - 2.0 * resonance
    return 1.0 / np.sqrt((1 - w**2) ** 2 + (k * w) ** 2)


def fit_shape_and_filter(m: Measurements) -> tuple[str, float, float, float]:
    """(shape, cutoff, resonance, error in dB) that best explain the measured harmonics."""
    present = np.flatnonzero(np.arange(1, len(m.harmonics) + 1) * m.f0_hz < 0.45 * m.sr)
    measured = 20 * np.log10(np.maximum(m.harmonics[present], 1e-3))
    freqs = (present + 1) * m.f0_hz
    best = ("saw", 20000.0, 0.0, np.inf)
    for shape in SHAPES:
        template = np.abs(shape_harmonics(shape, len(m.harmonics)))[present]
        for cutoff in CUTOFFS:
            for res in RESONANCES:
                model = template * lowpass_gain(freqs, cutoff, res)
                model_db = 20 * np.log10(np.maximum(model / max(model.max(), 1e-12), 1e-3))
                err = float(np.mean(np.abs(model_db - measured)))
                if err < best[3]:
                    best = (shape, float(cutoff), float(res), err)
    return best


def _common(m: Measurements, source: str) -> dict:
    return {
        "source": source,
        "note_midi": float(np.clip(hz_to_midi(m.f0_hz), 0, 127)),
        "duration_s": float(np.clip(m.hold_s, 0.01, 30)),
        "amp": m.amp,
        "pitch": PitchEnvelope(semitones=float(np.clip(m.glide_semitones, *GLIDE_SEMITONES)), time_s=m.glide_time_s),
    }


def _filter_envelope(m: Measurements, cutoff: float, resonance: float) -> Filter:
    drop = float(np.clip(m.brightness_drop_octaves, 0.0, 6.0))
    base = max(20.0, cutoff / 2**drop) if drop > 0.3 else cutoff
    return Filter(
        type="lowpass",
        cutoff_hz=float(np.clip(base, 20, 20000)),
        resonance=resonance,
        env_octaves=drop if drop > 0.3 else 0.0,
        envelope=Envelope(attack_s=0.001, decay_s=float(np.clip(3 * m.brightness_time_s, 0.01, 10)), sustain=0.0),
    )


def subtractive(m: Measurements) -> Patch:
    shape, cutoff, res, _ = fit_shape_and_filter(m)
    return Patch(
        **_common(m, "subtractive"),
        oscillators=[Oscillator(waveform=shape)],
        noise_level=float(np.clip(m.noisiness, 0, 0.5)) if m.noisiness > 0.05 else 0.0,
        filter=_filter_envelope(m, cutoff, res) if cutoff < 15000 else Filter(),
    )


def wavetable(m: Measurements) -> Patch:
    harmonics = [float(round(h, 4)) for h in m.harmonics]
    return Patch(**_common(m, "wavetable"), oscillators=[Oscillator(waveform="custom", harmonics=harmonics)])


def fm(m: Measurements, ratio: float) -> Patch:
    brightness = float(np.sum(m.harmonics[1:] ** 2) / max(np.sum(m.harmonics**2), 1e-12))
    return Patch(
        **_common(m, "fm"),
        oscillators=[Oscillator(waveform="sine")],
        fm=FM(
            ratio=ratio,
            index=float(np.clip(4 * np.sqrt(brightness), 0.2, 10)),
            index_decay_s=float(np.clip(m.amp.decay_s, 0.01, 10)),
        ),
    )


def drums(m: Measurements) -> list[Patch]:
    """A hat-like sound (most energy above 2 kHz): high-passed noise. Otherwise a sine body falling onto the note
    (its glide as :mod:`body_glide` measures it, else 24 st in 30 ms) with noise under it at each of
    ``DRUM_NOISE``: a falling body smears its energy between its partials, so the measured noisiness is no guide
    (it put 0.14-0.43 of noise under pure bodies, the first guess' largest error)."""
    if m.high_share > 0.5:
        return [
            Patch(
                **{**_common(m, "drum"), "pitch": PitchEnvelope(semitones=0.0, time_s=0.03)},
                oscillators=[],
                noise_level=float(np.clip(m.noisiness, 0.05, 1.0)),
                filter=Filter(type="highpass", cutoff_hz=4000.0, resonance=0.2),
            )
        ]
    body = {**_common(m, "drum"), "pitch": PitchEnvelope(semitones=24.0, time_s=0.03)}
    if m.body is not None:
        body |= {
            "note_midi": float(np.clip(hz_to_midi(m.body.note_hz), 0, 127)),
            "pitch": PitchEnvelope(
                semitones=float(np.clip(m.body.semitones, *GLIDE_SEMITONES)),
                time_s=float(np.clip(m.body.time_s, *GLIDE_TIME_S)),
            ),
        }
    return [Patch(**body, oscillators=[Oscillator(waveform="sine")], noise_level=n) for n in DRUM_NOISE]


def starts_from_measured_glide(patch: Patch, m: Measurements) -> bool:
    """Whether ``patch`` is a drum body guess (:func:`drums`) made from the body's measured glide."""
    return patch.source == "drum" and bool(patch.oscillators) and m.body is not None


def candidates(m: Measurements) -> list[Patch]:
    """Every plausible first guess; the caller scores them by rendering."""
    if not m.pitched:
        return [*drums(m), subtractive(m)]
    return [subtractive(m), wavetable(m), *(fm(m, r) for r in FM_RATIOS), *drums(m)]
