"""Score ``suggest`` on one-shots with known recipes: parameter error and distance before/after the search."""

from __future__ import annotations

import time

import numpy as np

from audiowave.recipes.evalset import OneShot
from audiowave.recipes.patch import Patch
from audiowave.recipes.suggest import suggest
from audiowave.recipes.synth import render

SR = 44100


def _log2_ratio(a: float, b: float) -> float:
    return float(abs(np.log2(max(a, 1e-6) / max(b, 1e-6))))


def parameter_errors(truth: Patch, found: Patch) -> dict[str, float]:
    """Errors of the settings both patches have: note (semitones), times (octaves = |log2 ratio|), levels."""
    err = {
        "note (st)": abs(truth.note_midi - found.note_midi),
        "attack (oct)": _log2_ratio(truth.amp.attack_s, found.amp.attack_s),
        "decay (oct)": _log2_ratio(truth.amp.decay_s, found.amp.decay_s),
        "sustain": abs(truth.amp.sustain - found.amp.sustain),
        "release (oct)": _log2_ratio(truth.amp.release_s, found.amp.release_s),
    }
    if truth.filter.type == "lowpass" and found.filter.type == "lowpass":
        err["cutoff (oct)"] = _log2_ratio(truth.filter.cutoff_hz, found.filter.cutoff_hz)
    if truth.source == "subtractive" and found.source == "subtractive":
        err["shape ok"] = float(truth.oscillators[0].waveform == found.oscillators[0].waveform)
    if truth.source == "drum":
        err["pitch drop (st)"] = abs(truth.pitch.semitones - found.pitch.semitones)
    return err


def score_one_shot(case: OneShot, budget_s: float = 5.0) -> dict:
    audio = render(case.patch, SR)
    started = time.monotonic()
    s = suggest(audio, SR, budget_s=budget_s)
    r = s.recipe
    return {
        "id": case.id,
        "kind": case.patch.source,
        "found_source": r.patch.source,
        "source_ok": r.patch.source == case.patch.source,
        "errors": parameter_errors(case.patch, r.patch),
        "spectral_before": r.initial.spectral,
        "spectral_after": r.refined.spectral,
        "similarity_before": r.initial.similarity,
        "similarity_after": r.refined.similarity,
        "pitch_cents": r.refined.pitch_cents,
        "seconds": time.monotonic() - started,
        "evaluations": r.search.evaluations,
    }


def summarise(rows: list[dict]) -> list[dict]:
    """Per true source kind (and all): source accuracy, median parameter errors, distances, time."""
    out = []
    for kind in [*sorted({r["kind"] for r in rows}), "all"]:
        sel = [r for r in rows if kind in ("all", r["kind"])]
        names = sorted({n for r in sel for n in r["errors"]})
        out.append(
            {
                "kind": kind,
                "cases": len(sel),
                "source_accuracy": float(np.mean([r["source_ok"] for r in sel])),
                "errors": {n: float(np.median([r["errors"][n] for r in sel if n in r["errors"]])) for n in names},
                "spectral_before": float(np.median([r["spectral_before"] for r in sel])),
                "spectral_after": float(np.median([r["spectral_after"] for r in sel])),
                "similarity_before": float(np.median([r["similarity_before"] for r in sel])),
                "similarity_after": float(np.median([r["similarity_after"] for r in sel])),
                "seconds": float(np.median([r["seconds"] for r in sel])),
            }
        )
    return out
