"""When a detector says "detected": one threshold per effect on one measured statistic, plus fixed minimums; and
the parameters read as a linear function of measured statistics (estimates).

The rules and estimates are declarative so that ``audiowave eval --forensics`` can refit them from stored
measurements (on a development split of the generated cases) and score a held-out split with them. The
fitted values ship in ``audiowave/data/forensics-thresholds.json``; without it the defaults below apply.
The shipped ones were fitted on the corpus' stems as rendered (with the sound bank's reverb and chorus). Refitted
on the same development clips played dry (``eval --forensics``'s default since), they scored the held-out dry
cases worse (mean F1 over the effects 0.82 against 0.84): one development clip's dry organ reads as a filter sweep
and lifted that threshold (held-out F1 0.96 -> 0.59), so they were kept. The reverb's was refitted on the dry
development cases (2 seeds) when its statistic changed to the median over bands of the tail excess (see ``space``), the
chorus's and flanger's likewise when theirs changed to the swept delay's correlation along its path (see ``comb``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import scipy.special

THRESHOLDS_FILE = "forensics-thresholds.json"


@dataclass(frozen=True)
class Rule:
    statistic: str  # the parameter the threshold applies to
    default: float  # the threshold until one is fitted
    scale: float  # how far past the threshold confidence reaches ~0.73
    below: bool = False  # detected when the statistic is <= the threshold
    requires: tuple[tuple[str, float], ...] = ()  # other parameters with fixed minimums


RULES: dict[str, Rule] = {
    "sidechain": Rule("common_dip_db", 2.5, 0.5, requires=(("depth_db", 1.5),)),
    "compression": Rule("loud_level_spread_db", 3.2, 0.5, below=True),
    "limiting": Rule("frames_at_ceiling_pct", 4.0, 2.0),
    "clipping": Rule("clipped_runs_per_min", 30.0, 20.0),
    "distortion": Rule("in_cycle_crest_db", 7.0, 0.7, below=True),
    "bitcrush": Rule("effective_bits", 12.0, 0.5, below=True),
    "reverb": Rule("reverb_score", -15.0, 2.0),
    # a sharp repeat in every band, weighted by how much weaker it is at twice the lag; one as strong there is
    # the music repeating (a loop, a riff), not an echo dying away
    "delay": Rule("echo_score", 0.06, 0.02, requires=(("repeat_drop", 0.4),)),
    # a straight glide that makes a fair share of the cutoff's travel over the clip (see sweeps.py)
    "filter_sweep": Rule("cutoff_range_octaves", 2.6, 0.3, requires=(("linearity_r2", 0.75), ("glide_share", 0.15))),
    # a swept delay's path that the signal follows (its correlation along the path against the path shifted, in robust
    # z), swinging more than the depth search's lowest three steps (0.50, 0.59, 0.68 ms): a path that shallow is a
    # still line the held-line filter left, not an LFO's sweep (see comb.py). The chorus's along the path refined (a
    # long, fast sweep found slightly off leaves the path within a segment); the flanger's along the path as found (its
    # short sweep is found close enough, and refining lifts paths through clips with no flanger: see comb.py); the
    # chorus's path is the lag correlogram's where that reads higher (comb.chorus_track)
    "chorus": Rule("refined_path_z", 9.1, 2.0, requires=(("delay_above_flanger_ms", 0.0), ("depth_ms", 0.7))),
    "flanger": Rule("path_z", 4.0, 1.0, requires=(("delay_below_flanger_ms", 0.0), ("depth_ms", 0.7))),
    "phaser": Rule("alignment_ratio", 5.0, 2.0, requires=(("swing_octaves", 0.75),)),
    # the line score less its 2x/3x harmonics; a level that rises as fast as it falls (|slope skewness| <= 1)
    "tremolo": Rule("lfo_score", 7.0, 4.0, requires=(("symmetry", 0.5),)),
    "vibrato": Rule("line_score", 0.01, 0.5, requires=(("measured_depth_cents", 8.0),)),
    "tape_stop": Rule("fall_x_drift", 1.0, 0.3, requires=(("steadiness", 0.3), ("edges_fall_s", 0.5))),
    "glide": Rule("glides", 1.0, 1.0),
    # by definition: what counts as off the A440 standard, and clearly more than the partials' own scatter
    "tuning": Rule("abs_cents", 10.0, 3.0, requires=(("offset_over_spread", 2.0),)),
    "band_limit": Rule("cliff_db", 25.0, 4.0),
}
FIXED = {"tuning"}  # thresholds that are definitions, not fitted


@dataclass(frozen=True)
class LinearEstimate:
    """A parameter of ``effect`` read as intercept + sum(weight x statistic) of the detector's measurements."""

    effect: str
    statistics: tuple[str, ...]
    default: tuple[float, ...]  # the intercept, then one weight per statistic, until fitted


