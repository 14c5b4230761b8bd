"""Sound-source tagging with PANNs CNN14 over sliding windows, mapped to instrument families."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr
import torch

from audiowave.errors import ModelUnavailableError
from audiowave.registry import ModelSpec, check, get_spec, resolved_files
from audiowave.schema import BackendInfo, Instrument
from audiowave.stages.cnn14 import CLASSES, SAMPLE_RATE, Cnn14
from audiowave.stages.tagging_protocol import merge_spans

WINDOW_S = 2.0
HOP_S = 1.0
THRESHOLD = 0.3

# AudioSet display names -> Audiowave instrument families (only the musical sources).
AUDIOSET_FAMILIES: dict[str, str] = {
    "Piano": "piano",
    "Keyboard (musical)": "piano",
    "Electric piano": "electric piano",
    "Organ": "organ",
    "Hammond organ": "organ",
    "Electronic organ": "organ",
    "Acoustic guitar": "acoustic guitar",
    "Steel guitar, slide guitar": "acoustic guitar",
    "Electric guitar": "electric guitar",
    "Distortion": "electric guitar",
    "Bass guitar": "bass",
    "Double bass": "bass",
    "Violin, fiddle": "strings",
    "Cello": "strings",
    "String section": "strings",
    "Bowed string instrument": "strings",
    "Orchestra": "strings",
    "Brass instrument": "brass",
    "Trumpet": "brass",
    "Trombone": "brass",
    "French horn": "brass",
    "Saxophone": "woodwind",
    "Flute": "woodwind",
    "Clarinet": "woodwind",
    "Wind instrument, woodwind instrument": "woodwind",
    "Synthesizer": "synth lead",
    "Drum kit": "drums",
    "Drum": "drums",
    "Snare drum": "drums",
    "Bass drum": "drums",
    "Hi-hat": "drums",
    "Cymbal": "drums",
    "Drum machine": "drums",
    "Percussion": "drums",
    "Singing": "vocals",
    "Male singing": "vocals",
    "Female singing": "vocals",
    "Choir": "vocals",
    "Rapping": "vocals",
}


def read_labels(path: Path) -> list[str]:
    """AudioSet ``class_labels_indices.csv`` -> display names in index order."""
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or not {"index", "display_name"} <= set(rows[0]):
        raise ModelUnavailableError(f"{path}: not an AudioSet label CSV (needs columns index, mid, display_name)")
    labels = [r["display_name"] for r in sorted(rows, key=lambda r: int(r["index"]))]
    if len(labels) != CLASSES:
        raise ModelUnavailableError(f"{path}: {len(labels)} labels, CNN14 expects {CLASSES}")
    return labels


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The model state dict of a PANNs checkpoint (a dict with key 'model', or the state dict itself)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt pickles
        raise ModelUnavailableError(f"{path}: not a readable PyTorch checkpoint ({exc})") from exc
    state = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise ModelUnavailableError(f"{path}: checkpoint holds no state dict")
    return state


def build_cnn14(state: dict[str, torch.Tensor], source: str) -> Cnn14:
    """A CNN14 with ``state`` loaded strictly (every tensor present and shaped right)."""
    model = Cnn14()
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelUnavailableError(f"{source}: does not match the CNN14 architecture ({exc})") from exc
    return model.eval()


@dataclass
class PannsTagger:
    """Frame-level CNN14 tagging; labels outside the musical families are ignored."""

    model: Cnn14
    labels: list[str]
    version: str = "Cnn14_mAP=0.431"

    @classmethod
    def from_registry(cls, spec: ModelSpec | None = None) -> PannsTagger:
        spec = spec or get_spec("panns_cnn14")
        status = check(spec)
        if not status.ready:
            raise ModelUnavailableError(f"PANNs CNN14 not available: {status.status}; {status.detail}")
        weights, labels = resolved_files(status)
        return cls(build_cnn14(load_state_dict(weights), str(weights)), read_labels(labels))

    @property
    def backend(self) -> BackendInfo:
        return BackendInfo(name="panns-cnn14", model=self.version, licence="MIT")

    def frames(self, mono: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
        """2 s windows with 1 s hop at 32 kHz, shape (windows, samples), and their start times."""
        audio = soxr.resample(mono.astype(np.float32), sr, SAMPLE_RATE)
        win, hop = int(WINDOW_S * SAMPLE_RATE), int(HOP_S * SAMPLE_RATE)
        if len(audio) < win:
            audio = np.pad(audio, (0, win - len(audio)))
        starts = np.arange(0, len(audio) - win + 1, hop)
        return np.stack([audio[s : s + win] for s in starts]), starts / SAMPLE_RATE

    def scores(self, frames: np.ndarray, batch: int = 16) -> np.ndarray:
        """CNN14 scores (windows, classes), computed in batches of ``batch`` windows."""
        with torch.inference_mode():
            device = next(self.model.parameters()).device
            out = [
                self.model(torch.from_numpy(frames[i : i + batch]).to(device)).cpu()
                for i in range(0, len(frames), batch)
            ]
        return torch.cat(out).numpy()

    def window_scores(self, mono: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
        frames, starts = self.frames(mono, sr)
        return self.scores(frames), starts

    def tag(self, mono: np.ndarray, sr: int, source: str = "mix") -> list[Instrument]:
        """Instruments whose windows score above the threshold, with merged time spans."""
        return self.tag_many([(mono, sr, source)])[0]

    def tag_many(self, requests: list[tuple[np.ndarray, int, str]]) -> list[list[Instrument]]:
        """Tag several signals with one batched forward pass over all their windows."""
        framed = [self.frames(mono, sr) for mono, sr, _ in requests]
        scores = self.scores(np.concatenate([f for f, _ in framed]))
        results, offset = [], 0
        for (mono, sr, source), (frames, starts) in zip(requests, framed, strict=True):
            part = scores[offset : offset + len(frames)]
            offset += len(frames)
            results.append(self._instruments(part, starts, len(mono) / sr, source))
        return results

    def _instruments(self, scores: np.ndarray, starts: np.ndarray, duration: float, source: str) -> list[Instrument]:
        found: list[Instrument] = []
        for idx, label in enumerate(self.labels):
            family = AUDIOSET_FAMILIES.get(label)
            active = scores[:, idx] >= THRESHOLD
            if family is None or not active.any():
                continue
            found.append(
                Instrument(
                    label=label,
                    family=family,
                    confidence=float(scores[:, idx].max()),
                    spans=merge_spans(starts[active], WINDOW_S, duration),
                    source=source,
                    backend=self.backend,
                )
            )
        return sorted(found, key=lambda i: -i.confidence)
