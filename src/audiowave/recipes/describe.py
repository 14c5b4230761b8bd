"""The recipe in words: steps a producer can follow on any synth with oscillators, filter and envelopes."""

from __future__ import annotations

import numpy as np

from audiowave.recipes.patch import MAX_FALL_S, Effect, Envelope, Filter, NoiseLayer, Oscillator, Patch, SampleSource
from audiowave.recipes.synth import layer_outlasts_body, midi_to_hz, remainder_envelope

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
SOURCE_WORDS = {
    "subtractive": "a subtractive synth (oscillator → filter → amplifier)",
    "wavetable": "a wavetable synth (a custom single-cycle wave)",
    "fm": "an FM synth (two operators)",
    "drum": "a drum synth (pitched sine body and noise)",
    "sample": "a sampler",
}


def note_name(midi: float) -> str:
    n = round(midi)
    cents = round((midi - n) * 100)
    detune = f" {cents:+d} cents" if cents else ""
    return f"{NOTE_NAMES[n % 12]}{n // 12 - 1} ({midi_to_hz(midi):.1f} Hz){detune}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _envelope(env: Envelope, under_amplifier: bool = False) -> str:
    """The ADSR in words; ``under_amplifier``: an envelope multiplied by the amplifier's, whose release may be held
    (:func:`remainder_envelope`) for the amplifier's to end."""
    held = under_amplifier and env.release_s >= MAX_FALL_S
    return (
        f"attack {_ms(env.attack_s)}, decay {_ms(env.decay_s)}, sustain {env.sustain * 100:.0f} %, "
        f"release {'held (the amplifier releases it)' if held else _ms(env.release_s)}"
    )


def _oscillator(i: int, osc: Oscillator) -> str:
    if osc.waveform == "custom":
        h = np.abs(np.asarray(osc.harmonics, dtype=float))
        top = np.argsort(h)[::-1][:6]
        listed = ", ".join(f"{k + 1}: {20 * np.log10(max(h[k], 1e-6)):.0f} dB" for k in sorted(top) if h[k] > 0)
        wave = f"a custom single-cycle wave (strongest harmonics {listed}; the Vital preset carries the exact cycle)"
    else:
        wave = f"a {osc.waveform} wave"
    text = f"Oscillator {i}: {wave}"
    if osc.octave:
        text += f", octave {osc.octave:+d}"
    if osc.detune_cents:
        text += f", detuned {osc.detune_cents:+.0f} cents"
    if osc.unison > 1:
        text += f", {osc.unison} unison voices spread over {osc.unison_detune_cents:.0f} cents"
    if osc.level < 0.99:
        text += f", level {20 * np.log10(max(osc.level, 1e-6)):.1f} dB"
    return text + "."


def _filter(f: Filter) -> str:
    text = f"{f.type} 12 dB/oct, cutoff {f.cutoff_hz:.0f} Hz, resonance {f.resonance * 100:.0f} %"
    if abs(f.env_octaves) >= 0.05:
        text += f"; filter envelope {f.env_octaves:+.1f} octaves ({_envelope(f.envelope)})"
    return text


def _noise_layer(patch: Patch, noise: NoiseLayer) -> str:
    band = f"through its own filter ({_filter(noise.filter)})" if noise.filter.type != "off" else "unfiltered"
    where_one_envelope = (
        "give the amplifier the noise's envelope (the noise rings on after the body) and the oscillators' levels an"
        f" envelope of their own ({_envelope(remainder_envelope(patch.amp, noise.envelope), under_amplifier=True)};"
        " the two multiply to the body's)"
        if layer_outlasts_body(patch)
        else "give the noise its own envelope on its level"
    )
    return (
        f"Noise layer, apart from the oscillators' filter and amplifier: white noise at"
        f" {20 * np.log10(max(noise.level, 1e-6)):.1f} dB {band}, with its own envelope"
        f" ({_envelope(noise.envelope)}); on a synth whose amplifier envelope shapes every source,"
        f" {where_one_envelope}."
    )


