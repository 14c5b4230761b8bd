"""Sections (intro/verse/chorus-like parts) by clustering beat-synchronous timbre and harmony.

Boundaries come from librosa's agglomerative segmentation of beat-synchronous MFCC + chroma;
segments whose mean features are close get the same letter (A, B, C ...).
"""

from __future__ import annotations

import string

import librosa
import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from audiowave.schema import BackendInfo, Section, Structure

SECONDS_PER_SECTION = 12.0
SAME_SECTION_DISTANCE = 0.35


def analyse_structure(mono: np.ndarray, sr: int, beats: list[float]) -> Structure:
    duration = len(mono) / sr
    backend = BackendInfo(name="librosa", version=librosa.__version__, model="agglomerative MFCC+chroma")
    hop = 1024
    mfcc = librosa.feature.mfcc(y=mono, sr=sr, n_mfcc=13, hop_length=hop)
    chroma = librosa.feature.chroma_stft(y=mono, sr=sr, hop_length=hop)
    feats = np.vstack([librosa.util.normalize(mfcc, axis=1), chroma])
    frames = librosa.time_to_frames(beats, sr=sr, hop_length=hop) if len(beats) > 8 else None
    if frames is not None:
        feats = librosa.util.sync(feats, frames, aggregate=np.median)
        times = np.concatenate([[0.0], beats])
    else:
        times = librosa.frames_to_time(np.arange(feats.shape[1]), sr=sr, hop_length=hop)
    k = int(np.clip(round(duration / SECONDS_PER_SECTION), 1, min(10, feats.shape[1])))
    if k <= 1:
        return Structure(sections=[Section(start=0.0, end=round(duration, 3), label="A")], backend=backend)
    bounds = librosa.segment.agglomerative(feats, k)
    starts = [float(times[min(b, len(times) - 1)]) for b in bounds]
    starts[0] = 0.0
    ends = [*starts[1:], duration]
    means = np.stack([feats[:, b:e].mean(axis=1) for b, e in zip(bounds, [*bounds[1:], feats.shape[1]], strict=True)])
    means = means / (np.linalg.norm(means, axis=1, keepdims=True) + 1e-9)
    groups = fcluster(linkage(means, "average", metric="cosine"), SAME_SECTION_DISTANCE, "distance")
    letters: dict[int, str] = {}
    sections = []
    for start, end, g in zip(starts, ends, groups, strict=True):
        letters.setdefault(int(g), string.ascii_uppercase[len(letters) % 26])
        sections.append(Section(start=round(start, 3), end=round(end, 3), label=letters[int(g)]))
    return Structure(sections=sections, backend=backend)
