"""Read a ground-truth corpus in the dev-corpus schema (``ground_truth.json``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from audiowave.errors import InputError
from audiowave.families import gm_detail, gm_family

# Our stem names -> the corpus' stem groups they estimate (per separator vocabulary).
STEM_TARGETS: dict[str, tuple[str, ...]] = {
    "percussive": ("drums",),
    "drums": ("drums",),
    "bass": ("bass",),
    "harmonic": ("piano", "guitar", "other"),
    "piano": ("piano",),
    "guitar": ("guitar",),
    "other": ("other",),
}


@dataclass
class Clip:
    """One ground-truth clip; ``raw`` keeps every field of the JSON entry."""

    root: Path
    raw: dict

    @property
    def id(self) -> str:
        return self.raw["id"]

    @property
    def path(self) -> Path:
        return self.root / self.raw["path"]

    @property
    def families(self) -> set[str]:
        return {gm_family(i.get("gm_program"), bool(i.get("is_drum"))) for i in self.raw.get("instruments", [])}

    @property
    def details(self) -> set[str]:
        """The kinds within families (``families.DETAILS``) that the clip's programs play."""
        kinds = (gm_detail(i.get("gm_program"), bool(i.get("is_drum"))) for i in self.raw.get("instruments", []))
        return {k for k in kinds if k}

    def activity(self, hop: float) -> dict[str, np.ndarray] | None:
        """Per family and per kind within a family, which ``hop``-long frames have a note sounding (from each
        instrument's MIDI); None when an instrument has no MIDI file."""
        from audiowave.midi import pretty_midi

        instruments = self.raw.get("instruments", [])
        if not instruments or any("midi" not in inst for inst in instruments):
            return None
        n = int(np.ceil(self.raw["duration_s"] / hop))
        out: dict[str, np.ndarray] = {}
        for inst in instruments:
            program, is_drum = inst.get("gm_program"), bool(inst.get("is_drum"))
            names = [gm_family(program, is_drum)] + [d for d in [gm_detail(program, is_drum)] if d]
            grids = [out.setdefault(name, np.zeros(n, bool)) for name in names]
            for note in (n for i in pretty_midi.PrettyMIDI(str(self.root / inst["midi"])).instruments for n in i.notes):
                for grid in grids:
                    grid[int(note.start / hop) : int(np.ceil(note.end / hop))] = True
        return out

    def chords(self) -> list[tuple[float, float, str]]:
        return [(c["start_s"], c["end_s"], c["label"]) for c in (self.raw.get("chords") or [])]

    def reference_stems(self, our_stems: list[str]) -> dict[str, tuple[np.ndarray, list[str]]]:
        """For each of our stems that has a target here: (summed reference audio, target groups)."""
        by_group: dict[str, np.ndarray] = {}
        for inst in self.raw.get("instruments", []):
            if not self.raw.get("multi_instrument") or "stem" not in inst:
                continue
            audio, _ = sf.read(self.root / inst["stem"], dtype="float32", always_2d=True)
            group = inst["stem_group"]
            by_group[group] = by_group.get(group, 0) + audio.T
        out: dict[str, tuple[np.ndarray, list[str]]] = {}
        for name in our_stems:
            groups = [g for g in STEM_TARGETS.get(name, ()) if g in by_group]
            if groups:
                out[name] = (sum(by_group[g] for g in groups), groups)
        return out


def load_corpus(root: Path) -> list[Clip]:
    gt_path = Path(root) / "ground_truth.json"
    if not gt_path.is_file():
        raise InputError(f"{root}: no ground_truth.json (generate one with shared/devcorpus/make_corpus.py)")
    try:
        data = json.loads(gt_path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{gt_path}: not valid JSON ({exc})") from exc
    clips = data.get("clips")
    if not isinstance(clips, list):
        raise InputError(f"{gt_path}: no 'clips' list")
    return [Clip(Path(root), c) for c in clips]
