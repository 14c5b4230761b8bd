"""Parameter search: CMA-ES (the ``cma`` package) over a patch's continuous settings within a time budget.

A :class:`Knob` maps one patch field to [0, 1] (log scale for times and frequencies), so the search
works on a unit cube; discrete choices (shape, source, unison count, which effects) stay fixed here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import cma
import numpy as np

from audiowave.recipes.patch import GLIDE_SEMITONES, GLIDE_TIME_S, Patch

SIGMA0 = 0.1  # CMA-ES step size in unit-cube coordinates, which each knob's initial step (_steps) scales
PROBE = 0.01  # step either way that measures how much a knob moves the loss
STEP_LOSS = 0.02  # loss change that a knob's initial step aims at
MIN_STEP, MAX_STEP = 0.003, 0.2
# A measured glide (a drum body's zero crossings, median error 0.03 st) is searched only this close to itself: the
# loss hardly tells one drop from another, and a free search wandered up to 18 st away from a drop measured 2 st off.
MEASURED_GLIDE_ST = 2.0
MEASURED_GLIDE_TIME = 1.5  # times its time constant either way


@dataclass(frozen=True)
class Knob:
    path: str  # dotted path into the patch dict, list indices as numbers: "oscillators.0.unison_detune_cents"
    low: float
    high: float
    log: bool = False

    def to_unit(self, value: float) -> float:
        v = float(np.clip(value, self.low, self.high))
        if self.log:
            return float(np.log(v / self.low) / np.log(self.high / self.low))
        return (v - self.low) / (self.high - self.low)

    def from_unit(self, u: float) -> float:
        u = float(np.clip(u, 0.0, 1.0))
        if self.log:
            return float(self.low * (self.high / self.low) ** u)
        return float(self.low + u * (self.high - self.low))


def _get(d: dict, path: str):
    for part in path.split("."):
        d = d[int(part)] if isinstance(d, list) else d[part]
    return d


def _set(d: dict, path: str, value: float) -> None:
    *head, last = path.split(".")
    for part in head:
        d = d[int(part)] if isinstance(d, list) else d[part]
    if isinstance(d, list):
        d[int(last)] = value
    else:
        d[last] = value


EFFECT_KNOBS = {
    "distortion": (("drive_db", 0.0, 40.0, False),),
    "reverb": (("room_size", 0.0, 1.0, False), ("wet_level", 0.0, 1.0, False)),
    "delay": (("feedback", 0.0, 0.9, False), ("mix", 0.0, 1.0, False)),
    "chorus": (("rate_hz", 0.05, 10.0, True), ("depth", 0.0, 1.0, False), ("mix", 0.0, 1.0, False)),
    "phaser": (("rate_hz", 0.05, 10.0, True), ("depth", 0.0, 1.0, False), ("mix", 0.0, 1.0, False)),
    "compressor": (("threshold_db", -40.0, 0.0, False), ("ratio", 1.0, 20.0, True)),
    "bitcrush": (("bit_depth", 2.0, 16.0, False),),
}


def knobs_for(patch: Patch, length_s: float, glide_measured: bool = False) -> list[Knob]:
    """The continuous settings worth searching for this patch; with ``glide_measured`` its pitch envelope stays
    near the measured one (MEASURED_GLIDE_ST, MEASURED_GLIDE_TIME)."""
    glide = patch.pitch
    if glide_measured:
        # near it, and within the patch's limits (a search outside them fails validation)
        semitones = np.clip(
            (glide.semitones - MEASURED_GLIDE_ST, glide.semitones + MEASURED_GLIDE_ST), *GLIDE_SEMITONES
        )
        time_s = np.clip((glide.time_s / MEASURED_GLIDE_TIME, glide.time_s * MEASURED_GLIDE_TIME), *GLIDE_TIME_S)
    else:
        semitones, time_s = (-24.0, 36.0), (0.002, 1.0)
    knobs = [
        Knob("note_midi", patch.note_midi - 0.25, patch.note_midi + 0.25),
        Knob("duration_s", 0.01, max(length_s, 0.02), log=True),
        Knob("amp.attack_s", 0.0005, 2.0, log=True),
        Knob("amp.decay_s", 0.005, 10.0, log=True),
        Knob("amp.sustain", 0.0, 1.0),
        Knob("amp.release_s", 0.005, 5.0, log=True),
        Knob("pitch.semitones", *semitones),
        Knob("pitch.time_s", *time_s, log=True),
    ]
    if patch.filter.type != "off":
        knobs += [
            Knob("filter.cutoff_hz", 30.0, 18000.0, log=True),
            Knob("filter.resonance", 0.0, 0.95),
            Knob("filter.env_octaves", -2.0, 7.0),
            Knob("filter.envelope.decay_s", 0.005, 10.0, log=True),
            Knob("filter.envelope.sustain", 0.0, 1.0),
        ]
    for i, osc in enumerate(patch.oscillators):
        if osc.unison > 1:
            knobs.append(Knob(f"oscillators.{i}.unison_detune_cents", 0.0, 80.0))
        if i > 0:
            knobs.append(Knob(f"oscillators.{i}.level", 0.0, 1.0))
    if patch.noise_level > 0:
        knobs.append(Knob("noise_level", 0.0, 1.0))
    if patch.noise is not None:
        knobs += [
            Knob("noise.level", 0.005, 1.0, log=True),
            Knob("noise.filter.cutoff_hz", 100.0, 18000.0, log=True),
            Knob("noise.filter.resonance", 0.0, 0.9),
            Knob("noise.envelope.attack_s", 0.0005, 0.2, log=True),
            Knob("noise.envelope.decay_s", 0.005, 5.0, log=True),
        ]
    if patch.fm is not None:
        knobs += [Knob("fm.index", 0.0, 15.0), Knob("fm.index_decay_s", 0.005, 10.0, log=True)]
    for i, effect in enumerate(patch.fx):
        knobs += [Knob(f"fx.{i}.params.{name}", lo, hi, log) for name, lo, hi, log in EFFECT_KNOBS[effect.kind]]
    return knobs


def apply(patch: Patch, knobs: list[Knob], unit: np.ndarray) -> Patch:
    d = patch.model_dump()
    for knob, u in zip(knobs, unit, strict=True):
        _set(d, knob.path, knob.from_unit(u))
    return Patch.model_validate(d)


def encode(patch: Patch, knobs: list[Knob]) -> np.ndarray:
    d = patch.model_dump()
    return np.array([k.to_unit(_get(d, k.path)) for k in knobs])


@dataclass
class SearchResult:
    patch: Patch
    loss: float
    start_loss: float
    evaluations: int
    seconds: float


def refine(
    patch: Patch,
    loss: Callable[[Patch], float],
    length_s: float,
    budget_s: float,
    seed: int = 1,
    max_evaluations: int | None = None,
    glide_measured: bool = False,
) -> SearchResult:
    """CMA-ES from ``patch``, each knob's initial step scaled to how much it moves the loss (:func:`_steps`), until
    ``budget_s`` has passed, ``max_evaluations`` renderings are scored (checked between generations) or the search
    converges. ``glide_measured``: the patch's pitch envelope was measured, search only near it."""
    started = time.monotonic()
    knobs = knobs_for(patch, length_s, glide_measured)
    x0 = encode(patch, knobs)
    start_loss = best_loss = loss(patch)
    best, evaluations = patch, 1

    def score(x: np.ndarray) -> float:
        nonlocal best, best_loss, evaluations
        candidate = apply(patch, knobs, x)
        value = loss(candidate)
        evaluations += 1
        if value < best_loss:
            best, best_loss = candidate, value
        return value

    limit = max_evaluations or np.inf

    def spent() -> bool:
        return time.monotonic() - started >= budget_s or evaluations >= limit

    steps = _steps(x0, start_loss, score, spent)
    es = cma.CMAEvolutionStrategy(
        x0,
        SIGMA0,
        {
            "bounds": [0.0, 1.0],
            "seed": seed,
            "verbose": -9,
            "tolfun": 1e-5,
            "tolx": 1e-5,
            "CMA_stds": steps / SIGMA0,
        },
    )
    while not es.stop() and not spent():
        xs = es.ask()
        es.tell(xs, [score(x) for x in xs])
    return SearchResult(best, best_loss, start_loss, evaluations, time.monotonic() - started)


