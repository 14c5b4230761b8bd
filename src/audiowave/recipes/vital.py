"""Export a patch as a Vital preset (``.vital``: JSON, documented by Vital's open source, GPL-3 synth).

Vital (https://vital.audio, source github.com/mtytel/vital) is a free wavetable synth. Its preset holds a
``settings`` object of parameter values in Vital's own units (``src/common/synth_parameters.cpp``: cutoffs as MIDI
notes, envelope times as the 4th root of seconds, levels quadratic), the modulation routes, and one wavetable per
oscillator; each wavetable keyframe is 2048 float32 samples in base64. Parameters left out keep Vital's defaults.
Mapped here: oscillators (cycle, octave, tune, unison), the sample slot's white noise, FM from oscillator 2,
filter 1 (analogue 12 dB: low/band/high by its blend), envelope 1 (amplitude), envelope 2 on the cutoff, envelope
3 on the pitch, a noise layer (the sample slot through filter 2, envelope 6 on its cutoff, its level following
envelope 5; Vital's envelope 1 shapes every source, so where the layer outlasts the body, envelope 1 takes the
layer's shape and envelope 5 the oscillators' levels, falling at the body's rate less the layer's), distortion,
chorus (a flanger too: its short delay line), phaser, delay, reverb and compressor. The envelopes' curves follow
ours (:func:`_envelope`, from envelope.cpp's formulas); unison spread and FM depth are approximations: the steps
say so. Checked against Vital 1.5.5's source (synth_parameters.cpp, load_save.cpp): every setting written is one of
its parameters, within its range.
"""

from __future__ import annotations

import base64
import json

import numpy as np

from audiowave import __version__
from audiowave.recipes.patch import PHASER_OCTAVES_PER_DEPTH, Envelope, Filter, Patch
from audiowave.recipes.synth import LN_40DB, layer_outlasts_body, oscillator_harmonics, remainder_envelope, wavetable

VITAL_VERSION = "1.5.5"
WAVE_SIZE = 2048
SEMITONES_PER_PHASER_DEPTH = 2 * 12 * PHASER_OCTAVES_PER_DEPTH  # pedalboard's phaser sweep, peak to peak
FILTER_BLEND = {"lowpass": 0.0, "bandpass": 1.0, "highpass": 2.0}
# Vital's ranges (synth_parameters.cpp) of the rates and times written in log2 units; its loadControls sets a
# preset's values as given, so they are clamped here
DELAY_FREQUENCY = (-2.0, 9.0)  # log2 Hz: 4 s .. 2 ms
CHORUS_FREQUENCY = (-6.0, 3.0)  # log2 Hz: 1/64 .. 8 Hz
PHASER_FREQUENCY = (-5.0, 2.0)  # log2 Hz: 1/32 .. 4 Hz
CHORUS_DELAY = (-10.0, -5.64386)  # log2 seconds: 1 .. 20 ms
ENVELOPE_MAX_QUARTIC = 2.37842  # an envelope segment's longest time, as stored (4th root of seconds: about 32 s)
ENVELOPE_MAX_S = ENVELOPE_MAX_QUARTIC**4
ENVELOPE_MAX_POWER = 20.0  # the steepest decay and release curves
SQUARE_ROOT_ATTACK_POWER = 2.0  # an attack at this power rises as the square root of time (within 6 % of full scale)


def _quartic(seconds: float, top: float = ENVELOPE_MAX_QUARTIC) -> float:
    return float(min(max(seconds, 0.0) ** 0.25, top))


def _hz_to_note(hz: float) -> float:
    return float(np.clip(69 + 12 * np.log2(max(hz, 1.0) / 440.0), 8.0, 136.0))


def _fall(seconds: float, rate_scale: float) -> tuple[float, float]:
    """(time, power) of a Vital decay or release whose value falls exponentially at ``rate_scale`` x the rate of
    ours over ``seconds`` (40 dB): with power -k its curve is (exp(-k x) - exp(-k)) / (1 - exp(-k)) over x = 0..1
    of its time, exponential at k / time per second until its last few percent; k is Vital's largest unless that
    would take longer than its longest time."""
    rate = LN_40DB * rate_scale / seconds
    time = min(ENVELOPE_MAX_POWER / rate, ENVELOPE_MAX_S)
    return time, -rate * time


