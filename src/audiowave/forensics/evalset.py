"""Evaluation cases for the detectors: real effects (pedalboard) with known parameters applied to music.

Each case takes one piece of material (a mix with its stems and beat grid, e.g. a dev-corpus clip) and
applies one effect, or none, where a producer would: sidechain ducking and tremolo on the non-drum
stems, mastering effects (compression, limiting, clipping, bit crushing), reverb, delay, distortion,
filter sweeps, tuning and codec history on the whole mix. The truth records every parameter.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

SR = 44100
CASE_EFFECTS = (
    "none",
    "sidechain",
    "compression",
    "limiting",
    "clipping",
    "distortion",
    "bitcrush",
    "reverb",
    "delay",
    "filter_sweep",
    "tremolo",
    "tuning",
    "band_limit",
    "vibrato",
    "tape_stop",
    "glide",
    "chorus",
    "flanger",
    "phaser",
)
# Detections that an effect legitimately causes as well (neither a hit nor a false alarm).
IMPLIES = {
    "clipping": {"distortion", "limiting", "compression"},
    # A bus compressor or limiter that releases between kicks pumps on the beat: that is pumping too.
    "compression": {"sidechain"},
    "limiting": {"compression", "clipping", "sidechain"},  # JUCE's limiter (pedalboard.Limiter) ends in a hard clipper
    "distortion": {"compression", "limiting", "clipping"},
    "bitcrush": {"distortion"},
    "reverb": {"compression"},
    "tuning": {"band_limit"},  # varispeed by resampling leaves a band edge
    "vibrato": {"tremolo", "delay", "tuning"},  # a modulated delay line; with every partial moving there is
    # no single tuning reference
    "tape_stop": {"filter_sweep", "band_limit", "glide", "vibrato"},  # everything, the bass too, slides down
}


@dataclass
class Material:
    """A mix, its stems (all (2, n) at SR) and its beat times; ``drums`` names the drum stems."""

    name: str
    stems: dict[str, np.ndarray]
    drums: set[str]
    beats: np.ndarray

    @property
    def mix(self) -> np.ndarray:
        return sum(self.stems.values())

    @property
    def beat_s(self) -> float:
        return float(np.median(np.diff(self.beats)))


@dataclass
class Case:
    id: str
    effect: str
    material: str
    audio: np.ndarray
    beats: np.ndarray
    truth: dict[str, float | str] = field(default_factory=dict)


def _peak_normalise(x: np.ndarray, peak_db: float = -1.0) -> np.ndarray:
    return (x * (10 ** (peak_db / 20) / (np.max(np.abs(x)) + 1e-12))).astype(np.float32)


def _board(*plugins):
    import pedalboard as pb

    return pb.Pedalboard(list(plugins))


def _sidechain(m: Material, rng: np.random.Generator):
    rate = float(rng.choice([1.0, 1.0, 0.5, 2.0]))
    depth = float(rng.uniform(4, 12))
    release = float(rng.uniform(0.3, 0.8))
    period = rate * m.beat_s
    n = m.mix.shape[1]
    t = np.arange(n) / SR
    anchors = m.beats if rate >= 1 else np.sort(np.concatenate([m.beats, m.beats[:-1] + np.diff(m.beats) / 2]))
    anchors = anchors[:: int(rate)] if rate > 1 else anchors
    since = t - anchors[np.clip(np.searchsorted(anchors, t, side="right") - 1, 0, None)]
    since = np.where(t < anchors[0], period, since)
    gain_db = -depth * np.clip(1 - since / (release * period), 0, 1)
    gain = (10 ** (gain_db / 20)).astype(np.float32)
    audio = sum(s if name in m.drums else s * gain for name, s in m.stems.items())
    return audio, {"rate_beats": rate, "depth_db": depth, "release_s": release * period}


def _compression(m: Material, rng: np.random.Generator):
    import pedalboard as pb

    threshold, ratio = float(rng.uniform(-32, -20)), float(rng.uniform(4, 12))
    x = _peak_normalise(m.mix)
    y = _board(pb.Compressor(threshold_db=threshold, ratio=ratio, attack_ms=float(rng.uniform(1, 5)), release_ms=100))(
        x, SR
    )
    return _peak_normalise(y), {"threshold_db": threshold, "ratio": ratio}


def _limiting(m: Material, rng: np.random.Generator):
    import pedalboard as pb

    ceiling, drive = float(rng.uniform(-3, -0.3)), float(rng.uniform(6, 14))
    y = _board(pb.Gain(gain_db=drive), pb.Limiter(threshold_db=ceiling, release_ms=float(rng.uniform(50, 300))))(
        _peak_normalise(m.mix), SR
    )
    return y, {"ceiling_dbfs": ceiling, "drive_db": drive}


def _clipping(m: Material, rng: np.random.Generator):
    import pedalboard as pb

    level, drive = float(rng.uniform(-6, -0.5)), float(rng.uniform(3, 10))
    y = _board(pb.Gain(gain_db=drive), pb.Clipping(threshold_db=level))(_peak_normalise(m.mix, level), SR)
    return y, {"clip_level_dbfs": level, "drive_db": drive}


def _distortion(m: Material, rng: np.random.Generator):
    import pedalboard as pb

    drive = float(rng.uniform(15, 35))
    return _peak_normalise(_board(pb.Distortion(drive_db=drive))(m.mix, SR)), {"drive_db": drive}


def _bitcrush(m: Material, rng: np.random.Generator):
    import pedalboard as pb

    bits = int(rng.integers(4, 11))
    return _board(pb.Bitcrush(bit_depth=bits))(_peak_normalise(m.mix), SR), {"bits": float(bits)}


def reverb_impulse(rt60: float, predelay: float, rng: np.random.Generator) -> np.ndarray:
    """Stereo exponentially decaying noise tail: -60 dB after ``rt60`` s, starting after ``predelay`` s."""
    n = int((rt60 * 1.2 + predelay) * SR)
    t = np.arange(n) / SR
    env = np.where(t >= predelay, 10 ** (-3 * (t - predelay) / rt60), 0.0)
    ir = rng.standard_normal((2, n)) * env
    return (ir / np.sqrt(np.sum(ir**2, axis=1, keepdims=True))).astype(np.float32)


def _reverb(m: Material, rng: np.random.Generator):
    import pedalboard as pb

    rt60, predelay, wet_db = float(rng.uniform(0.7, 3.0)), float(rng.uniform(0.0, 0.05)), float(rng.uniform(-12, 3))
    ir = reverb_impulse(rt60, predelay, rng)
    x = m.mix
    y = np.stack([pb.Convolution(ir[c], mix=1.0, sample_rate=SR)(x[c : c + 1], SR)[0] for c in range(2)])
    # the return at wet_db relative to the dry signal's energy
    out = x + 10 ** (wet_db / 20) * y * (np.sqrt(np.sum(x**2)) / (np.sqrt(np.sum(y**2)) + 1e-12))
    return _peak_normalise(out), {"rt60_s": rt60, "predelay_s": predelay, "wet_db": wet_db}


def _delay(m: Material, rng: np.random.Generator):
    import pedalboard as pb

    beats = float(rng.choice([0.5, 0.75, 1.0, 1.5]))
    feedback, mix = float(rng.uniform(0.2, 0.6)), float(rng.uniform(0.25, 0.45))
    time = min(beats * m.beat_s, 1.1)
    y = _board(pb.Delay(delay_seconds=time, feedback=feedback, mix=mix))(m.mix, SR)
    return _peak_normalise(y), {"time_s": time, "beats": beats, "feedback": feedback}


def _filter_sweep(m: Material, rng: np.random.Generator):
    import pedalboard as pb

    x = m.mix
    dur = x.shape[1] / SR
    length = float(rng.uniform(4, min(10, dur - 2)))
    start = float(rng.uniform(0.5, dur - length - 0.5))
    lo, hi = float(rng.uniform(200, 500)), float(rng.uniform(6000, 12000))
    opening = bool(rng.random() < 0.5)
    f0, f1 = (lo, hi) if opening else (hi, lo)
    board = pb.LadderFilter(mode=pb.LadderFilter.Mode.LPF24, cutoff_hz=f0, resonance=float(rng.uniform(0.1, 0.5)))
    block = 441
    out = np.empty_like(x)
    for i in range(0, x.shape[1], block):
        t = i / SR
        frac = np.clip((t - start) / length, 0, 1)
        board.cutoff_hz = f0 * (f1 / f0) ** frac
        out[:, i : i + block] = board.process(x[:, i : i + block], SR, reset=False)
    return _peak_normalise(out), {"start_s": start, "end_s": start + length, "start_hz": f0, "end_hz": f1}


def _tremolo(m: Material, rng: np.random.Generator):
    beats = float(rng.choice([0.25, 0.5, 1.0 / 3, 1.0]))
    rate = 1 / (beats * m.beat_s)
    depth = float(rng.uniform(6, 14))
    t = np.arange(m.mix.shape[1]) / SR
    gain = (10 ** (-depth * (1 - np.cos(2 * np.pi * rate * t)) / 2 / 20)).astype(np.float32)  # depth dB peak-to-peak
    audio = sum(s if name in m.drums else s * gain for name, s in m.stems.items())
    return audio, {"rate_hz": rate, "depth_db": depth}


def _tuning(m: Material, rng: np.random.Generator):
    import soxr

    cents = float(rng.choice([-1, 1]) * rng.uniform(15, 45))
    ratio = 2 ** (cents / 1200)
    y = soxr.resample(m.mix.T, SR * ratio, SR, quality="HQ").T  # played back faster/slower: varispeed
    return np.ascontiguousarray(y, dtype=np.float32), {"a4_hz": 440 * ratio, "cents": cents, "speed": ratio}


def _band_limit(m: Material, rng: np.random.Generator):
    import pedalboard as pb
    import soxr

    if rng.random() < 0.5:
        quality = float(rng.uniform(2, 7))
        y = _board(pb.MP3Compressor(vbr_quality=quality))(m.mix, SR)
        return y, {"via": "mp3", "vbr_quality": quality}
    rate = int(rng.choice([16000, 22050, 32000]))
    y = soxr.resample(soxr.resample(m.mix.T, SR, rate, quality="VHQ"), rate, SR, quality="VHQ").T
    return np.ascontiguousarray(y, dtype=np.float32), {"via": "resample", "cutoff_hz": rate / 2}


def _vibrato(m: Material, rng: np.random.Generator):
    """A modulated delay line (as a vibrato plugin is built): delay d(t) = d0 + D sin(2 pi f t) bends the
    pitch by the ratio 1 - d'(t), so a depth of c cents needs D = (2^(c/1200) - 1) / (2 pi f)."""
    rate, cents = float(rng.uniform(4, 7)), float(rng.uniform(15, 50))
    amplitude = (2 ** (cents / 1200) - 1) / (2 * np.pi * rate)
    n = m.mix.shape[1]
    t = np.arange(n) / SR
    pos = (t - 0.005 - amplitude * np.sin(2 * np.pi * rate * t)) * SR
    idx = np.arange(n)
    audio = np.stack([np.interp(pos, idx, ch) for ch in m.mix]).astype(np.float32)
    return audio, {"rate_hz": rate, "depth_cents": cents}


