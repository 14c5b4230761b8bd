"""Training data recipe of the offline instrument recogniser: sound banks from Debian, rendered here.

Every General-MIDI program of each training sound bank is played with random phrases (family-appropriate
range, rhythm, polyphony, velocities) through FluidSynth, and every drum kit with random grooves; 808 bass
lines are synthesised (``bass808.py``). Each rendering is kept dry and with one random effect chain
(pedalboard: reverb, chorus, distortion, delay, filters, compression). A stem's targets are its family and,
where the program or the effect says so, a kind within it (``families.DETAILS``: distorted guitar, synth
bass, 808 bass). Training examples are random mixtures of these stems (``mixtures.py``).

FluidR3 (``fluid-soundfont-gm``, ``fluidr3mono``) is never used here: it is kept for independent
evaluation. MuseScore General renders the dev corpus, so it is not used either.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audiowave.families import DETAILS, FAMILIES, gm_detail, gm_family
from audiowave.instruments import bass808

SAMPLE_RATE = 16000
STEM_S = 4.0
SF2 = Path("/usr/share/sounds/sf2")


@dataclass(frozen=True)
class SoundBank:
    name: str
    path: Path
    package: str
    licence: str
    melodic: bool
    drum_presets: tuple[tuple[int, int], ...]  # (bank, preset) of drum kits


TRAINING_BANKS = (
    SoundBank("TimGM6mb", SF2 / "TimGM6mb.sf2", "timgm6mb-soundfont", "GPL-2", True, ((128, 0), (128, 16), (128, 25))),
    SoundBank("OPL-3 FM", SF2 / "OPL-3_FM_128M.sf2", "opl3-soundfont", "CC-BY-SA-4.0", True, ((128, 0),)),
    SoundBank("csound GM", SF2 / "sf_GMbank.sf2", "csound-soundfont", "LGPL-2.1+", True, ((128, 0), (128, 25))),
    SoundBank("AVL Black Pearl", SF2 / "Black_Pearl_4_LV2.sf2", "avldrums.lv2-soundfont", "GPL-2+", False, ((0, 0),)),
    SoundBank("AVL Red Zeppelin", SF2 / "Red_Zeppelin_4_LV2.sf2", "avldrums.lv2-soundfont", "GPL-2+", False, ((0, 0),)),
)
EVALUATION_BANK = SoundBank(
    "FluidR3 GM", SF2 / "FluidR3_GM.sf2", "fluid-soundfont-gm", "MIT", True, ((128, 0), (128, 16), (128, 25))
)

# The families the model learns: all but vocals (no honest singing data) and the catch-all "other".
LABELS = tuple(f for f in FAMILIES if f not in ("vocals", "other"))
# What the network outputs: the families, then the kinds within them.
OUTPUTS = LABELS + tuple(DETAILS)
# Pitch ranges (MIDI) and how many notes sound together, per family.
RANGES = {"bass": (28, 55), "piano": (36, 96), "electric piano": (40, 88), "organ": (36, 84), "strings": (40, 88)}
POLYPHONIC = {"piano", "electric piano", "organ", "strings", "synth pad", "acoustic guitar", "electric guitar"}
GM_DRUM_NOTES = (35, 36, 38, 40, 42, 44, 46, 49, 51, 45, 47, 48, 50, 39, 54, 56, 57, 69, 70, 75, 76)


@dataclass
class Stem:
    audio: np.ndarray  # (n,) float32 at SAMPLE_RATE
    label: str
    bank: str
    program: int  # GM program, or -1 for drum kits and synthesised stems
    effect: str
    detail: str | None = None  # a kind within the family (a key of families.DETAILS)


def programs() -> list[tuple[int, str]]:
    """(GM program, family) for every melodic program with a training label (voices and effects excluded)."""
    return [(p, f) for p in range(96) if (f := gm_family(p, False)) in LABELS]


def _phrase(rng: np.random.Generator, family: str) -> list[tuple[float, float, int, int]]:
    """Notes (start s, end s, pitch, velocity) filling the stem length."""
    lo, hi = RANGES.get(family, (48, 84))
    notes, t = [], float(rng.uniform(0, 0.2))
    while t < STEM_S - 0.1:
        dur = float(rng.choice([0.15, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0]))
        if family in ("synth pad", "strings", "organ"):
            dur *= 2
        chord = int(rng.integers(1, 4)) if family in POLYPHONIC and rng.random() < 0.5 else 1
        root = int(rng.integers(lo, hi - 7))
        for k in range(chord):
            notes.append((t, min(t + dur, STEM_S), root + (0, 4, 7, 3)[k], int(rng.integers(45, 127))))
        t += dur * float(rng.choice([0.8, 1.0, 1.0, 1.2]))
    return notes


def _groove(rng: np.random.Generator) -> list[tuple[float, float, int, int]]:
    bpm = float(rng.uniform(70, 170))
    step = 60 / bpm / 4
    kit = rng.choice(GM_DRUM_NOTES, size=int(rng.integers(3, 7)), replace=False)
    notes = []
    for i in range(int(STEM_S / step)):
        for note in kit:
            if rng.random() < 0.3:
                notes.append((i * step, i * step + 0.1, int(note), int(rng.integers(50, 127))))
    return notes


def render(synth, sfid: int, bank: int, preset: int, notes: list, channel: int) -> np.ndarray:
    """Play ``notes`` on a pyfluidsynth ``synth``; mono float32 of STEM_S seconds (plus release, cut)."""
    synth.program_select(channel, sfid, bank, preset)
    events = sorted([(s, 1, p, v) for s, _, p, v in notes] + [(e, 0, p, 0) for _, e, p, _ in notes])
    out, now = [], 0.0
    for t, on, pitch, vel in events:
        if t > now:
            out.append(synth.get_samples(int((t - now) * SAMPLE_RATE)))
            now = t
        synth.noteon(channel, pitch, vel) if on else synth.noteoff(channel, pitch)
    n_total = int(STEM_S * SAMPLE_RATE)
    done = sum(len(o) for o in out) // 2
    if n_total > done:
        out.append(synth.get_samples(n_total - done))
    synth.system_reset()
    stereo = np.concatenate(out).astype(np.float32).reshape(-1, 2) / 32768.0
    return stereo.mean(axis=1)[:n_total]


def random_effect(rng: np.random.Generator, label: str):
    """A random pedalboard chain and its name (distortion more often on electric guitar)."""
    import pedalboard as pb

    choices = ["reverb", "chorus", "distortion", "delay", "filter", "compressor", "phaser"]
    kind = "distortion" if label == "electric guitar" and rng.random() < 0.5 else str(rng.choice(choices))
    fx = {
        "reverb": lambda: pb.Reverb(room_size=rng.uniform(0.2, 0.9), wet_level=rng.uniform(0.1, 0.5)),
        "chorus": lambda: pb.Chorus(rate_hz=rng.uniform(0.3, 3), depth=rng.uniform(0.1, 0.6)),
        "distortion": lambda: pb.Distortion(drive_db=rng.uniform(10, 35)),
        "delay": lambda: pb.Delay(delay_seconds=rng.uniform(0.08, 0.4), feedback=rng.uniform(0.1, 0.5), mix=0.3),
        "filter": lambda: pb.LowpassFilter(cutoff_frequency_hz=rng.uniform(800, 5000)),
        "compressor": lambda: pb.Compressor(threshold_db=rng.uniform(-30, -10), ratio=rng.uniform(2, 8)),
        "phaser": lambda: pb.Phaser(rate_hz=rng.uniform(0.2, 2)),
    }[kind]()
    return pb.Pedalboard([fx]), kind


def render_bank(banks: tuple[SoundBank, ...], phrases: int, seed: int, progress=None) -> list[Stem]:
    """Every program/kit of ``banks``, ``phrases`` random phrases each, dry and with one effect chain."""
    import fluidsynth

    rng = np.random.default_rng(seed)
    synth = fluidsynth.Synth(samplerate=float(SAMPLE_RATE), gain=0.5)
    synth.setting("synth.reverb.active", 0)
    synth.setting("synth.chorus.active", 0)
    jobs = []
    for bank in banks:
        sfid = synth.sfload(str(bank.path))
        if bank.melodic:
            jobs += [(bank, sfid, 0, p, label, 0) for p, label in programs()]
        jobs += [(bank, sfid, b, preset, "drums", 9) for b, preset in bank.drum_presets]
    stems = []
    for i, (bank, sfid, b, preset, label, channel) in enumerate(jobs):
        for _ in range(phrases):
            notes = _groove(rng) if label == "drums" else _phrase(rng, label)
            audio = render(synth, sfid, b, preset, notes, channel)
            if np.sqrt(np.mean(audio**2)) < 1e-4:
                continue  # a preset that is silent in this bank
            program = -1 if label == "drums" else preset
            stems += dry_and_wet(rng, audio, label, bank.name, program, gm_detail(program, label == "drums"))
        if progress:
            progress((i + 1) / len(jobs))
    synth.delete()
    return stems


def dry_and_wet(
    rng: np.random.Generator, audio: np.ndarray, label: str, bank: str, program: int, detail: str | None
) -> list[Stem]:
    """The rendering kept dry and through one random effect chain (a distorted electric guitar is a distorted
    guitar whatever its program)."""
    board, kind = random_effect(rng, label)
    wet = board(audio[None, :], SAMPLE_RATE)[0].astype(np.float32)
    wet_detail = "distorted guitar" if label == "electric guitar" and kind == "distortion" else detail
    return [Stem(audio, label, bank, program, "dry", detail), Stem(wet, label, bank, program, kind, wet_detail)]


def render_808(lines: int, seed: int, sampled: bool = False) -> list[Stem]:
    """``lines`` 808 bass lines, dry and with one effect chain: synthesised, or (``sampled``, for the test)
    played on recorded 808 kicks."""
    rng = np.random.default_rng(seed)
    make, bank = (bass808.sampled, "808 kicks (Sonic Pi)") if sampled else (bass808.synthesise, "808 synth")
    stems = []
    for _ in range(lines):
        stems += dry_and_wet(rng, make(rng, STEM_S, SAMPLE_RATE), "bass", bank, -1, "808 bass")
    return stems