def _envelope(settings: dict, index: int, env: Envelope, amplitude: bool = False) -> None:
    """Envelope ``index`` shaped as ``env`` (envelope.cpp: each segment a power curve of the position). An envelope
    on the voice's amplitude or a level (``amplitude``) is squared on the way (synth_voice_handler.cpp's Square;
    levels are quadratic), so there its value follows the square root of ours: the sustain's root, falls at half the
    rate (at the start of a decay to a sustain, (1 + its root) / 2), an attack curved to rise as a square root."""
    root = float(np.sqrt(env.sustain)) if amplitude else float(env.sustain)
    decay_time, decay_power = _fall(env.decay_s, (1 + root) / 2 if amplitude else 1.0)
    release_time, release_power = _fall(env.release_s, 0.5 if amplitude else 1.0)
    settings |= {
        f"env_{index}_attack": _quartic(env.attack_s),
        f"env_{index}_attack_power": SQUARE_ROOT_ATTACK_POWER if amplitude else 0.0,
        f"env_{index}_decay": _quartic(decay_time),
        f"env_{index}_decay_power": decay_power,
        f"env_{index}_sustain": root,
        f"env_{index}_release": _quartic(release_time),
        f"env_{index}_release_power": release_power,
    }


def _level(level: float) -> float:
    """An oscillator's or the sample slot's level in Vital's units (quadratic; 0.5 of full scale at our 1)."""
    return float(np.sqrt(max(level, 0.0)) * 0.70710678)


def _filter(settings: dict, modulations: list, index: int, f: Filter, env_index: int) -> None:
    """Filter ``index`` as an analogue 12 dB filter, low/band/high by its blend; envelope ``env_index`` moves its
    cutoff when ``f`` has a filter envelope."""
    settings |= {
        f"filter_{index}_on": 1.0,
        f"filter_{index}_model": 0.0,
        f"filter_{index}_style": 0.0,
        f"filter_{index}_blend": FILTER_BLEND[f.type],
        f"filter_{index}_cutoff": _hz_to_note(f.cutoff_hz),
        f"filter_{index}_resonance": float(f.resonance),
    }
    if f.env_octaves:
        _envelope(settings, env_index, f.envelope)
        amount = float(np.clip(12 * f.env_octaves / 128, -1, 1))
        modulations.append((f"env_{env_index}", f"filter_{index}_cutoff", amount))


def _wavetable_json(name: str, cycle: np.ndarray) -> dict:
    data = base64.b64encode(cycle.astype("<f4").tobytes()).decode("ascii")
    component = {
        "type": "Wave Source",
        "interpolation": 1,
        "interpolation_style": 1,
        "keyframes": [{"position": 0, "wave_data": data}],
    }
    return {
        "name": name,
        "author": "Audiowave",
        "version": VITAL_VERSION,
        "remove_all_dc": True,
        "full_normalize": True,
        "groups": [{"components": [component]}],
    }


def to_vital(patch: Patch, name: str = "Audiowave recipe") -> dict:
    if patch.source == "sample":
        raise ValueError("a sample-based recipe has no synth patch to export; load the named sample instead")
    s: dict = {}
    wavetables, modulations = [], []
    oscillators = patch.oscillators[:2]
    for i, osc in enumerate(oscillators, start=1):
        cycle = wavetable(oscillator_harmonics(osc, 256), WAVE_SIZE)
        peak = float(np.max(np.abs(cycle))) or 1.0
        wavetables.append(_wavetable_json(f"{osc.waveform} {i}", cycle / peak))
        s |= {
            f"osc_{i}_on": 1.0,
            f"osc_{i}_level": _level(osc.level),
            f"osc_{i}_transpose": float(12 * osc.octave),
            f"osc_{i}_tune": float(osc.detune_cents / 100),
            f"osc_{i}_unison_voices": float(osc.unison),
            f"osc_{i}_detune_range": 2.0,
            f"osc_{i}_unison_detune": float(np.sqrt(osc.unison_detune_cents / 2.0)),
            f"filter_1_osc{i}_input": 1.0,
        }
    if patch.fm is not None:
        s |= {
            "osc_2_on": 1.0,
            "osc_2_level": 0.0,
            "osc_2_transpose": float(round(12 * np.log2(patch.fm.ratio))),
            "osc_1_distortion_type": 7.0,
            "osc_1_distortion_amount": float(min(1.0, patch.fm.index / 10)),
            "filter_1_osc2_input": 0.0,
        }
        wavetables.append(_wavetable_json("fm modulator", np.sin(2 * np.pi * np.arange(WAVE_SIZE) / WAVE_SIZE)))
        modulations.append(("env_4", "osc_1_distortion_amount", -1.0))
        _envelope(s, 4, Envelope(attack_s=0.0005, decay_s=patch.fm.index_decay_s * 4.6, sustain=0.0))
    if patch.noise_level > 0:  # Vital's sample slot plays white noise by default
        s |= {
            "sample_on": 1.0,
            "sample_level": _level(patch.noise_level),
            "filter_1_sample_input": 1.0,
        }
    outlasting = layer_outlasts_body(patch)
    if patch.noise is not None:  # the sample slot's noise through filter 2 (envelope 6), its level on envelope 5
        s |= {"sample_on": 1.0, "sample_level": 0.0, "filter_1_sample_input": 0.0, "filter_2_sample_input": 1.0}
        open_filter = Filter(type="lowpass", cutoff_hz=20000.0)  # an unfiltered layer: filter 2 wide open
        _filter(s, modulations, 2, patch.noise.filter if patch.noise.filter.type != "off" else open_filter, 6)
        if outlasting:  # envelope 1 takes the layer's shape; the oscillators' levels ride the body's rest
            s["sample_level"] = _level(patch.noise.level)
            _envelope(s, 5, remainder_envelope(patch.amp, patch.noise.envelope), amplitude=True)
            for i in (1, 2):
                if s.get(f"osc_{i}_level", 0.0) > 0:
                    modulations.append(("env_5", f"osc_{i}_level", s[f"osc_{i}_level"]))
                    s[f"osc_{i}_level"] = 0.0
        else:
            _envelope(s, 5, patch.noise.envelope, amplitude=True)
            modulations.append(("env_5", "sample_level", _level(patch.noise.level)))
    _envelope(s, 1, patch.noise.envelope if outlasting else patch.amp, amplitude=True)
    if patch.filter.type != "off":
        _filter(s, modulations, 1, patch.filter, 2)
    if patch.pitch.semitones:
        _envelope(s, 3, Envelope(attack_s=0.0005, decay_s=patch.pitch.time_s * 4.6, sustain=0.0))
        for i in range(1, len(oscillators) + 1):
            modulations.append(("env_3", f"osc_{i}_transpose", float(np.clip(patch.pitch.semitones / 96, -1, 1))))
    _effects(s, patch)
    s["modulations"] = [{"source": src, "destination": dst} for src, dst, _ in modulations]
    for slot, (_, _, amount) in enumerate(modulations, start=1):
        s[f"modulation_{slot}_amount"] = amount
    s["wavetables"] = wavetables
    return {
        "author": "Audiowave",
        "comments": f"Estimated by Audiowave {__version__} from audio; see the steps.",
        "preset_name": name,
        "preset_style": "Audiowave",
        "synth_version": VITAL_VERSION,
        "settings": s,
    }