ESTIMATES: dict[str, LinearEstimate] = {
    # the reverb's return relative to the dry signal (dB): more decorrelated L/R, slower fastest falls = wetter
    "wet_db": LinearEstimate("reverb", ("diffuseness", "fastest_fall_db_per_s"), (-0.26, 13.6, -0.089)),
    # the vibrato's depth (cents) from the pitch-drift line's, which reads a few cents short
    "depth_cents": LinearEstimate("vibrato", ("measured_depth_cents",), (5.27, 1.009)),
}


@cache
def _shipped() -> dict:
    """The shipped fitted values (empty when none were fitted)."""
    path = resources.files("audiowave") / "data" / THRESHOLDS_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


@cache
def fitted_thresholds() -> dict[str, float]:
    """The shipped fitted thresholds (empty when none were fitted)."""
    return {k: float(v) for k, v in _shipped().get("thresholds", {}).items()}


def estimate(name: str, params: dict, overrides: dict[str, list[float]] | None = None) -> float:
    """The estimate ``name`` from measured ``params`` (NaN when a statistic it reads is missing or not finite)."""
    spec = ESTIMATES[name]
    coefficients = (overrides or {}).get(name) or _shipped().get("estimates", {}).get(name) or spec.default
    values = np.array([float(params.get(s, np.nan)) for s in spec.statistics])
    return float(coefficients[0] + np.dot(coefficients[1:], values)) if np.all(np.isfinite(values)) else float("nan")


def fit_estimate(name: str, cases: list[tuple[dict, float]]) -> list[float]:
    """Least-squares coefficients of the estimate ``name`` over (measured params, true value) pairs; the defaults
    unless more cases than coefficients have every statistic measured."""
    spec = ESTIMATES[name]
    rows = [([float(p.get(s, np.nan)) for s in spec.statistics], truth) for p, truth in cases]
    rows = [(x, y) for x, y in rows if np.all(np.isfinite(x))]
    if len(rows) <= len(spec.statistics) + 1:
        return list(spec.default)
    design = np.array([[1.0, *x] for x, _ in rows])
    return [float(c) for c in np.linalg.lstsq(design, np.array([y for _, y in rows]), rcond=None)[0]]


def threshold(effect: str, overrides: dict[str, float] | None = None) -> float:
    rule = RULES[effect]
    return (overrides or {}).get(effect, fitted_thresholds().get(effect, rule.default))


def decide(effect: str, params: dict, overrides: dict[str, float] | None = None) -> tuple[bool, float]:
    """(detected, confidence) for measured ``params`` under the effect's rule."""
    rule = RULES[effect]
    value = params.get(rule.statistic)
    if not isinstance(value, float | int) or not np.isfinite(value):
        return False, 0.0
    margin = (threshold(effect, overrides) - value) if rule.below else (value - threshold(effect, overrides))
    met = all(float(params.get(name, -np.inf)) >= minimum for name, minimum in rule.requires)
    confidence = float(scipy.special.expit(margin / rule.scale))  # logistic, without exp's overflow
    return bool(margin >= 0 and met), confidence if met else min(confidence, 0.4)


def fit_threshold(effect: str, positives: list[dict], negatives: list[dict]) -> float:
    """The threshold on the effect's statistic that maximises F1 over measured cases (fixed minimums kept): the
    measured value that passes last, moved a hair (a millionth) outward so that float rounding cannot flip it."""
    rule = RULES[effect]
    values = sorted({float(p[rule.statistic]) for p in positives + negatives if rule.statistic in p})
    best, best_f1 = rule.default, -1.0
    for t in values:
        o = {effect: t}
        tp = sum(decide(effect, p, o)[0] for p in positives)
        fp = sum(decide(effect, p, o)[0] for p in negatives)
        f1 = 2 * tp / (2 * tp + fp + (len(positives) - tp)) if positives else 0.0
        if f1 > best_f1:
            best, best_f1 = t, f1
    if best_f1 < 0:
        return best
    hair = 1e-6 * max(abs(best), 1.0)
    return best + hair if rule.below else best - hair