def _tape_stop(m: Material, rng: np.random.Generator):
    """The playback speed falls linearly to zero over ``length`` s from ``start``; silence after."""
    x = m.mix
    dur = x.shape[1] / SR
    length = float(rng.uniform(0.6, 2.0))
    start = float(rng.uniform(0.5 * dur, dur - length - 0.5))
    tau = np.arange(int(length * SR)) / SR
    pos = (start + tau - tau**2 / (2 * length)) * SR
    idx = np.arange(x.shape[1])
    stopped = np.stack([np.interp(pos, idx, ch) for ch in x])
    audio = np.zeros_like(x)
    k = int(start * SR)
    audio[:, :k] = x[:, :k]
    audio[:, k : k + stopped.shape[1]] = stopped
    return audio, {"start_s": start, "end_s": start + length}


def _glide(m: Material, rng: np.random.Generator):
    """The bass replaced by an 808 (decaying sine) that glides into some of its notes."""
    import librosa

    n = m.mix.shape[1]
    beat = m.beat_s
    notes = rng.integers(28, 41, size=int(n / SR / (2 * beat)) + 1)
    f = np.zeros(n)
    glides = []
    for k, note in enumerate(notes):
        a, b = int(k * 2 * beat * SR), min(int((k + 1) * 2 * beat * SR), n)
        if a >= n:
            break
        target = float(librosa.midi_to_hz(note))
        prev = float(librosa.midi_to_hz(notes[k - 1])) if k else target
        glide_s = float(rng.uniform(0.06, 0.25)) if k and note != notes[k - 1] and rng.random() < 0.6 else 0.0
        f[a:b] = target
        if glide_s:  # a legato slide into this note, half a beat to a beat before it (off the kick)
            g, s0 = int(glide_s * SR), a - int(float(rng.uniform(0.5, 1.0)) * beat * SR)
            f[s0:a] = target
            f[s0 : s0 + g] = prev * (target / prev) ** (np.arange(g) / g)
            glides.append((s0 / SR, (s0 + g) / SR))
    phase = 2 * np.pi * np.cumsum(f) / SR
    since = (np.arange(n) % int(2 * beat * SR)) / SR
    wave = np.tanh(2 * np.sin(phase)) * np.exp(-since * 0.8) * 0.5
    end = int((m.beats[-1] + beat) * SR)  # the 808 stops with the song
    wave[end:] *= 0.0
    glides = [g for g in glides if g[1] * SR < end]
    others = sum(s for name, s in m.stems.items() if "bass" not in name.lower())
    level = np.sqrt(np.mean(np.square(others))) / (np.sqrt(np.mean(wave**2)) + 1e-12)
    audio = others + np.stack([wave, wave]).astype(np.float32) * level
    return _peak_normalise(audio), {"glides": float(len(glides)), "spans": glides}