def _effect(effect: Effect) -> str:
    p = effect.params
    if effect.kind == "distortion":
        return f"distortion, drive {p.get('drive_db', 25):.0f} dB"
    if effect.kind == "reverb":
        return f"reverb, room size {p.get('room_size', 0.5) * 100:.0f} %, wet {p.get('wet_level', 0.33) * 100:.0f} %"
    if effect.kind == "delay":
        return (
            f"delay {p.get('delay_seconds', 0.5) * 1000:.0f} ms, feedback {p.get('feedback', 0) * 100:.0f} %, "
            f"mix {p.get('mix', 0.5) * 100:.0f} %"
        )
    if effect.kind == "chorus":
        depth, mix = p.get("depth", 0.25) * 100, p.get("mix", 0.5) * 100
        delay = f", delay {p['centre_delay_ms']:.1f} ms" if "centre_delay_ms" in p else ""
        feedback = f", feedback {p['feedback'] * 100:.0f} %" if p.get("feedback") else ""
        return f"chorus {p.get('rate_hz', 1):.2f} Hz, depth {depth:.0f} %{delay}{feedback}, mix {mix:.0f} %"
    if effect.kind == "phaser":
        return (
            f"phaser {p.get('rate_hz', 1):.2f} Hz, depth {p.get('depth', 0.5) * 100:.0f} %, centre "
            f"{p.get('centre_frequency_hz', 1300):.0f} Hz, feedback {p.get('feedback', 0) * 100:.0f} %, "
            f"mix {p.get('mix', 0.5) * 100:.0f} %"
        )
    if effect.kind == "bitcrush":
        return f"bit crusher to {p.get('bit_depth', 8):.0f} bits"
    return f"compressor, threshold {p.get('threshold_db', 0):.0f} dB, ratio {p.get('ratio', 1):.1f}:1"


def _playing(s: SampleSource) -> str:
    if s.pitch_semitones == 0 and abs(s.stretch - 1) < 1e-3:
        return "Play it as it is: no pitch change, no time stretch."
    if abs(s.stretch * 2 ** (s.pitch_semitones / 12) - 1) < 1e-3:  # the length that the speed change gives
        return (
            f"Play it pitched {s.pitch_semitones:+.2f} semitones by speed, as a sampler does"
            f" (it then lasts ×{s.stretch:.3f})."
        )
    return f"Play it pitched {s.pitch_semitones:+.2f} semitones and time-stretched ×{s.stretch:.3f}."


def steps(patch: Patch) -> list[str]:
    if patch.source == "sample" and patch.sample is not None:
        s = patch.sample
        found = (
            "the recording in this sound"
            if s.relation == "identified"
            else "not this recording, but the library's nearest by timbre"
        )
        return [f"Load the library sample '{s.name}' ({s.path}; {found}) into a sampler.", _playing(s)]
    out = [f"Start from an init patch on {SOURCE_WORDS[patch.source]}."]
    out += [_oscillator(i, osc) for i, osc in enumerate(patch.oscillators, start=1)]
    if patch.fm is not None:
        out.append(
            f"FM: a sine modulator at {patch.fm.ratio:g}× the note frequency modulates oscillator 1 with "
            f"index {patch.fm.index:.1f} at the start, falling with a {_ms(patch.fm.index_decay_s)} time "
            "constant (on a DX-style synth: operator 2 → operator 1, its level envelope decaying)."
        )
    if patch.noise_level > 0:
        out.append(f"Mix in white noise at {20 * np.log10(patch.noise_level):.1f} dB.")
    if patch.noise is not None:
        out.append(_noise_layer(patch, patch.noise))
    if patch.filter.type != "off":
        out.append(f"Filter: {_filter(patch.filter)}.")
    out.append(f"Amplifier envelope: {_envelope(patch.amp)}.")
    if abs(patch.pitch.semitones) >= 0.1:
        out.append(
            f"Pitch envelope: start {patch.pitch.semitones:+.1f} semitones from the note and glide to it "
            f"with a {_ms(patch.pitch.time_s)} time constant."
        )
    if patch.fx:
        out.append("Effects, in order: " + " → ".join(_effect(e) for e in patch.fx) + ".")
    out.append(f"Play {note_name(patch.note_midi)} and hold the key for {_ms(patch.duration_s)}.")
    return out
