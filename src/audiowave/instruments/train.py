"""Reproducible training of the offline instrument recogniser (``audiowave train-instruments``).

Renders the sound banks of ``recipe.py`` (training banks and synthesised 808 lines; a second render with
other phrases for validation and calibration; FluidR3 and 808 lines played on recorded kicks for the
independent test), trains :class:`FamilyNet` on random mixtures seen through a random EQ, fits one isotonic
calibration per output on the validation mixtures, measures per-output precision/recall/F1 and calibration
error, and writes the weights, the calibration and the model card.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.isotonic import IsotonicRegression
from torch import nn

from audiowave.families import DETAILS
from audiowave.instruments import bass808
from audiowave.instruments.features import log_mel
from audiowave.instruments.mixtures import MixtureSampler
from audiowave.instruments.model import FamilyNet
from audiowave.instruments.recipe import (
    EVALUATION_BANK,
    OUTPUTS,
    TRAINING_BANKS,
    SoundBank,
    Stem,
    render_808,
    render_bank,
)
from audiowave.instruments.recogniser import (
    MIN_ACTIVE_S,
    MIN_CONFIDENCE,
    MIN_CONFIDENCE_OF,
    calibrate,
    predict,
)

MODEL_NAME = "audiowave-families-v3"
LINES_808 = 4  # 808 lines per phrase and melodic bank: a third of the bass stems
VALIDATION = "validation (training banks, new phrases)"
TEST = "test (FluidR3 and 808s played on recorded kicks, never trained on)"
EQ_DB = 2.0  # random EQ: each of three cosine terms over the mel axis up to +/- this many dB (default)


def missing_requirements() -> str | None:
    """Why training cannot run here (a Python package or a Debian sound bank missing), or None."""
    import importlib.util

    for module, package in (("fluidsynth", "pyfluidsynth"), ("pedalboard", "pedalboard")):
        if importlib.util.find_spec(module) is None:
            return f"{package} is not installed (pip install '.[train]')"
    absent = {b.package for b in (*TRAINING_BANKS, EVALUATION_BANK) if not b.path.is_file()}
    if not bass808.kicks_present():
        absent.add("sonic-pi-samples")
    if absent:
        return "sound banks missing: apt-get install " + " ".join(sorted(absent))
    return None


def render_set(banks: tuple[SoundBank, ...], phrases: int, seed: int, sampled_808: bool = False) -> list[Stem]:
    """The stems of one split: every program and kit of ``banks`` and a third as many 808 lines as bass lines."""
    lines = phrases * LINES_808 * sum(b.melodic for b in banks)
    return render_bank(banks, phrases, seed) + render_808(lines, seed, sampled=sampled_808)


def random_eq(mel: torch.Tensor, generator: torch.Generator, eq_db: float = EQ_DB) -> torch.Tensor:
    """Training augmentation: each example's log-mel through a random smooth EQ (three cosine terms over the
    mel axis, up to +/- 3 x eq_db), so the model learns instruments rather than one sound bank's colour."""
    n_mels = mel.shape[2]
    centres = (torch.arange(n_mels, dtype=mel.dtype) + 0.5) / n_mels
    basis = torch.cos(math.pi * torch.arange(1, 4, dtype=mel.dtype)[:, None] * centres[None, :])
    coefficients = (torch.rand(mel.shape[0], 3, generator=generator) * 2 - 1) * (eq_db / 10)  # log10 power
    return mel + (coefficients @ basis).to(mel.device)[:, None, :, None]


def fit_calibration(probs: np.ndarray, targets: np.ndarray) -> list[dict[str, list[float]]]:
    """Isotonic map per label, stored as interpolation knots (no scikit-learn needed at inference)."""
    maps = []
    for j in range(probs.shape[1]):
        iso = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(probs[:, j], targets[:, j])
        maps.append({"x": iso.X_thresholds_.round(5).tolist(), "y": iso.y_thresholds_.round(5).tolist()})
    return maps


def fit_thresholds(probs: np.ndarray, targets: np.ndarray) -> list[float]:
    """Per label, the calibrated-probability threshold with the best F1 on the validation mixtures."""
    grid = np.linspace(0.1, 0.9, 33)
    out = []
    for j in range(probs.shape[1]):
        f1s = [
            2
            * np.sum((probs[:, j] >= g) & (targets[:, j] == 1))
            / (np.sum(probs[:, j] >= g) + targets[:, j].sum() + 1e-9)
            for g in grid
        ]
        out.append(round(float(grid[int(np.argmax(f1s))]), 3))
    return out


