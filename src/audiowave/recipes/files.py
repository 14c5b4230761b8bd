"""Write a suggestion: recipe.json, original.flac, preview.flac, recipe.vital and comparison.png."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import librosa
import librosa.display
import matplotlib.pyplot as plt
import numpy as np
import soundfile as sf

from audiowave.recipes.measure import FRAME_HOP_S, loudness_contour
from audiowave.recipes.result import Recipe
from audiowave.recipes.suggest import Suggestion
from audiowave.recipes.vital import write_vital


def write_suggestion(s: Suggestion, out_dir: Path, name: str = "recipe") -> Recipe:
    """Files of one suggestion in ``out_dir``; returns the recipe with their names filled in."""
    out_dir.mkdir(parents=True, exist_ok=True)
    recipe = s.recipe.model_copy(deep=True)
    sf.write(out_dir / "original.flac", s.original, s.sample_rate)
    sf.write(out_dir / "preview.flac", s.preview, s.sample_rate)
    recipe.files = {"original": "original.flac", "preview": "preview.flac", "picture": "comparison.png"}
    if recipe.patch.source != "sample":
        write_vital(recipe.patch, out_dir / f"{name}.vital", name=name)
        recipe.files["vital"] = f"{name}.vital"
        recipe.exports["vital"] = (
            "Vital 1.5 preset (free wavetable synth, JSON format): oscillators with the exact single cycle, "
            "filter 1, envelopes 1-3, effects; unison spread, FM depth and envelope curves approximate"
        )
    draw_comparison(s, recipe, out_dir / "comparison.png")
    (out_dir / "recipe.json").write_text(recipe.model_dump_json(indent=2))
    return recipe


def draw_comparison(s: Suggestion, recipe: Recipe, path: Path) -> None:
    """Spectrograms of the original and the rendering, and their loudness contours."""
    fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True, height_ratios=[3, 3, 2])
    for ax, audio, title in ((axes[0], s.original, "original"), (axes[1], s.preview, "recipe rendering")):
        db = librosa.amplitude_to_db(
            np.abs(librosa.stft(audio.astype(np.float32), n_fft=2048, hop_length=256)), ref=np.max
        )
        librosa.display.specshow(
            db, sr=s.sample_rate, hop_length=256, x_axis="time", y_axis="log", ax=ax, vmin=-80, vmax=0
        )
        ax.set_title(title)
        ax.set_xlabel("")
    for audio, label in ((s.original, "original"), (s.preview, "rendering")):
        contour = loudness_contour(audio.astype(np.float64), s.sample_rate)
        axes[2].plot(np.arange(len(contour)) * FRAME_HOP_S, contour, label=label)
    axes[2].set_ylabel("level (dB)")
    axes[2].set_xlabel("time (s)")
    axes[2].legend(loc="upper right")
    fig.suptitle(
        f"{recipe.patch.source} recipe: similarity {recipe.initial.similarity:.2f} → {recipe.refined.similarity:.2f}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
