"""The project's small synth engine: renders a :class:`Patch` to mono audio.

Oscillators are band-limited single-cycle wavetables (the basic shapes or measured harmonics) read at the
note's frequency, so one code path serves every shape and the same cycle can be exported to Vital. FM is
phase modulation by a sine. The filter is a topology-preserving state-variable filter whose cutoff follows
its envelope sample by sample; numba runs the loop. No Python synth library offers per-sample filter
modulation with deterministic output at the speed a parameter search needs, hence this module. Effects are
pedalboard's (real DSP). Renders are deterministic: noise and unison phases come from fixed seeds. White noise
has the same level per hertz at any sample rate (``noise_level`` is its peak at 44.1 kHz), so the search's renderings
at 22.05 kHz hold the noise that the 44.1 kHz preview holds below 11 kHz. A noise layer (``Patch.noise``) has its own
filter and envelope and joins the body after the body's amplifier.
"""

from __future__ import annotations

import numba
import numpy as np
import pedalboard

from audiowave.recipes.patch import MAX_FALL_S, Effect, Envelope, Filter, NoiseLayer, Oscillator, Patch

TABLE_SIZE = 4096
NOISE_REFERENCE_SR = 44100  # the rate at which noise_level is the white noise's peak
PRE_FX_PEAK = 0.5  # oscillator mix is scaled to this peak before effects, so drive settings mean the same
LN_40DB = np.log(100.0)  # decay/release times are where the level has fallen 40 dB of the way


def midi_to_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