def scores(probs: np.ndarray, targets: np.ndarray, thresholds: list[float]) -> dict[str, dict[str, float]]:
    """Per label: precision, recall, F1 at its threshold, support; and the expected calibration error (10 bins)."""
    out = {}
    pred = probs >= np.asarray(thresholds)[None, :]
    for j, label in enumerate(OUTPUTS):
        tp = float(np.sum(pred[:, j] & (targets[:, j] == 1)))
        p = tp / max(float(pred[:, j].sum()), 1.0)
        r = tp / max(float(targets[:, j].sum()), 1.0)
        out[label] = {
            "precision": p,
            "recall": r,
            "f1": 2 * p * r / max(p + r, 1e-9),
            "support": float(targets[:, j].sum()),
        }
    out["macro"] = {k: float(np.mean([out[label][k] for label in OUTPUTS])) for k in ("precision", "recall", "f1")}
    out["macro"]["ece"] = expected_calibration_error(probs, targets)
    return out


def expected_calibration_error(probs: np.ndarray, targets: np.ndarray, bins: int = 10) -> float:
    p, t = probs.ravel(), targets.ravel()
    idx = np.minimum((p * bins).astype(int), bins - 1)
    return float(
        sum(abs(p[idx == b].mean() - t[idx == b].mean()) * np.mean(idx == b) for b in range(bins) if np.any(idx == b))
    )


class _MixtureBatches(torch.utils.data.IterableDataset):
    """Endless (audio, targets) batches; each DataLoader worker draws its own mixtures (seed + worker + 1), a
    single process draws them as ``MixtureSampler(stems, seed)``."""

    def __init__(self, stems: list[Stem], batch: int, seed: int) -> None:
        self.stems, self.batch, self.seed = stems, batch, seed

    def __iter__(self):
        worker = torch.utils.data.get_worker_info()
        sampler = MixtureSampler(self.stems, self.seed + (worker.id + 1 if worker else 0))
        while True:
            audio, target = sampler.batch(self.batch)
            yield torch.from_numpy(audio), torch.from_numpy(target)


@dataclass(frozen=True)
class FitSettings:
    """How the network is fitted; recorded in the model card."""

    steps: int = 3000
    batch: int = 64
    seed: int = 0
    width: int = 16
    eq_db: float = EQ_DB
    device: str = "cpu"  # where the network trains: cpu, cuda, cuda:1...
    workers: int = 0  # processes drawing the mixtures (0: this one)

    def record(self) -> dict:
        return asdict(self) | {"device": _device_name(self.device)}


def fit(stems: list[Stem], settings: FitSettings, log: Callable[[str], None] = print) -> FamilyNet:
    """Train :class:`FamilyNet` on random mixtures of ``stems`` seen through the random EQ (one-cycle AdamW)."""
    t0, steps, device = time.perf_counter(), settings.steps, settings.device
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    model = FamilyNet(len(OUTPUTS), width=settings.width).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    loss_fn = nn.BCEWithLogitsLoss()
    mixtures = _MixtureBatches(stems, settings.batch, settings.seed)
    loader = torch.utils.data.DataLoader(
        mixtures, batch_size=None, num_workers=settings.workers, pin_memory=device != "cpu"
    )
    batches = iter(loader)
    model.train()
    for step in range(steps):
        audio, target = next(batches)
        mel = random_eq(log_mel(audio.to(device, non_blocking=True)), generator, settings.eq_db)
        loss = loss_fn(model(mel), target.to(device, non_blocking=True))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 200 == 0 or step == steps - 1:
            log(f"step {step + 1}/{steps} loss {loss.item():.4f} ({time.perf_counter() - t0:.0f} s)")
    return model.cpu().eval()


def save_weights(model: FamilyNet, path: Path) -> None:
    """The state dict in float16 (half the size; the recogniser computes in float32)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}, path)


def fit_only(stems: list[Stem], out: Path, settings: FitSettings, log: Callable[[str], None] = print, **run) -> dict:
    """Fit and write ``out`` (weights) and ``out`` + ``.json`` (how it was fitted, plus ``run``: the recipe and
    archives), for :func:`train`'s ``fitted`` on a machine with the sound banks to validate, calibrate and test."""
    t0 = time.perf_counter()
    save_weights(fit(stems, settings, log), out)
    info = settings.record() | {"stems": len(stems), "fit_seconds": round(time.perf_counter() - t0, 1)} | run
    Path(f"{out}.json").write_text(json.dumps(info, indent=1))
    return info


def _device_name(device: str) -> str:
    return torch.cuda.get_device_name(device) if device.startswith("cuda") else f"CPU ({os.cpu_count()} cores)"