def _swept_delay(m: Material, rate: float, depth: float, centre: float, feedback: float):
    """pedalboard's (JUCE's) chorus delay line: its delay swings centre +/- depth x 10 ms (measured on its output)."""
    import pedalboard as pb

    fx = pb.Chorus(rate_hz=rate, depth=depth, centre_delay_ms=centre, feedback=feedback, mix=0.5)
    return _peak_normalise(_board(fx)(m.mix, SR)), {"rate_hz": rate, "centre_delay_ms": centre, "depth_ms": 10 * depth}


def _chorus(m: Material, rng: np.random.Generator):
    rate, depth, centre = float(rng.uniform(0.2, 2.0)), float(rng.uniform(0.1, 0.3)), float(rng.uniform(7, 15))
    return _swept_delay(m, rate, depth, centre, feedback=float(rng.uniform(0, 0.2)))


def _flanger(m: Material, rng: np.random.Generator):
    """The same delay line, short and fed back: a flanger (swinging 0.6 ms or more, staying above 0.5 ms)."""
    rate, centre = float(rng.uniform(0.15, 0.8)), float(rng.uniform(2.5, 4.5))
    depth = float(rng.uniform(0.3, 1.0)) * (centre - 0.5) / 10
    return _swept_delay(m, rate, depth, centre, feedback=float(rng.uniform(0.3, 0.7)))


