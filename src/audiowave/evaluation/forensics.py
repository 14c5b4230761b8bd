"""Score the forensics detectors on generated cases: detection precision/recall/F1 and parameter error per effect."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import soundfile as sf

from audiowave.errors import InputError
from audiowave.forensics.common import Finding, Signal
from audiowave.forensics.detect import DETECTORS
from audiowave.forensics.evalset import IMPLIES, SR, Case, Material
from audiowave.forensics.rules import ESTIMATES, FIXED, RULES, decide, estimate, fit_estimate, fit_threshold

# effect -> (parameter name, error function(truth, finding) -> (error, within target))
TIME_TOLERANCE = 0.2
LEVEL_TOLERANCE_DB = 3.0


def _rel(truth: float, est: float) -> tuple[float, bool]:
    err = abs(est - truth) / abs(truth)
    return 100 * err, err <= TIME_TOLERANCE


def _span_time(truth: dict, true_s: float, found_s: float) -> tuple[float, bool]:
    """Error (s) of a span edge; within target when under 20 % of the true span's length."""
    err = abs(found_s - true_s)
    return err, err <= TIME_TOLERANCE * (truth["end_s"] - truth["start_s"])


def _db(truth: float, est: float) -> tuple[float, bool]:
    err = abs(est - truth)
    return err, err <= LEVEL_TOLERANCE_DB


SWEPT_DELAY = [  # chorus and flanger: one delay line, measured the same way
    ("rate", "%", lambda t, p: _rel(t["rate_hz"], p["rate_hz"])),
    ("centre delay", "%", lambda t, p: _rel(t["centre_delay_ms"], p["centre_delay_ms"])),
]

PARAMETERS: dict[str, list[tuple[str, str, Callable[[dict, dict], tuple[float, bool]]]]] = {
    "sidechain": [
        ("depth (dB)", "dB", lambda t, p: _db(t["depth_db"], p["depth_db"])),
        (
            "rate (note value)",
            "% wrong",
            lambda t, p: (100.0 * (t["rate_beats"] != p["rate_beats"]), t["rate_beats"] == p["rate_beats"]),
        ),
    ],
    "limiting": [("ceiling (dBFS)", "dB", lambda t, p: _db(t["ceiling_dbfs"], p["ceiling_dbfs"]))],
    "clipping": [("clip level (dBFS)", "dB", lambda t, p: _db(t["clip_level_dbfs"], p["clip_level_dbfs"]))],
    "bitcrush": [
        (
            "bit depth",
            "bits",
            lambda t, p: (abs(t["bits"] - p["effective_bits"]), abs(t["bits"] - p["effective_bits"]) <= 1),
        )
    ],
    "reverb": [
        ("RT60", "%", lambda t, p: _rel(t["rt60_s"], p["rt60_s"])),
        ("wet level (dB)", "dB", lambda t, p: _db(t["wet_db"], p["wet_db"])),
    ],
    "delay": [
        ("delay time", "%", lambda t, p: _rel(t["time_s"], p["time_s"])),
        (
            "feedback",
            "abs",
            lambda t, p: (abs(t["feedback"] - p["feedback"]), abs(t["feedback"] - p["feedback"]) <= 0.2),
        ),
    ],
    "filter_sweep": [
        ("sweep start time", "s", lambda t, p: _span_time(t, t["start_s"], p["span_start_s"])),
        ("sweep end time", "s", lambda t, p: _span_time(t, t["end_s"], p["span_end_s"])),
    ],
    "tremolo": [
        ("rate", "%", lambda t, p: _rel(t["rate_hz"], p["rate_hz"])),
        ("depth (dB)", "dB", lambda t, p: _db(t["depth_db"], p["depth_db"])),
    ],
    "vibrato": [
        ("rate", "%", lambda t, p: _rel(t["rate_hz"], p["rate_hz"])),
        ("depth", "%", lambda t, p: _rel(t["depth_cents"], p["depth_cents"])),
    ],
    "chorus": SWEPT_DELAY,
    "flanger": SWEPT_DELAY,
    "phaser": [
        ("rate", "%", lambda t, p: _rel(t["rate_hz"], p["rate_hz"])),
        ("sweep (octaves)", "%", lambda t, p: _rel(t["swing_octaves"], p["swing_octaves"])),
    ],
    "tape_stop": [("start time", "s", lambda t, p: _span_time(t, t["start_s"], p["span_start_s"]))],
    "glide": [
        ("glides found", "% missed", lambda t, p: _glide_recall(t, p)),
        ("glide time", "%", lambda t, p: _glide_time(t, p)),
    ],
    "tuning": [("A4 (Hz)", "Hz", lambda t, p: (abs(t["a4_hz"] - p["a4_hz"]), abs(t["a4_hz"] - p["a4_hz"]) <= 1.0))],
    "band_limit": [
        (
            "cutoff (resampled)",
            "%",
            lambda t, p: _rel(t["cutoff_hz"], p["cutoff_hz"]) if "cutoff_hz" in t else (np.nan, True),
        )
    ],
}


