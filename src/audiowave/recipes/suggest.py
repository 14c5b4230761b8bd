"""``suggest``: from audio to a verified recipe.

Measure the sound at SEARCH_SR (content up to 11 kHz, where the scores are taken), render every first
guess and keep the closest, try discrete variants (unison, effects, the forensics stage's hints), refine
the two best by CMA-ES within the time budget, then score the winner against the original (spectral,
envelope, pitch) and render it at full rate as the preview.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import soxr

from audiowave import __version__
from audiowave.errors import InputError
from audiowave.recipes import estimate
from audiowave.recipes.describe import steps
from audiowave.recipes.distance import Target, pitch_distance
from audiowave.recipes.measure import measure
from audiowave.recipes.patch import Effect, Envelope, Filter, NoiseLayer, Patch
from audiowave.recipes.refine import refine
from audiowave.recipes.result import Candidate, Recipe, RecipeScores, SearchInfo, Span
from audiowave.recipes.sampled import SampledCandidate, sample_candidate, similar_candidates
from audiowave.recipes.synth import noise_layer, render
from audiowave.samples.identify import LocalSampleMatcher
from audiowave.schema import BackendInfo

SEARCH_SR = 22050
MAX_SPAN_S = 6.0
MIN_SPAN_S = 0.05
SILENCE_DB = -60.0
VERIFY_RESERVE_S = 1.0  # least time kept out of the search budget for the final renders and pitch scoring
PREVIEW_SR = 44100
# soxr's passband is flat to ~0.95 of the lower rate's Nyquist, then falls by 30 dB within 0.98 (measured on noise)
RESAMPLED_PASSBAND = 0.94
NOISE_LAYERS = ((0.2, 1500.0), (0.6, 1500.0), (0.2, 5000.0), (0.6, 5000.0))  # screened (level, band centre Hz)
NOISE_BANDS = tuple(
    Filter(type=kind, cutoff_hz=hz, resonance=0.2)
    for kind, hz in (
        ("bandpass", 1500.0),
        ("bandpass", 3000.0),
        ("bandpass", 6000.0),
        ("highpass", 1000.0),
        ("highpass", 3000.0),
    )
)
# the share of energy between the partials (Measurements.noisiness) from which a noise layer is worth trying:
# 0.000-0.002 on clean synth one-shots, 0.05-0.6 on drums with noise, 0.14-0.4 on real kicks, toms and snares
NOISY = 0.02
DRUM_FALL_ST = 3.0  # a body measured falling this far onto its note is a drum's (or an 808's)
Progress = Callable[[str, float], None]

BACKEND = BackendInfo(
    name="audiowave-recipes",
    version=__version__,
    model="own wavetable/FM/drum synth + pedalboard effects; CMA-ES refinement",
    licence="Apache-2.0",
    note="signal processing and search; no learned model",
)


@dataclass
class Suggestion:
    recipe: Recipe
    original: np.ndarray  # mono, at ``sample_rate``
    preview: np.ndarray
    sample_rate: int


def _unison(patch: Patch) -> list[Patch]:
    if patch.source not in ("subtractive", "wavetable") or not patch.oscillators or patch.oscillators[0].unison > 1:
        return []
    p = patch.model_copy(deep=True)
    p.oscillators[0].unison, p.oscillators[0].unison_detune_cents = 5, 20.0
    return [p]


def _with_effect(patch: Patch, effect: Effect) -> list[Patch]:
    if any(e.kind == effect.kind for e in patch.fx):
        return []
    if effect.kind == "distortion" and patch.source == "wavetable":  # a measured cycle already holds it
        return []
    return [patch.model_copy(update={"fx": [*patch.fx, effect]}, deep=True)]


def _with_noise_layer(patch: Patch, noisy: bool) -> list[Patch]:
    """A drum body without noise, or other oscillators when the original is ``noisy``: with a noise layer of their
    own (NOISE_LAYERS). With a layer: the layer through each of NOISE_BANDS instead, at the loudness it has now (a
    band keeps a fraction of white noise's power, and the loss rose 0.24 -> 0.46 for a band at the level of the
    unfiltered noise it replaced)."""
    if not patch.oscillators or (patch.noise is None and not noisy and patch.source != "drum"):
        return []
    if patch.noise is None:
        layers = [
            NoiseLayer(
                level=level,
                filter=Filter(type="bandpass", cutoff_hz=hz, resonance=0.2),
                envelope=Envelope(attack_s=0.001, decay_s=0.15, sustain=0.0, release_s=0.05),
            )
            for level, hz in NOISE_LAYERS
        ]
    else:
        n = int((patch.duration_s + patch.noise.envelope.release_s) * SEARCH_SR)
        now = _rms(noise_layer(patch.noise, patch.duration_s, n, SEARCH_SR))
        layers = [_at_rms(patch.noise.model_copy(update={"filter": f}), now, patch.duration_s, n) for f in NOISE_BANDS]
    return [patch.model_copy(update={"noise": layer}, deep=True) for layer in layers]


def _at_rms(layer: NoiseLayer, rms: float, hold_s: float, n: int) -> NoiseLayer:
    """``layer`` at ``rms`` over ``n`` samples at SEARCH_SR for a key held ``hold_s`` (its level at most 1)."""
    new = _rms(noise_layer(layer, hold_s, n, SEARCH_SR))
    return layer.model_copy(update={"level": float(min(1.0, layer.level * rms / max(new, 1e-12)))})


def noise_as_layer(patch: Patch) -> Patch:
    """``patch`` with the noise under its oscillators turned into a layer through a copy of their filter and amplifier
    envelope: the same sound (both are linear), which the search can then give its own band and decay."""
    if not patch.oscillators or patch.noise_level == 0:
        return patch
    layer = NoiseLayer(level=patch.noise_level, filter=patch.filter, envelope=patch.amp)
    return patch.model_copy(update={"noise_level": 0.0, "noise": layer}, deep=True)


def _with_best_variants(patch: Patch, patch_loss: float, hints: Sequence[Effect], loss, noisy: bool) -> Patch:
    """Try discrete changes one after another (unison, a noise layer, the forensics hints, reverb, distortion),
    keeping the best of each change's variants where it lowers the loss by more than 1 %. A noise layer is tried on
    synth oscillators without noise only where the original is ``noisy``: on clean synth notes (noisiness <= 0.002)
    a layer lowered the loss by 1-14 % standing in for other mismatches, a noise that the original does not hold.
    Drum bodies always try one: a burst of noise shorter than the frame that measures noisiness goes unseen."""
    effects = [
        *hints,
        Effect(kind="reverb", params={"room_size": 0.5, "wet_level": 0.25, "dry_level": 0.8}),
        Effect(kind="distortion", params={"drive_db": 15.0}),
    ]
    changes = [_unison, lambda p: _with_noise_layer(p, noisy), *(lambda p, e=e: _with_effect(p, e) for e in effects)]
    patch = noise_as_layer(patch)
    for change in changes:
        for variant in change(patch):
            v = loss(variant)
            if v < patch_loss * 0.99:
                patch, patch_loss = variant, v
    return patch


def at_rate(audio: np.ndarray, sr: int, rate: int) -> np.ndarray:
    """``audio`` (mono) at ``rate`` Hz."""
    return soxr.resample(audio, sr, rate) if sr != rate else audio


def faithful_hz(sr: int) -> float:
    """Up to where an original recorded at ``sr`` still holds its content once at SEARCH_SR: the whole band when it
    needs no resampling, else the resampler's passband below the lower of the two rates' Nyquist frequencies. Above
    it a rendering has content that the original lost, which scored a noisy drum's true patch 0.65 instead of 0.69
    and would push the search to darker patches for an original below SEARCH_SR."""
    return SEARCH_SR / 2 if sr == SEARCH_SR else RESAMPLED_PASSBAND * min(sr, SEARCH_SR) / 2


def search_target(span: np.ndarray, sr: int) -> tuple[np.ndarray, Target]:
    """``span`` (mono, at ``sr``) at SEARCH_SR, and the :class:`Target` that scores renderings against it up to
    :func:`faithful_hz`: how ``suggest`` compares every candidate, and how the eval scores the true patch."""
    x = at_rate(span, sr, SEARCH_SR)
    return x, Target(x, SEARCH_SR, top_hz=faithful_hz(sr))


def finalist_indices(sources: Sequence[str], drum_body: bool) -> list[int]:
    """Which of the first guesses (sorted best first) the search refines: the two best; when a body was measured
    falling onto its note (``drum_body``), the best drum guess takes the second place if neither is a drum.
    Unrefined, a drum guess lacking the distortion or reverb of its sound could lose to another kind's: on 18 drum
    one-shots (3 seeds) 4 ended as subtractive, FM or wavetable recipes; refined, none did (mean similarity
    0.828 -> 0.844)."""
    chosen = list(range(min(2, len(sources))))
    drums = [i for i, source in enumerate(sources) if source == "drum"]
    if drum_body and drums and not any(sources[i] == "drum" for i in chosen):
        chosen[-1] = drums[0]
    return chosen


def prepare(audio: np.ndarray, sr: int, start_s: float | None, end_s: float | None) -> tuple[np.ndarray, float, float]:
    """Mono span, trimmed of leading/trailing silence, at most MAX_SPAN_S; raises InputError when unusable."""
    mono = np.asarray(audio, dtype=np.float64)
    mono = mono.mean(axis=0) if mono.ndim == 2 else mono
    total = len(mono) / sr
    start = 0.0 if start_s is None else float(start_s)
    end = total if end_s is None else min(float(end_s), total)
    if start < 0 or start >= total:
        raise InputError(f"the span must start between 0 and {total:.2f} s (the audio's length), not at {start:.2f} s")
    if end <= start:
        raise InputError(f"the span's end ({end:.2f} s) must come after its start ({start:.2f} s)")
    span = mono[int(start * sr) : int(end * sr)]
    if not np.any(span):
        raise InputError("the span is silent: nothing to recreate")
    level = 20 * np.log10(np.maximum(np.abs(span), 1e-12))
    loud = np.flatnonzero(level > level.max() + SILENCE_DB)
    first, last = int(loud[0]), int(loud[-1]) + 1
    span = span[first : min(last, first + int(MAX_SPAN_S * sr))]
    if len(span) < MIN_SPAN_S * sr:
        raise InputError(f"the sound lasts under {MIN_SPAN_S * 1000:.0f} ms: too short to recreate")
    return span, start + first / sr, start + first / sr + len(span) / sr


def suggest(
    audio: np.ndarray,
    sr: int,
    start_s: float | None = None,
    end_s: float | None = None,
    stem: str = "",
    budget_s: float = 10.0,
    fx_hints: Sequence[Effect] = (),
    progress: Progress | None = None,
    sample_matcher: LocalSampleMatcher | None = None,
    max_evaluations: int | None = None,
) -> Suggestion:
    """Recipe for ``audio`` (channels, n) or (n,) at ``sr`` (its span ``start_s``-``end_s``). With a
    ``sample_matcher`` the library sample found in the span and the library's nearest by timbre compete with the
    synth recipes. ``max_evaluations`` bounds the searches by renderings as well as by time (shared as the time
    is), which makes a recipe the same from run to run and machine to machine when the time is not what stops it."""
    report = progress or (lambda _stage, _fraction: None)
    started = time.monotonic()
    span, t0, t1 = prepare(audio, sr, start_s, end_s)
    report("measure", 0.0)
    x, target = search_target(span, sr)
    length_s = len(x) / SEARCH_SR
    measured_at = time.monotonic()
    m = measure(x, SEARCH_SR)
    reserve = max(VERIFY_RESERVE_S, 1.5 * (time.monotonic() - measured_at))  # verification tracks pitch twice more

    def loss(p: Patch) -> float:
        return target.loss(render(p, SEARCH_SR, length_s))

    report("screen", 0.1)
    scored = sorted(((loss(p), p) for p in estimate.candidates(m)), key=lambda lp: lp[0])
    candidates = [Candidate(source=p.source, loss=round(v, 4)) for v, p in scored]
    initial = scored[0][1]
    sampled, sampled_loss, sampled_x = _best_sampled(span, sr, sample_matcher, target)
    if sampled is not None:
        candidates.append(Candidate(source="sample", loss=round(sampled_loss, 4), sample=sampled.patch.sample))
    falls = m.body is not None and m.body.semitones >= DRUM_FALL_ST
    chosen = finalist_indices([p.source for _, p in scored], drum_body=falls)
    noisy = m.noisiness >= NOISY
    finalists = [_with_best_variants(scored[i][1], scored[i][0], fx_hints, loss, noisy) for i in chosen]
    remaining = max(0.5, budget_s - reserve - (time.monotonic() - started))
    searches = []
    for share, patch in zip((0.65, 0.35), finalists, strict=False):
        report(f"refine {patch.source}", 0.2 + 0.7 * len(searches) / len(finalists))
        evaluations = round(max_evaluations * share) if max_evaluations else None
        glide_measured = estimate.starts_from_measured_glide(patch, m)
        searches.append(
            refine(patch, loss, length_s, remaining * share, max_evaluations=evaluations, glide_measured=glide_measured)
        )
    for i, search in zip(chosen, searches, strict=False):
        candidates[i].refined_loss = round(search.loss, 4)
    best = min(searches, key=lambda s: s.loss)
    report("verify", 0.9)
    original = at_rate(span, sr, PREVIEW_SR)
    if sampled is not None and sampled_loss <= best.loss:
        patch = sampled.patch
        preview = _matched(at_rate(sampled.audio, sr, PREVIEW_SR), original)
        found = sampled_x
    else:
        patch = best.patch
        preview = _matched(render(patch, PREVIEW_SR, len(original) / PREVIEW_SR), original)
        found = render(patch, SEARCH_SR, length_s)
    first = render(initial, SEARCH_SR, length_s)
    pitch = pitch_distance(m.f0_track, found, SEARCH_SR) if m.pitched else None
    first_pitch = pitch_distance(m.f0_track, first, SEARCH_SR) if m.pitched else None
    recipe = Recipe(
        backend=BACKEND,
        span=Span(start_s=round(t0, 4), end_s=round(t1, 4), stem=stem),
        patch=patch,
        steps=steps(patch),
        initial=RecipeScores.of(target.scores(first, pitch=first_pitch)),
        refined=RecipeScores.of(target.scores(found, pitch=pitch)),
        candidates=candidates,
        search=SearchInfo(
            evaluations=sum(s.evaluations for s in searches),
            seconds=round(time.monotonic() - started, 2),
            budget_s=budget_s,
        ),
        level_dbfs=round(20 * np.log10(max(_rms(original), 1e-12)), 2),
    )
    report("verify", 1.0)
    return Suggestion(recipe, original.astype(np.float32), preview, PREVIEW_SR)


def _best_sampled(
    span: np.ndarray, sr: int, matcher: LocalSampleMatcher | None, target: Target
) -> tuple[SampledCandidate | None, float, np.ndarray]:
    """The sample-based candidate closest to ``target`` (the identified sample or one of the nearest by timbre), its
    loss and its audio at SEARCH_SR; (None, inf, empty) without an index or when it offers none."""
    best: tuple[SampledCandidate | None, float, np.ndarray] = (None, np.inf, np.zeros(0))
    if matcher is None:
        return best
    found, match = sample_candidate(span, sr, matcher)
    exclude = {f.meta["key"] for f in ([match, *match.alternatives] if match else [])}
    for c in [found, *similar_candidates(span, sr, matcher, exclude)]:
        if c is None:
            continue
        x = at_rate(c.audio, sr, SEARCH_SR)
        if (v := target.loss(x)) < best[1]:
            best = (c, v, x)
    return best


def _rms(a: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(a, dtype=np.float64) ** 2)))


def _matched(rendering: np.ndarray, original: np.ndarray) -> np.ndarray:
    """The rendering at the original's RMS level (peak kept under 0 dBFS)."""
    y = rendering * (_rms(original) / max(_rms(rendering), 1e-12))
    peak = float(np.max(np.abs(y)))
    return (y * (0.99 / peak if peak > 0.99 else 1.0)).astype(np.float32)
