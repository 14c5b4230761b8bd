"""808 bass lines for the instrument recogniser: synthesised for training, sampled for the independent test.

No General-MIDI bank has an 808 bass, so the training stems are synthesised the way producers build one: a
sine (Roland's TR-808 kick is a decaying bridged-T oscillator) whose pitch falls from above the note in the
first tens of milliseconds, a long exponential decay cut by the note-off, sometimes a glide into the next
note, a click and saturation. The test stems are made differently, from recorded 808-style kicks (Sonic Pi's
CC0 ``bd_808`` and ``bd_boom``) played at other pitches by varispeed, so the model is scored on sounds that
its synthesiser never made.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SONIC_PI_SAMPLES = Path("/usr/share/sonic-pi/samples")
# Sonic Pi samples, CC0 (Debian sonic-pi-samples), with the MIDI note they sound (YIN: 42.5 Hz, 60.7 Hz)
TEST_KICKS = {"bd_808.flac": 29, "bd_boom.flac": 35}
RANGE = (24, 46)  # MIDI notes of 808 lines: C1 to A#2


def _pattern(rng: np.random.Generator, seconds: float) -> list[tuple[float, float, int]]:
    """(start s, end s, MIDI note) of a sparse trap/hip-hop bass line: long notes on a 16th grid."""
    bpm = float(rng.uniform(60, 160))
    step = 60.0 / bpm / 4
    root = int(rng.integers(RANGE[0], RANGE[1] - 7))
    notes, t = [], float(rng.integers(0, 3)) * step
    while t < seconds - 0.1:
        length = step * int(rng.choice([2, 3, 4, 6, 8, 12, 16]))
        pitch = root + int(rng.choice([0, 0, 0, 3, 5, 7, 10, 12, -2]))
        notes.append((t, min(t + length * float(rng.uniform(0.6, 1.0)), seconds), int(np.clip(pitch, *RANGE))))
        t += length
    return notes


def synthesise(rng: np.random.Generator, seconds: float, sample_rate: int) -> np.ndarray:
    """A random 808 bass line (mono float32, peak about 0.5)."""
    n = int(seconds * sample_rate)
    out = np.zeros(n, np.float32)
    notes = _pattern(rng, seconds)
    drop = float(rng.uniform(0, 24))  # semitones above the note at the attack
    drop_tau = float(rng.uniform(0.01, 0.06))
    decay_tau = float(rng.uniform(0.25, 2.0))
    glide_s = float(rng.uniform(0.04, 0.2)) if rng.random() < 0.4 else 0.0
    drive = float(rng.choice([1.0, 1.0, rng.uniform(1.5, 6.0)]))
    click = float(rng.uniform(0, 0.3))
    for i, (start, end, pitch) in enumerate(notes):
        a, b = int(start * sample_rate), min(int((end + 0.05) * sample_rate), n)
        t = np.arange(b - a) / sample_rate
        semis = pitch + drop * np.exp(-t / drop_tau)
        if glide_s and i + 1 < len(notes) and notes[i + 1][0] - end < 0.05:  # slide into the next note
            ramp = np.clip((t - (end - start - glide_s)) / glide_s, 0, 1)
            semis = semis + ramp * (notes[i + 1][2] - pitch)
        freq = 440.0 * 2.0 ** ((semis - 69) / 12)
        phase = 2 * np.pi * np.cumsum(freq) / sample_rate
        env = np.exp(-t / decay_tau) * np.clip(t / 0.002, 0, 1)
        env *= np.clip((end - start + 0.05 - t) / 0.05, 0, 1)  # released at the note-off
        note = np.sin(phase) * env + click * rng.standard_normal(t.size) * np.exp(-t / 0.004)
        out[a:b] += note.astype(np.float32)
    out = np.tanh(drive * out) / np.tanh(drive)
    return (0.5 * out / max(float(np.abs(out).max()), 1e-9)).astype(np.float32)


def kicks_present() -> bool:
    return all((SONIC_PI_SAMPLES / name).is_file() for name in TEST_KICKS)


def sampled(rng: np.random.Generator, seconds: float, sample_rate: int) -> np.ndarray:
    """A random bass line played on a recorded 808-style kick (varispeed per note), mono float32."""
    name = sorted(TEST_KICKS)[int(rng.integers(len(TEST_KICKS)))]
    kick, sr = sf.read(SONIC_PI_SAMPLES / name, dtype="float32", always_2d=True)
    kick = soxr.resample(kick.mean(axis=1), sr, sample_rate).astype(np.float32)
    base = TEST_KICKS[name]
    n = int(seconds * sample_rate)
    out = np.zeros(n, np.float32)
    for start, end, pitch in _pattern(rng, seconds):
        ratio = 2.0 ** ((pitch - base) / 12)  # play faster for a higher note
        note = soxr.resample(kick, sample_rate * ratio, sample_rate).astype(np.float32)
        a = int(start * sample_rate)
        length = min(note.size, int((end - start + 0.05) * sample_rate), n - a)
        fade = np.clip((length - np.arange(length)) / (0.05 * sample_rate), 0, 1)
        out[a : a + length] += note[:length] * fade
    return (0.5 * out / max(float(np.abs(out).max()), 1e-9)).astype(np.float32)