def _matched_glides(truth: dict, found: dict) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """(truth span, detected span) pairs that overlap."""
    return [(ts, fs) for ts in truth["spans"] for fs in found["spans"] if min(ts[1], fs[1]) - max(ts[0], fs[0]) > 0]


def _glide_recall(truth: dict, found: dict) -> tuple[float, bool]:
    hit = {tuple(ts) for ts, _ in _matched_glides(truth, found)}
    missed = 1 - len(hit) / max(len(truth["spans"]), 1)
    return 100 * missed, missed <= TIME_TOLERANCE


def _glide_time(truth: dict, found: dict) -> tuple[float, bool]:
    pairs = _matched_glides(truth, found)
    if not pairs:
        return float("nan"), False
    errors = [abs((f[1] - f[0]) - (t[1] - t[0])) / (t[1] - t[0]) for t, f in pairs]
    return 100 * float(np.median(errors)), float(np.median(errors)) <= TIME_TOLERANCE


def corpus_materials(corpus: Path, limit: int | None = None, dry: bool = False) -> list[Material]:
    """The corpus' multi-instrument clips (mixed material) as materials: per-instrument stems, beat grid. ``dry``:
    each stem rendered again from its MIDI without the sound bank's reverb and chorus (``dry_stems``)."""
    from audiowave.evaluation.corpus import load_corpus
    from audiowave.evaluation.dry_stems import dry_stem

    out = []
    for clip in load_corpus(corpus):
        insts = [i for i in clip.raw.get("instruments", []) if "stem" in i]
        if len(insts) < 2 or len(clip.raw.get("beat_times_s", [])) < 8:
            continue
        stems, drums = {}, set()
        for k, inst in enumerate(insts):
            info = sf.info(corpus / inst["stem"])
            if info.samplerate != SR:
                raise InputError(f"{inst['stem']}: {info.samplerate} Hz; the forensics cases are built at {SR} Hz")
            name = f"{k:02d}_{inst.get('label', 'inst')}"
            if dry:  # the rendered stem gives only its length
                stems[name] = dry_stem(corpus, inst, SR, info.frames)
            else:
                audio, _ = sf.read(corpus / inst["stem"], dtype="float32", always_2d=True)
                stems[name] = np.ascontiguousarray(audio.T)
            if inst.get("is_drum"):
                drums.add(name)
        out.append(Material(clip.id, stems, drums, np.asarray(clip.raw["beat_times_s"], dtype=float)))
        if limit and len(out) >= limit:
            break
    return out


def score_case(case: Case) -> dict:
    """Run every mix detector on a case; record detections and parameter errors."""
    signal = Signal(case.audio, SR, case.beats)
    row: dict = {
        "id": case.id,
        "effect": case.effect,
        "truth": case.truth,
        "detected": {},
        "errors": {},
        "measured": {},
    }
    for detector in DETECTORS:
        if detector.effect == "stereo":
            continue
        finding = detector.run(signal)
        row["detected"][detector.effect] = finding.detected
        row["measured"][detector.effect] = {k: v for k, v in finding.parameters.items() if isinstance(v, float)}
        if detector.effect == case.effect:
            row["errors"] = parameter_errors(case.effect, case.truth, _params(finding))
    return row