def train(
    out_dir: Path,
    settings: FitSettings = FitSettings(),
    phrases: int = 8,
    log: Callable[[str], None] = print,
    banks: tuple[SoundBank, ...] = TRAINING_BANKS,
    test_bank: SoundBank = EVALUATION_BANK,
    eval_examples: int = 4000,
    stems: list[Stem] | None = None,
    fitted: Path | None = None,
) -> dict:
    """Fit (or take the ``fitted`` weights of :func:`fit_only`), calibrate, evaluate and write
    ``<out_dir>/{MODEL_NAME}.pt`` and ``.json`` and the model card; returns the card. ``stems``: training stems
    from an archive instead of rendering them."""
    t0 = time.perf_counter()
    torch.set_num_threads(os.cpu_count() or 1)
    if fitted is not None:
        info = json.loads(Path(f"{fitted}.json").read_text())
        model = FamilyNet(len(OUTPUTS), width=info["width"])
        state = torch.load(fitted, map_location="cpu", weights_only=True)
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    else:
        train_stems = stems if stems is not None else render_set(banks, phrases, settings.seed)
        log(f"{len(train_stems)} training stems")
        t_fit = time.perf_counter()
        model = fit(train_stems, settings, log)
        info = settings.record() | {"stems": len(train_stems), "phrases": phrases}
        info["fit_seconds"] = round(time.perf_counter() - t_fit, 1)
    val_stems = render_set(banks, 2, info["seed"] + 1)
    test_stems = render_set((test_bank,), 2, info["seed"] + 2, sampled_808=True)
    log(f"rendered {len(val_stems)} validation and {len(test_stems)} test stems")
    val_audio, val_target = MixtureSampler(val_stems, info["seed"] + 1).batch(eval_examples)
    val_probs = predict(model, val_audio, batch=256)
    maps = fit_calibration(val_probs, val_target)
    thresholds = fit_thresholds(calibrate(val_probs, maps), val_target)
    test_audio, test_target = MixtureSampler(test_stems, info["seed"] + 2).batch(eval_examples)
    test_probs = predict(model, test_audio, batch=256)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_weights(model, out_dir / f"{MODEL_NAME}.pt")
    card = {
        "model": MODEL_NAME,
        "labels": list(OUTPUTS),
        "width": info["width"],
        "thresholds": thresholds,
        "calibration": maps,
        "training": info
        | {
            "banks": [{"name": b.name, "package": b.package, "licence": b.licence} for b in banks],
            "seconds": round(time.perf_counter() - t0, 1),
        },
        "parameters": sum(p.numel() for p in model.parameters()),
        VALIDATION: scores(calibrate(val_probs, maps), val_target, thresholds),
        "validation uncalibrated ece": expected_calibration_error(val_probs, val_target),
        "test bank": test_bank.name,
        TEST: scores(calibrate(test_probs, maps), test_target, thresholds),
        "test uncalibrated ece": expected_calibration_error(test_probs, test_target),
    }
    (out_dir / f"{MODEL_NAME}.json").write_text(json.dumps(card, indent=1))
    (out_dir / "MODEL_CARD.md").write_text(model_card(card))
    return card


def training_commands(card: dict) -> str:
    """How the shipped weights were made, as the commands to repeat it and where they ran."""
    t = card["training"]
    fit = f"--steps {t['steps']} --batch {t['batch']} --seed {t['seed']} --width {card['width']}"
    fit += f" --eq-db {t['eq_db']:g}" if t.get("eq_db", EQ_DB) != EQ_DB else ""
    # the card keeps the device's name ("NVIDIA H200", "CPU (2 cores)"): the flag that asks for it
    on = "cpu" if t.get("device", "CPU").startswith("CPU") else "cuda"
    if not t.get("archives"):
        device = f" --device {on} --workers {t['workers']}" if on != "cpu" else ""
        return (
            f"`audiowave train-instruments {fit} --phrases {t['phrases']}{device}` "
            f"({t['seconds'] / 60:.0f} min on {t.get('device', 'a 2-core CPU')})."
        )
    names = " ".join(f"--stems {a['file']}" for a in t["archives"])
    shards = len(t["archives"])
    return (
        f"`audiowave train-instruments --export-stems stems.npz --shards {shards} --phrases {t['phrases']} "
        f"--seed {t['archives'][0]['recipe']['seed']}` renders the training stems "
        f"({t['archives'][0]['codec']}); `audiowave train-instruments {names} --fit-only {fit} --device {on} "
        f"--workers {t['workers']}` fitted the network on {t['device']} in {t['fit_seconds'] / 60:.1f} min; "
        f"`audiowave train-instruments --fitted instrument-model/{MODEL_NAME}.fitted.pt` validated, calibrated "
        "and tested it where the sound banks are."
    )


