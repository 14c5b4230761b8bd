"""Score ``suggest`` on one-shots with known recipes: parameter error and distance before/after the search."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from audiowave.recipes.evalset import OneShot
from audiowave.recipes.patch import Patch
from audiowave.recipes.suggest import SEARCH_SR, prepare, search_target, suggest
from audiowave.recipes.synth import cutoff_path, envelope_curve, render

SR = 44100
PATH_TOP_HZ = 20000.0  # cutoffs compared up to here: above, a filter passes all that is heard


def _log2_ratio(a: float, b: float) -> float:
    return float(abs(np.log2(max(a, 1e-6) / max(b, 1e-6))))


def envelope_error_db(truth: Patch, found: Patch, rate: int = 200) -> float:
    """Mean |difference| of the two amplitude envelopes in dB (floored at -60), over the true sound's length:
    the envelope as heard, where ADSR settings can trade off (decay is moot at full sustain)."""
    n = int((truth.duration_s + truth.amp.release_s) * rate)
    a = envelope_curve(truth.amp, truth.duration_s, n, rate)
    b = envelope_curve(found.amp, found.duration_s, n, rate)
    db = [np.maximum(20 * np.log10(np.maximum(x, 1e-6)), -60.0) for x in (a, b)]
    return float(np.mean(np.abs(db[0] - db[1])))


def cutoff_path_error(truth: Patch, found: Patch, rate: int = 200) -> float:
    """Mean |log2 ratio| of the two filters' cutoffs over the true sound's length: the cutoff as it moves, where a
    base cutoff and an envelope amount can trade off (a lower cutoff opened further by its envelope)."""
    n = int((truth.duration_s + truth.amp.release_s) * rate)
    a, b = (cutoff_path(p, n, rate, top_hz=PATH_TOP_HZ) for p in (truth, found))
    return float(np.mean(np.abs(np.log2(a / b))))


def parameter_errors(truth: Patch, found: Patch) -> dict[str, float]:
    """Errors of the settings both patches have: note (semitones), times (octaves = |log2 ratio|), levels, the
    amplitude envelope as a whole (dB), and for a true noise layer whether one was found (1 or 0)."""
    err = {
        "note (st)": abs(truth.note_midi - found.note_midi),
        "amp envelope (dB)": envelope_error_db(truth, found),
        "attack (oct)": _log2_ratio(truth.amp.attack_s, found.amp.attack_s),
        "decay (oct)": _log2_ratio(truth.amp.decay_s, found.amp.decay_s),
        "sustain": abs(truth.amp.sustain - found.amp.sustain),
        "release (oct)": _log2_ratio(truth.amp.release_s, found.amp.release_s),
    }
    if truth.filter.type == "lowpass" and found.filter.type == "lowpass":
        err["cutoff (oct)"] = _log2_ratio(truth.filter.cutoff_hz, found.filter.cutoff_hz)
        err["cutoff path (oct)"] = cutoff_path_error(truth, found)
    if truth.source == "subtractive" and found.source == "subtractive":
        err["shape ok"] = float(truth.oscillators[0].waveform == found.oscillators[0].waveform)
    if truth.source == "drum":
        err["pitch drop (st)"] = abs(truth.pitch.semitones - found.pitch.semitones)
    if truth.noise is not None:
        err["noise layer found"] = float(found.noise is not None)
        if found.noise is not None:
            err["noise band (oct)"] = _log2_ratio(truth.noise.filter.cutoff_hz, found.noise.filter.cutoff_hz)
            err["noise decay (oct)"] = _log2_ratio(truth.noise.envelope.decay_s, found.noise.envelope.decay_s)
    return err


def truth_similarity(case: OneShot, audio: np.ndarray) -> float:
    """The similarity that the true patch itself scores, re-rendered and compared as ``suggest`` compares its recipe:
    the ceiling of a recipe's score. Below 1 where the sound holds noise: the synth's noise at the search rate is
    another realisation than the original's, and per-band levels of two noises differ (a drum with noise at 0.1
    under its body scores 0.84)."""
    span, _, _ = prepare(audio, SR, None, None)
    x, target = search_target(span, SR)
    return target.scores(render(case.patch, SEARCH_SR, len(x) / SEARCH_SR)).similarity


def score_one_shot(case: OneShot, budget_s: float = 5.0, evaluations: int | None = None) -> dict:
    audio = render(case.patch, SR)
    ceiling = truth_similarity(case, audio)
    started = time.monotonic()
    s = suggest(audio, SR, budget_s=budget_s, max_evaluations=evaluations)
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
        "similarity_truth": ceiling,
        "pitch_cents": r.refined.pitch_cents,
        "seconds": time.monotonic() - started,
        "evaluations": r.search.evaluations,
        "patch": r.patch.model_dump(mode="json"),  # so that recipes of two runs can be scored on one distance
    }


RATES = ("shape ok", "noise layer found")  # 1 or 0 per case: summarised by their mean, the share of cases


def summarise(rows: list[dict]) -> list[dict]:
    """Per true source kind (and all): source accuracy, median parameter errors (RATES: means), distances, time."""
    out = []
    for kind in [*sorted({r["kind"] for r in rows}), "all"]:
        sel = [r for r in rows if kind in ("all", r["kind"])]
        names = sorted({n for r in sel for n in r["errors"]})
        out.append(
            {
                "kind": kind,
                "cases": len(sel),
                "source_accuracy": float(np.mean([r["source_ok"] for r in sel])),
                "errors": {
                    n: float((np.mean if n in RATES else np.median)([r["errors"][n] for r in sel if n in r["errors"]]))
                    for n in names
                },
                "spectral_before": float(np.median([r["spectral_before"] for r in sel])),
                "spectral_after": float(np.median([r["spectral_after"] for r in sel])),
                "similarity_before": float(np.median([r["similarity_before"] for r in sel])),
                "similarity_after": float(np.median([r["similarity_after"] for r in sel])),
                "similarity_truth": float(np.median([r["similarity_truth"] for r in sel])),
                "seconds": float(np.median([r["seconds"] for r in sel])),
            }
        )
    return out


SYNTH_LABELS = ("synth_lead", "synth_pad", "synth_bass")


def _room_after(note, notes) -> float:
    """Seconds from the end of ``note`` to the next note's start (1 s when none follows)."""
    return min((o.start for o in notes if o.start >= note.end), default=note.end + 1.0) - note.end


