"""Small randomly initialised stand-ins for the real weights (HT-Demucs, PANNs CNN14)."""

from __future__ import annotations

import csv
from fractions import Fraction
from pathlib import Path

import torch


def save_tiny_htdemucs(
    directory: Path,
    signature: str = "955717e8",
    sources: tuple[str, ...] = ("drums", "bass", "other", "vocals"),
) -> Path:
    """A 364k-parameter HTDemucs saved the way demucs releases are (``<sig>-<sha8>.th``)."""
    from demucs.htdemucs import HTDemucs
    from demucs.states import get_state, save_with_checksum

    torch.manual_seed(0)
    kwargs = dict(sources=list(sources), channels=8, depth=4, t_layers=1, segment=Fraction(2, 1))
    model = HTDemucs(**kwargs)
    package = {"klass": HTDemucs, "args": (), "kwargs": kwargs, "state": get_state(model, None)}
    directory.mkdir(parents=True, exist_ok=True)
    save_with_checksum(package, directory / f"{signature}.th")
    return next(directory.glob(f"{signature}-*.th"))


def save_random_cnn14(directory: Path) -> tuple[Path, Path]:
    """A random-init CNN14 checkpoint in the PANNs layout ({'model': state_dict}) and a 527-row label CSV."""
    from audiowave.stages.cnn14 import CLASSES, Cnn14

    torch.manual_seed(0)
    directory.mkdir(parents=True, exist_ok=True)
    ckpt = directory / "Cnn14_random.pth"
    torch.save({"model": Cnn14().state_dict(), "iteration": 0}, ckpt)
    labels = directory / "class_labels_indices.csv"
    names = ["Piano", "Bass guitar", "Drum kit", "Synthesizer"] + [f"Other {i}" for i in range(CLASSES - 4)]
    with labels.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["index", "mid", "display_name"])
        for i, name in enumerate(names):
            writer.writerow([i, f"/m/{i:05d}", name])
    return ckpt, labels