def parameter_errors(effect: str, truth: dict, params: dict) -> dict[str, tuple[float, bool, str]]:
    """Per parameter of ``effect``: (error, within target, unit); those not measured are left out."""
    errors = {}
    for name, unit, fn in PARAMETERS.get(effect, []):
        try:
            err, ok = fn(truth, params)
        except KeyError:  # not measured (e.g. no span when nothing was found)
            continue
        errors[name] = (float(err), bool(ok), unit)
    return errors


def _params(finding: Finding) -> dict:
    params = dict(finding.parameters) | {"spans": finding.spans}
    if finding.spans:
        params["span_start_s"], params["span_end_s"] = finding.spans[0]
    return params


def _reestimated(effect: str, measured: dict, estimates: dict[str, list[float]]) -> dict:
    """``measured`` with the effect's estimates recomputed under ``estimates`` (dropped where not finite)."""
    out = dict(measured)
    for name, spec in ESTIMATES.items():
        if spec.effect == effect:
            out.pop(name, None)
            value = estimate(name, measured, estimates)
            if np.isfinite(value):
                out[name] = value
    return out


def redecide(
    rows: list[dict], thresholds: dict[str, float], estimates: dict[str, list[float]] | None = None
) -> list[dict]:
    """The rows with every detection re-decided from the stored measurements under ``thresholds``, and the
    estimated parameters (and their errors) recomputed under ``estimates``."""
    out = []
    for r in rows:
        measured = {e: _reestimated(e, m, estimates or {}) for e, m in r["measured"].items()}
        detected = {e: decide(e, measured[e], thresholds)[0] if e in RULES else d for e, d in r["detected"].items()}
        # errors read on more than the stored floats (e.g. spans) are not recomputed, so the stored ones stay
        errors = r["errors"] | parameter_errors(r["effect"], r["truth"], measured.get(r["effect"], {}))
        out.append({**r, "measured": measured, "detected": detected, "errors": errors})
    return out


def fit_estimates(rows: list[dict]) -> dict[str, list[float]]:
    """Per estimate, the least-squares coefficients over the cases of its effect (true value vs measurements)."""
    fitted = {}
    for name, spec in ESTIMATES.items():
        cases = [(r["measured"][spec.effect], r["truth"][name]) for r in rows if r["effect"] == spec.effect]
        if cases:
            fitted[name] = fit_estimate(name, cases)
    return fitted


def fit_thresholds(rows: list[dict]) -> dict[str, float]:
    """Per effect, the threshold that maximises detection F1 on these cases (see rules.fit_threshold)."""
    fitted = {}
    for effect in RULES:
        if effect in FIXED or not any(r["effect"] == effect for r in rows):
            continue
        positives = [r["measured"][effect] for r in rows if r["effect"] == effect]
        negatives = [
            r["measured"][effect]
            for r in rows
            if r["effect"] != effect and effect not in IMPLIES.get(r["effect"], set())
        ]
        fitted[effect] = fit_threshold(effect, positives, negatives)
    return fitted


def summarise(rows: Iterable[dict], effects: Iterable[str]) -> list[dict]:
    """Per effect: cases, TP/FP/FN, precision, recall, F1, and per parameter (over the detected cases) the median
    error and the share within target."""
    rows = list(rows)
    out = []
    for effect in effects:
        hits = [r for r in rows if r["effect"] == effect and r["detected"].get(effect)]
        tp = len(hits)
        fn = sum(1 for r in rows if r["effect"] == effect and not r["detected"].get(effect))
        fp = sum(
            1
            for r in rows
            if r["effect"] != effect and effect not in IMPLIES.get(r["effect"], set()) and r["detected"].get(effect)
        )
        p = tp / (tp + fp) if tp + fp else float("nan")
        rec = tp / (tp + fn) if tp + fn else float("nan")
        f1 = 2 * p * rec / (p + rec) if tp else 0.0
        params = {}
        for name, *_ in PARAMETERS.get(effect, []):
            errs = [r["errors"][name] for r in hits if name in r["errors"] and not np.isnan(r["errors"][name][0])]
            if errs:
                params[name] = {
                    "median_error": float(np.median([e[0] for e in errs])),
                    "unit": errs[0][2],
                    "within_target": float(np.mean([e[1] for e in errs])),
                    "n": len(errs),
                }
        out.append(
            {"effect": effect, "cases": tp + fn, "tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": rec, "f1": f1}
            | {"parameters": params}
        )
    return out