def model_card(card: dict) -> str:
    """The model card (Markdown) of a training run: data recipe, licences, command, measured scores."""
    t = card["training"]
    lines = [
        f"# Model card: {card['model']}",
        "",
        "Offline instrument-family recogniser, Audiowave's default tagger when PANNs CNN14 is not installed.",
        "",
        f"- Architecture: `FamilyNet` (4 conv blocks of width {card.get('width', 16)}, {card['parameters']:,} "
        "parameters, float16 weights), input a 1 s log-mel patch (16 kHz, 64 bands, 10 ms hop, mean level removed); "
        f"multi-label sigmoid over {len(card['labels'])} outputs: the families "
        f"{', '.join(x for x in card['labels'] if x not in DETAILS)}, and kinds within them: "
        f"{', '.join(f'{x} ({DETAILS[x]})' for x in card['labels'] if x in DETAILS)}.",
        "- Output: per 1 s window (0.5 s hop) an isotonic-calibrated probability per output, fitted on validation "
        "mixtures; a family is reported where its probability passes its own threshold (best F1 on validation), a "
        "kind only where its family is reported too; consecutive windows are merged into time spans. In a clip, a "
        f"label is named when its windows add up to {MIN_ACTIVE_S:g} s (or half a shorter clip) at a mean confidence "
        f"of {MIN_CONFIDENCE:g}; " + ", ".join(f"{v:g} for {k}" for k, v in MIN_CONFIDENCE_OF.items()) + " "
        "(`recogniser.py`: with v2, the dev corpus' acoustic and synth basses were taken for an 808 at 0.55-0.90).",
        f"- Training: {training_commands(card)}",
        "- Data recipe (`src/audiowave/instruments/recipe.py`): every General-MIDI program 0-95 of each melodic bank "
        "(voices and sound effects excluded) plays random phrases in a family-appropriate range with random rhythm, "
        "chords and velocities through FluidSynth; every drum kit plays random grooves; 808 bass lines are "
        "synthesised (`bass808.py`: a sine falling in pitch onto the note, long decay, glides, click, drive), a "
        "third as many as the GM bass lines; each rendering is kept dry and with one random pedalboard effect "
        "(reverb, chorus, distortion, delay, low-pass, compressor, phaser). Kinds: GM 29-30 and any electric guitar "
        "through the distortion are distorted guitar, GM 38-39 synth bass, the synthesised lines 808 bass. "
        f"{t['stems']:,} stems of 4 s. Examples are 1 s crops of random mixtures of 0-4 stems of different families "
        "at -12..0 dB, plus low noise; a family (and its kind) is a target when its stem is within 20 dB of the mix. "
        f"During training each example's log-mel goes through a random smooth EQ (three cosine terms of up to "
        f"+/-{t.get('eq_db', EQ_DB):g} dB each over the mel axis), so that a bank's colour is not learnt as the "
        "instrument.",
        "- Not used for training: FluidR3 (`fluid-soundfont-gm`, reserved for the independent test below) and "
        "MuseScore General (it renders the dev corpus). The test's 808 lines are not synthesised: they are played "
        "by varispeed on two recorded 808-style kicks (Sonic Pi's `bd_808` and `bd_boom`, CC0, Debian "
        "`sonic-pi-samples`). No vocals: no honestly licensed singing data was found on the registries, so the "
        "model has no vocal class.",
        "",
        "| sound bank | Debian package | licence |",
        "|---|---|---|",
        *[f"| {b['name']} | {b['package']} | {b['licence']} |" for b in t["banks"]],
        "| 808 synth (training) | this project (`bass808.py`) | the project's own |",
        "",
        "The weights are derived from these banks; redistribute them under terms compatible with GPL-2, "
        "LGPL-2.1+ and CC-BY-SA-4.0.",
        "",
    ]
    for key in (VALIDATION, TEST):
        s = card[key]
        lines += [
            f"## {key}: 1 s mixtures",
            "",
            "| output | precision | recall | F1 | support |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {label} | {s[label]['precision']:.3f} | {s[label]['recall']:.3f} | {s[label]['f1']:.3f} | "
            f"{s[label]['support']:.0f} |"
            for label in card["labels"]
        ]
        m = s["macro"]
        lines += [f"| **macro** | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | |", ""]
        lines += [f"Expected calibration error after calibration: {m['ece']:.3f}.", ""]
    lines += [
        f"Uncalibrated ECE: validation {card['validation uncalibrated ece']:.3f}, "
        f"test {card['test uncalibrated ece']:.3f}.",
        "",
    ]
    return "\n".join(lines)