def corpus_synth_notes(corpus: Path) -> list[dict]:
    """One note per synth instrument of the dev corpus that sounds alone (no chord), the one with the most room
    after it: its stem (or solo mix), span (the note plus up to 0.8 s of release) and MIDI pitch."""
    from audiowave.midi import pretty_midi

    doc = json.loads((corpus / "ground_truth.json").read_text())
    out = []
    for clip in doc["clips"]:
        for inst in clip["instruments"]:
            audio = inst.get("stem") or (clip["path"] if clip["n_instruments"] == 1 else None)
            if inst.get("label") not in SYNTH_LABELS or audio is None:
                continue
            notes = pretty_midi.PrettyMIDI(str(corpus / inst["midi"])).instruments[0].notes
            alone = [n for n in notes if not any(o is not n and o.start < n.end and o.end > n.start for o in notes)]
            if not alone:  # chords only: no single note to recreate
                continue

            room = {id(n): _room_after(n, notes) for n in alone}
            note = max(alone, key=lambda n: (min(room[id(n)], 1.0), n.end - n.start))
            out.append(
                {
                    "id": f"{clip['id']}/{inst['name']}",
                    "path": str(corpus / audio),
                    "start_s": float(note.start),
                    "end_s": float(note.end + min(max(room[id(note)], 0.05), 0.8)),
                    "pitch": note.pitch,
                    "label": inst["label"],
                }
            )
    return out


def score_corpus_note(note: dict, budget_s: float = 10.0, evaluations: int | None = None) -> dict:
    from audiowave.audio_io import load_audio

    clip = load_audio(note["path"])
    started = time.monotonic()
    r = suggest(
        clip.samples, clip.sample_rate, note["start_s"], note["end_s"], budget_s=budget_s, max_evaluations=evaluations
    ).recipe
    return {
        "id": note["id"],
        "label": note["label"],
        "found_source": r.patch.source,
        "note_error_st": abs(r.patch.note_midi - note["pitch"]) if r.patch.source != "sample" else float("nan"),
        "similarity_before": r.initial.similarity,
        "similarity_after": r.refined.similarity,
        "spectral_before": r.initial.spectral,
        "spectral_after": r.refined.spectral,
        "seconds": time.monotonic() - started,
        "patch": r.patch.model_dump(mode="json"),
    }
