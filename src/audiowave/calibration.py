"""Confidence calibration: per label, isotonic maps from reported confidence to the observed share correct.

Outcomes (a reported confidence and whether it was right) come from the dev-corpus evaluation
(``audiowave eval`` writes them to metrics.json) and from users' feedback (``POST /v1/feedback``). A map is
fitted per ``kind:label`` where there are enough outcomes of both kinds, else per ``kind``; labels without
either keep their raw confidence. ``audiowave calibrate`` fits and installs ``<home>/calibration.json``; the
pipeline applies it to tempo, key, instrument, technique and sample confidences. ECE is the expected
calibration error (10 equal-width bins).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.isotonic import IsotonicRegression

from audiowave.families import scored_name
from audiowave.schema import AnalysisResult

MIN_OUTCOMES = 20
BIN_SIZE = 10
BINS = 10


@dataclass(frozen=True)
class Outcome:
    kind: str  # tempo, key, instrument, effect, sample
    label: str  # e.g. the instrument family; "" for tempo/key
    confidence: float
    correct: bool
    origin: str = "dev-corpus"  # or "feedback"


def ece(confidences: Iterable[float], correct: Iterable[bool], bins: int = BINS) -> float:
    c = np.asarray(list(confidences), dtype=float)
    y = np.asarray(list(correct), dtype=float)
    if len(c) == 0:
        return float("nan")
    idx = np.minimum((c * bins).astype(int), bins - 1)
    return float(
        sum(abs(c[idx == b].mean() - y[idx == b].mean()) * np.sum(idx == b) for b in range(bins) if np.any(idx == b))
        / len(c)
    )


@dataclass
class Calibration:
    maps: dict[str, dict]  # key ("kind" or "kind:label") -> {"x": [...], "y": [...], "n": int, "origins": {...}}
    fitted_at: str = ""

    @classmethod
    def fit(cls, outcomes: Iterable[Outcome]) -> Calibration:
        groups: dict[str, list[Outcome]] = defaultdict(list)
        for o in outcomes:
            groups[o.kind].append(o)
            if o.label:
                groups[f"{o.kind}:{o.label}"].append(o)
        maps = {}
        for key, group in groups.items():
            y = np.array([o.correct for o in group], dtype=float)
            if len(group) < MIN_OUTCOMES or y.min() == y.max():
                continue
            x = np.array([o.confidence for o in group], dtype=float)
            # isotonic over quantile bins of >= BIN_SIZE outcomes: no single lucky outcome sets an end of the map
            order = np.argsort(x, kind="stable")
            bins = np.array_split(order, max(1, len(x) // BIN_SIZE))
            bx = np.array([x[b].mean() for b in bins])
            by = np.array([y[b].mean() for b in bins])
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            iso.fit(bx, by, sample_weight=[len(b) for b in bins])
            origins: dict[str, int] = defaultdict(int)
            for o in group:
                origins[o.origin] += 1
            maps[key] = {
                "x": iso.X_thresholds_.tolist(),
                "y": iso.y_thresholds_.tolist(),
                "n": len(group),
                "origins": dict(origins),
            }
        return cls(maps, datetime.now(UTC).isoformat(timespec="seconds"))

    def apply(self, kind: str, label: str, confidence: float) -> float:
        m = self.maps.get(f"{kind}:{label}") or self.maps.get(kind)
        if m is None:
            return confidence
        return float(np.clip(np.interp(confidence, m["x"], m["y"]), 0.0, 1.0))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"fitted_at": self.fitted_at, "maps": self.maps}, indent=1))

    @classmethod
    def load(cls, path: Path) -> Calibration | None:
        if not path.exists():
            return None
        doc = json.loads(path.read_text())
        return cls(doc["maps"], doc.get("fitted_at", ""))

    def describe(self) -> str:
        n = sum(m["n"] for k, m in self.maps.items() if ":" not in k)
        return f"isotonic per label, {len(self.maps)} maps from {n} outcomes, fitted {self.fitted_at}"


def confidence_items(result: AnalysisResult) -> Iterator[tuple[str, str, str, object, str]]:
    """(key, kind, label, holder, attribute) of every confidence in a result; the key names it for feedback."""
    if result.tempo:
        yield "tempo", "tempo", "", result.tempo, "confidence"
    if result.key:
        yield "key", "key", "", result.key, "confidence"
    for inst in result.instruments:
        name = scored_name(inst.label, inst.family)  # per family, and per kind for a kind within a family
        yield f"instrument:{inst.label}@{inst.source}", "instrument", name, inst, "confidence"
    for t in result.forensics.techniques if result.forensics else []:
        yield f"effect:{t.effect}@{t.source}", "effect", t.effect, t, "confidence"
    for m in result.samples.matches if result.samples else []:
        yield f"sample:{m.name}", "sample", "", m, "confidence"


def calibrate_result(result: AnalysisResult, cal: Calibration) -> None:
    """Calibrate every confidence of ``result`` in place, keeping the raw ones in ``raw_confidences``."""
    for key, kind, label, holder, attr in confidence_items(result):
        raw = getattr(holder, attr)
        result.raw_confidences[key] = raw
        setattr(holder, attr, cal.apply(kind, label, raw))
    result.calibration = cal.describe()


def outcomes_of_row(row: dict) -> list[Outcome]:
    """The outcomes recorded in one ``audiowave eval`` metrics row (its ``confidences`` list)."""
    return [Outcome(k, label, float(c), bool(ok)) for k, label, c, ok in row.get("confidences", [])]


def cross_fitted_ece(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per kind: ECE of the raw confidences and of confidences calibrated on the other half of the clips."""
    halves = [rows[0::2], rows[1::2]]
    raw: dict[str, list[Outcome]] = defaultdict(list)
    calibrated: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    for i, half in enumerate(halves):
        cal = Calibration.fit(o for r in halves[1 - i] for o in outcomes_of_row(r))
        for o in (o for r in half for o in outcomes_of_row(r)):
            raw[o.kind].append(o)
            calibrated[o.kind].append((cal.apply(o.kind, o.label, o.confidence), o.correct))
    return {
        kind: {
            "n": len(outs),
            "accuracy": float(np.mean([o.correct for o in outs])),
            "ece_raw": ece([o.confidence for o in outs], [o.correct for o in outs]),
            "ece_calibrated": ece([c for c, _ in calibrated[kind]], [ok for _, ok in calibrated[kind]]),
        }
        for kind, outs in raw.items()
    }