def _effects(s: dict, patch: Patch) -> None:
    for effect in patch.fx:
        p = effect.params
        if effect.kind == "distortion":
            s |= {
                "distortion_on": 1.0,
                "distortion_type": 0.0,
                "distortion_drive": float(min(p.get("drive_db", 25), 30)),
            }
        elif effect.kind == "reverb":
            s |= {
                "reverb_on": 1.0,
                "reverb_dry_wet": float(p.get("wet_level", 0.33)),
                "reverb_size": float(p.get("room_size", 0.5)),
                "reverb_decay_time": float(np.log2(0.3 + 6 * p.get("room_size", 0.5))),
            }
        elif effect.kind == "delay":
            seconds = max(p.get("delay_seconds", 0.5), 0.01)
            s |= {
                "delay_on": 1.0,
                "delay_sync": 0.0,
                "delay_frequency": float(np.clip(np.log2(1 / seconds), *DELAY_FREQUENCY)),
                "delay_feedback": float(p.get("feedback", 0.0)),
                "delay_dry_wet": float(p.get("mix", 0.5)),
            }
        elif effect.kind == "chorus":  # a flanger too: a short centre delay
            delay = float(np.clip(np.log2(p.get("centre_delay_ms", 7.0) / 1000), *CHORUS_DELAY))
            s |= {
                "chorus_on": 1.0,
                "chorus_sync": 0.0,
                "chorus_frequency": float(np.clip(np.log2(p.get("rate_hz", 1.0)), *CHORUS_FREQUENCY)),
                "chorus_delay_1": delay,
                "chorus_delay_2": delay,
                "chorus_mod_depth": float(p.get("depth", 0.25)),
                "chorus_dry_wet": float(p.get("mix", 0.5)),
            }
        elif effect.kind == "phaser":  # Vital sweeps its phaser's centre by mod depth semitones around it
            s |= {
                "phaser_on": 1.0,
                "phaser_sync": 0.0,
                "phaser_frequency": float(np.clip(np.log2(p.get("rate_hz", 1.0)), *PHASER_FREQUENCY)),
                "phaser_center": _hz_to_note(p.get("centre_frequency_hz", 1300.0)),
                "phaser_mod_depth": float(np.clip(p.get("depth", 0.5) * SEMITONES_PER_PHASER_DEPTH, 0.0, 48.0)),
                "phaser_feedback": float(np.clip(p.get("feedback", 0.0), 0.0, 1.0)),
                "phaser_dry_wet": float(p.get("mix", 0.5)),
            }
        elif effect.kind == "compressor":
            s |= {"compressor_on": 1.0}


def write_vital(patch: Patch, path, name: str = "Audiowave recipe") -> None:
    with open(path, "w") as fh:
        json.dump(to_vital(patch, name), fh)
