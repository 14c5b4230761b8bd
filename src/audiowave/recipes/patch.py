"""The recipe's sound: a synth patch that :mod:`audiowave.recipes.synth` renders.

Units are the ones a producer reads on a synth panel: seconds, hertz, cents, semitones, decibels.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

Waveform = Literal["sine", "triangle", "saw", "square", "custom"]
Source = Literal["subtractive", "wavetable", "fm", "drum", "sample"]
FilterType = Literal["off", "lowpass", "highpass", "bandpass"]
EffectKind = Literal["distortion", "bitcrush", "chorus", "phaser", "delay", "reverb", "compressor"]
# pedalboard's (JUCE's) phaser moves its all-pass cutoff on a log scale over 20 Hz-20 kHz (log2(1000) octaves) by
# +/- depth / 2 of that range: the half sweep, in octaves, per unit of its ``depth`` (measured on its output)
PHASER_OCTAVES_PER_DEPTH = float(np.log2(1000)) / 2
GLIDE_SEMITONES = (-48.0, 48.0)  # how far a pitch envelope may start from its note
GLIDE_TIME_S = (0.001, 5.0)  # its time constant


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Oscillator(_Model):
    waveform: Waveform
    octave: int = Field(0, ge=-3, le=3)
    detune_cents: float = Field(0.0, ge=-100, le=100)
    unison: int = Field(1, ge=1, le=16, description="stacked voices")
    unison_detune_cents: float = Field(0.0, ge=0, le=100, description="spread between the outermost voices")
    level: float = Field(1.0, ge=0, le=1)
    harmonics: list[float] = Field(
        default_factory=list, description="custom single cycle: amplitude of harmonics 1..N (waveform 'custom')"
    )


MAX_FALL_S = 20.0  # the longest decay or release an envelope holds


class Envelope(_Model):
    """ADSR: linear attack; decay and release fall exponentially (-40 dB of the way in the stated time)."""

    attack_s: float = Field(0.005, ge=0.0005, le=10)
    decay_s: float = Field(0.3, ge=0.005, le=MAX_FALL_S)
    sustain: float = Field(1.0, ge=0, le=1)
    release_s: float = Field(0.1, ge=0.005, le=MAX_FALL_S)


class Filter(_Model):
    type: FilterType = "off"
    cutoff_hz: float = Field(20000.0, ge=20, le=20000)
    resonance: float = Field(0.0, ge=0, le=0.98, description="0 = flat, near 1 = self-oscillating")
    env_octaves: float = Field(0.0, ge=-8, le=8, description="cutoff shift at full filter-envelope level")
    envelope: Envelope = Field(default_factory=lambda: Envelope(attack_s=0.001, decay_s=0.3, sustain=0.0))


class PitchEnvelope(_Model):
    """The pitch starts ``semitones`` away from the note and glides to it (time constant ``time_s``)."""

    semitones: float = Field(0.0, ge=GLIDE_SEMITONES[0], le=GLIDE_SEMITONES[1])
    time_s: float = Field(0.05, ge=GLIDE_TIME_S[0], le=GLIDE_TIME_S[1])


class NoiseLayer(_Model):
    """White noise through its own filter and envelope, mixed after the body's filter and amplifier: a snare's
    rattle or a kick's beater click, which die at their own rate rather than with the body."""

    level: float = Field(0.3, ge=0, le=1, description="the white noise's peak at 44.1 kHz, before its filter")
    filter: Filter = Field(default_factory=lambda: Filter(type="bandpass", cutoff_hz=3000.0))
    envelope: Envelope = Field(default_factory=lambda: Envelope(attack_s=0.001, decay_s=0.2, sustain=0.0))


class FM(_Model):
    """Two-operator FM: a sine modulator at ``ratio`` x the note frequency modulates the oscillators' phase."""

    ratio: float = Field(1.0, ge=0.25, le=16)
    index: float = Field(1.0, ge=0, le=20, description="modulation index at the start of the note")
    index_decay_s: float = Field(1.0, ge=0.005, le=20, description="time constant of the index fall")


class Effect(_Model):
    kind: EffectKind
    params: dict[str, float] = Field(default_factory=dict, description="pedalboard parameter names and values")


class SampleSource(_Model):
    """For sampled sounds: the closest library sample and how it was played."""

    name: str
    path: str
    relation: Literal["identified", "similar"] = Field(
        "identified",
        description="identified: the matcher found this recording in the sound; similar: another recording, the"
        " library's nearest by timbre",
    )
    pitch_semitones: float = 0.0
    stretch: float = 1.0
    similarity: float = Field(
        ge=-1,
        le=1,
        description="identified: the matcher's confidence; similar: 1 - (RMS dB difference of the spectrograms)"
        " / 50 dB",
    )


class Patch(_Model):
    source: Source
    note_midi: float = Field(60.0, ge=0, le=127, description="the played note (fractional = detuned)")
    duration_s: float = Field(0.5, ge=0.01, le=30, description="how long the key is held")
    oscillators: list[Oscillator] = Field(default_factory=list)
    noise_level: float = Field(0.0, ge=0, le=1, description="white noise mixed before the filter")
    noise: NoiseLayer | None = Field(None, description="noise with its own filter and envelope (or noise_level)")
    fm: FM | None = None
    amp: Envelope = Field(default_factory=Envelope)
    filter: Filter = Field(default_factory=Filter)
    pitch: PitchEnvelope = Field(default_factory=PitchEnvelope)
    fx: list[Effect] = Field(default_factory=list)
    sample: SampleSource | None = None

    @model_validator(mode="after")
    def _one_noise_source(self) -> Patch:
        """One noise source, as a synth's single noise slot (Vital's sample slot) holds: under the body, or its own."""
        if self.noise is not None and self.noise_level > 0:
            raise ValueError("a patch mixes noise either under its body (noise_level) or as its own layer (noise)")
        return self