def shape_harmonics(waveform: str, count: int) -> np.ndarray:
    """Sine-series amplitudes of harmonics 1..count for a basic shape (Fourier series, peak ~1)."""
    k = np.arange(1, count + 1, dtype=np.float64)
    odd = (k % 2) == 1
    if waveform == "sine":
        return (k == 1).astype(np.float64)
    if waveform == "saw":
        return (2 / np.pi) * ((-1.0) ** (k + 1)) / k
    if waveform == "square":
        return np.where(odd, 4 / (np.pi * k), 0.0)
    if waveform == "triangle":
        return np.where(odd, (8 / np.pi**2) * ((-1.0) ** ((k - 1) // 2)) / k**2, 0.0)
    raise ValueError(f"no built-in shape {waveform!r}")


def oscillator_harmonics(osc: Oscillator, count: int) -> np.ndarray:
    if osc.waveform == "custom":
        h = np.zeros(count)
        given = np.asarray(osc.harmonics[:count], dtype=np.float64)
        h[: len(given)] = given
        return h if h.any() else shape_harmonics("sine", count)
    return shape_harmonics(osc.waveform, count)


def wavetable(harmonics: np.ndarray, size: int = TABLE_SIZE) -> np.ndarray:
    """One cycle (``size`` samples) of the sine series ``harmonics``."""
    spectrum = np.zeros(size // 2 + 1, dtype=np.complex128)
    n = min(len(harmonics), size // 2 - 1)
    spectrum[1 : n + 1] = -1j * harmonics[:n] * size / 2  # sin(2 pi k x) has coefficient -i/2 at +k
    return np.fft.irfft(spectrum, size)


def envelope_curve(env: Envelope, hold_s: float, n: int, sr: int) -> np.ndarray:
    """ADSR level per sample for a key held ``hold_s`` seconds, over ``n`` samples."""
    t = np.arange(n) / sr
    attack = np.clip(t / env.attack_s, 0.0, 1.0)
    after = np.maximum(t - env.attack_s, 0.0)
    held = np.where(t < env.attack_s, attack, env.sustain + (1 - env.sustain) * np.exp(-after * LN_40DB / env.decay_s))
    off = min(max(hold_s, 0.0), n / sr)
    i_off = int(off * sr)
    level_at_off = held[i_off - 1] if i_off > 0 else 0.0
    release = level_at_off * np.exp(-np.maximum(t - off, 0.0) * LN_40DB / env.release_s)
    return np.where(t < off, held, release)


def audible_s(env: Envelope, hold_s: float, sr: int = 1000) -> float:
    """How long an envelope stays above -40 dB (of full level) for a key held ``hold_s`` seconds."""
    n = int((max(hold_s, env.attack_s + env.decay_s) + env.release_s + 0.1) * sr)
    above = np.nonzero(envelope_curve(env, hold_s, n, sr) >= 0.01)[0]
    return float(above[-1] + 1) / sr if len(above) else 0.0


def layer_outlasts_body(patch: Patch) -> bool:
    """Whether the noise layer sounds on after the body has died away (a snare's long rattle)."""
    return patch.noise is not None and audible_s(patch.noise.envelope, patch.duration_s) > audible_s(
        patch.amp, patch.duration_s
    )


def remainder_envelope(body: Envelope, over: Envelope) -> Envelope:
    """The envelope that, multiplied by ``over`` (a synth's amplifier envelope shaping every source), shapes the
    body as ``body`` does: exponential falls multiply by adding their rates, so the remainder falls at the body's
    rate less ``over``'s (where ``over`` falls to 0), and its sustain is the body's over ``over``'s."""

    def rest(seconds: float, over_seconds: float) -> float:
        return 1.0 / max(1.0 / seconds - 1.0 / over_seconds, 1.0 / MAX_FALL_S)  # held where over falls faster

    return Envelope(
        attack_s=body.attack_s,
        decay_s=rest(body.decay_s, over.decay_s) if over.sustain == 0 else body.decay_s,
        sustain=min(1.0, body.sustain / over.sustain) if over.sustain > 0 else body.sustain,
        release_s=rest(body.release_s, over.release_s),
    )


@numba.njit(cache=True)
def _svf(x: np.ndarray, cutoff: np.ndarray, k: float, mode: int, sr: float) -> np.ndarray:
    """Zavalishin's TPT state-variable filter (12 dB/oct); mode 0 low, 1 band, 2 high."""
    y = np.empty_like(x)
    ic1 = 0.0
    ic2 = 0.0
    for i in range(x.shape[0]):
        g = np.tan(np.pi * cutoff[i] / sr)
        a1 = 1.0 / (1.0 + g * (g + k))
        a2 = g * a1
        a3 = g * a2
        v3 = x[i] - ic2
        v1 = a1 * ic1 + a2 * v3
        v2 = ic2 + a2 * ic1 + a3 * v3
        ic1 = 2.0 * v1 - ic1
        ic2 = 2.0 * v2 - ic2
        if mode == 0:
            y[i] = v2
        elif mode == 1:
            y[i] = v1
        else:
            y[i] = x[i] - k * v1 - v2
    return y


FILTER_MODES = {"lowpass": 0, "bandpass": 1, "highpass": 2}


def _frequency_curve(patch: Patch, n: int, sr: int) -> np.ndarray:
    t = np.arange(n) / sr
    glide = patch.pitch.semitones * np.exp(-t / patch.pitch.time_s)
    return midi_to_hz(patch.note_midi) * 2.0 ** (glide / 12.0)


def _voice_ratios(osc: Oscillator) -> np.ndarray:
    base = 2.0 ** (osc.octave + osc.detune_cents / 1200.0)
    if osc.unison == 1:
        return np.array([base])
    spread = np.linspace(-0.5, 0.5, osc.unison) * osc.unison_detune_cents
    return base * 2.0 ** (spread / 1200.0)


def _oscillators(patch: Patch, freq: np.ndarray, sr: int) -> np.ndarray:
    n = len(freq)
    out = np.zeros(n)
    t = np.arange(n) / sr
    base_phase = np.cumsum(freq) / sr
    modulation = np.zeros(n)
    if patch.fm is not None:
        index = patch.fm.index * np.exp(-t / patch.fm.index_decay_s)
        modulation = index * np.sin(2 * np.pi * patch.fm.ratio * base_phase) / (2 * np.pi)
    rng = np.random.default_rng(7)
    for osc in patch.oscillators:
        ratios = _voice_ratios(osc)
        top = float(freq[int(min(n - 1, 0.05 * sr))]) * float(ratios.max())  # band-limit for the settled pitch
        count = max(1, min(256, int(0.45 * sr / max(top, 1.0))))
        table = wavetable(oscillator_harmonics(osc, count))
        voices = np.zeros(n)
        for r in ratios:
            start = rng.random() if len(ratios) > 1 else 0.0
            phase = (start + r * base_phase + modulation) % 1.0
            voices += np.interp(phase * TABLE_SIZE, np.arange(TABLE_SIZE + 1), np.append(table, table[0]))
        out += osc.level * voices / np.sqrt(len(ratios))
    if patch.noise_level > 0:
        out += white_noise(patch.noise_level, n, sr)
    return out


def filter_cutoff(f: Filter, hold_s: float, n: int, sr: int, top_hz: float | None = None) -> np.ndarray:
    """Filter ``f``'s cutoff (Hz) at each of ``n`` samples at ``sr`` for a key held ``hold_s``: its base cutoff moved
    by its envelope, between 20 Hz and ``top_hz`` (by default 0.45 ``sr``, where the filter stays stable)."""
    env = envelope_curve(f.envelope, hold_s, n, sr)
    return np.clip(f.cutoff_hz * 2.0 ** (f.env_octaves * env), 20.0, 0.45 * sr if top_hz is None else top_hz)


def cutoff_path(patch: Patch, n: int, sr: int, top_hz: float | None = None) -> np.ndarray:
    """The body filter's cutoff (Hz) at each of ``n`` samples (:func:`filter_cutoff`)."""
    return filter_cutoff(patch.filter, patch.duration_s, n, sr, top_hz)


def _filtered(f: Filter, hold_s: float, x: np.ndarray, sr: int) -> np.ndarray:
    if f.type == "off":
        return x
    cutoff = filter_cutoff(f, hold_s, len(x), sr)
    k = 2.0 - 2.0 * f.resonance
    return _svf(x.astype(np.float64), cutoff.astype(np.float64), k, FILTER_MODES[f.type], float(sr))


def white_noise(level: float, n: int, sr: int) -> np.ndarray:
    """Uniform white noise whose peak is ``level`` at NOISE_REFERENCE_SR; the same level per hertz at any ``sr``
    (its power spreads over sr / 2 hertz)."""
    return level * np.sqrt(sr / NOISE_REFERENCE_SR) * np.random.default_rng(11).uniform(-1, 1, n)


def noise_layer(noise: NoiseLayer, hold_s: float, n: int, sr: int) -> np.ndarray:
    """The layer alone: ``n`` samples at ``sr`` for a key held ``hold_s``."""
    x = _filtered(noise.filter, hold_s, white_noise(noise.level, n, sr), sr)
    return x * envelope_curve(noise.envelope, hold_s, n, sr)


def effect_plugin(effect: Effect) -> pedalboard.Plugin:
    cls = {
        "distortion": pedalboard.Distortion,
        "bitcrush": pedalboard.Bitcrush,
        "chorus": pedalboard.Chorus,
        "phaser": pedalboard.Phaser,
        "delay": pedalboard.Delay,
        "reverb": pedalboard.Reverb,
        "compressor": pedalboard.Compressor,
    }[effect.kind]
    return cls(**effect.params)


def render(patch: Patch, sr: int = 44100, length_s: float | None = None) -> np.ndarray:
    """The patch played once: the key held ``duration_s``, then released; mono float32."""
    if patch.source == "sample":
        raise ValueError("sample-based recipes play the library sample; render them with recipes.sampled")
    length = length_s if length_s is not None else patch.duration_s + patch.amp.release_s
    n = max(int(length * sr), 16)
    freq = _frequency_curve(patch, n, sr)
    x = _filtered(patch.filter, patch.duration_s, _oscillators(patch, freq, sr), sr)
    x *= envelope_curve(patch.amp, patch.duration_s, n, sr)
    if patch.noise is not None:
        x += noise_layer(patch.noise, patch.duration_s, n, sr)
    peak = float(np.max(np.abs(x)))
    if peak > 0:
        x *= PRE_FX_PEAK / peak
    if patch.fx:
        board = pedalboard.Pedalboard([effect_plugin(e) for e in patch.fx])
        x = board(x.astype(np.float32)[None, :], sr)[0]
    return np.nan_to_num(x).astype(np.float32)