def _steps(x0: np.ndarray, base: float, score: Callable[[np.ndarray], float], spent: Callable[[], bool]) -> np.ndarray:
    """Initial CMA-ES step per knob (unit coordinates): the step that would move the loss by about ``STEP_LOSS``
    if it rose as a parabola through the larger change that a ``PROBE`` step either way makes (2 renderings a knob);
    SIGMA0 for the knobs left once the budget is ``spent``.

    One step for all (SIGMA0) let the most sensitive knob rule: on one FM one-shot a 0.01 step of the held time
    moved the loss by 0.02-0.03, most knobs by under 0.001, so for 500 renderings no sample beat the first guess on 9 of
    the 30 one-shots of ``eval --recipes``; scaled steps leave 1 unimproved (mean similarity 0.891 -> 0.904 on
    them; on another 30, seed 1: 0.890 -> 0.898, 13 -> 1 unimproved; targets 0.002-0.05 all gave 0.900-0.904)."""
    out = np.full(len(x0), SIGMA0)
    for k, u in enumerate(x0):
        if spent():
            break
        change = 0.0
        for sign in (-1, 1):
            x = x0.copy()
            x[k] = np.clip(u + sign * PROBE, 0.0, 1.0)
            if x[k] != u:
                change = max(change, abs(score(x) - base))
        out[k] = np.clip(PROBE * np.sqrt(STEP_LOSS / max(change, 1e-9)), MIN_STEP, MAX_STEP)
    return out