def _phaser(m: Material, rng: np.random.Generator):
    """pedalboard's (JUCE's) six-stage phaser on the mix, sweeping +/- depth x PHASER_OCTAVES_PER_DEPTH (4.98)
    octaves around its centre; the draws keep the sweep inside its 20 Hz-20 kHz range."""
    import pedalboard as pb

    from audiowave.recipes.patch import PHASER_OCTAVES_PER_DEPTH

    rate, depth = float(rng.uniform(0.2, 1.5)), float(rng.uniform(0.2, 0.6))
    centre = float(np.exp(rng.uniform(np.log(400), np.log(2000))))
    fx = pb.Phaser(rate_hz=rate, depth=depth, centre_frequency_hz=centre, feedback=float(rng.uniform(0, 0.6)), mix=0.5)
    swing = depth * PHASER_OCTAVES_PER_DEPTH
    return _peak_normalise(_board(fx)(m.mix, SR)), {"rate_hz": rate, "swing_octaves": swing, "centre_hz": centre}


APPLY: dict[str, Callable[[Material, np.random.Generator], tuple[np.ndarray, dict]]] = {
    "none": lambda m, rng: (m.mix, {}),
    "sidechain": _sidechain,
    "compression": _compression,
    "limiting": _limiting,
    "clipping": _clipping,
    "distortion": _distortion,
    "bitcrush": _bitcrush,
    "reverb": _reverb,
    "delay": _delay,
    "filter_sweep": _filter_sweep,
    "tremolo": _tremolo,
    "tuning": _tuning,
    "band_limit": _band_limit,
    "vibrato": _vibrato,
    "tape_stop": _tape_stop,
    "glide": _glide,
    "chorus": _chorus,
    "flanger": _flanger,
    "phaser": _phaser,
}


def make_cases(materials: list[Material], effects: tuple[str, ...] = CASE_EFFECTS, seed: int = 0) -> Iterator[Case]:
    """One case per (material, effect), parameters drawn from a generator seeded by (seed, material name,
    effect), so a case does not depend on which other materials are generated. A case played at another speed
    (truth ``speed``, varispeed) has its beats moved with it, as a beat tracker would find them."""
    for m in materials:
        for effect in effects:
            rng = np.random.default_rng([seed, zlib.crc32(m.name.encode()), CASE_EFFECTS.index(effect)])
            audio, truth = APPLY[effect](m, rng)
            beats = m.beats / float(truth.get("speed", 1.0))
            yield Case(f"{m.name}-{effect}", effect, m.name, np.asarray(audio, dtype=np.float32), beats, truth)
