"""Entry points for the CLI and the job worker: a file (and span, stem) in, recipe files out."""

from __future__ import annotations

from pathlib import Path

from audiowave.audio_io import load_audio
from audiowave.config import get_settings
from audiowave.errors import InputError
from audiowave.recipes.files import write_suggestion
from audiowave.recipes.hints import hints_from_forensics
from audiowave.recipes.patch import Effect
from audiowave.recipes.result import Recipe
from audiowave.recipes.suggest import Progress, suggest
from audiowave.samples.identify import load_sample_matcher


def suggest_from_file(
    path: Path,
    out_dir: Path,
    start_s: float | None = None,
    end_s: float | None = None,
    stem: str = "",
    budget_s: float = 10.0,
    progress: Progress | None = None,
    hints: list[Effect] | None = None,
) -> Recipe:
    """Recipe for ``path`` (or its span, or its separated ``stem`` there), written to ``out_dir``.

    ``hints`` are effects the forensics stage found; with ``stem`` the analysis here finds them."""
    clip = load_audio(path, min_duration_s=0.05)
    audio, hints = clip.samples, list(hints or [])
    if stem:
        from audiowave.pipeline import Pipeline

        if progress:
            progress("separation", 0.0)
        analysis = Pipeline(stages=["separation", "rhythm", "forensics"]).analyze(path)
        stems = analysis.separation.stems if analysis.separation else {}
        if stem not in stems:
            raise InputError(f"no stem {stem!r}; this separator gives {', '.join(sorted(stems)) or 'none'}")
        audio = stems[stem]
        if analysis.result.forensics:
            hints = hints_from_forensics((t.model_dump() for t in analysis.result.forensics.techniques), stem)
    matcher, no_index = load_sample_matcher(get_settings())
    s = suggest(audio, clip.sample_rate, start_s, end_s, stem, budget_s, hints, progress, matcher)
    if no_index:
        s.recipe.warnings.append(f"sampled sounds not compared: {no_index}")
    return write_suggestion(s, out_dir)
