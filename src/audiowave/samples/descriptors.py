"""What the index stores for one library sample: waveform templates for the matched-filter matcher and
landmark hashes for the baseline.

A template is ``N_CHUNKS`` consecutive chunks of ``CHUNK`` samples at 22.05 kHz, each unit-normalised,
taken at the sample's first onset and, in loops and phrases, at its strongest other onsets (at least
``SPACING_S`` apart, at most ``MAX_TEMPLATES``): the candidate stage looks for templates at the track's onsets,
and a template cut mid-sound (every half second, descriptor version mf2) lies at none. Chunks are matched
independently, which is what makes the matcher tolerate time stretch: WSOLA and similar stretchers move chunks
but keep their waveform.
"""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np
import soxr

from audiowave.samples import landmarks

SAMPLE_RATE = 22050
CHUNK = 2048
N_CHUNKS = 8
MAX_TEMPLATES = 8
LONG_S = 2.5
ONSET_FRACTION = 0.05
SPACING_S = 0.5
ONSET_HOP = 256
DESCRIPTOR_VERSION = "mf3"


@dataclass
class SampleDescriptor:
    """Templates (n, N_CHUNKS, CHUNK) float16, per-chunk weights (n, N_CHUNKS), first-chunk norms and starts."""

    starts: np.ndarray
    chunks: np.ndarray
    weights: np.ndarray
    norms: np.ndarray
    lm_hash: np.ndarray
    lm_frame: np.ndarray
    duration_s: float

    @property
    def kind(self) -> str:
        """'one-shot' for short sounds, 'loop' for longer ones (phrases are loops to the matcher)."""
        return "one-shot" if self.duration_s <= LONG_S else "loop"


def to_matcher_rate(mono: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono at 22.05 kHz: the band of hi-hats and cymbals is kept (the matcher whitens it, see
    :mod:`audiowave.samples.whitening`; it also tries half-sample offsets, so fine alignment costs little)."""
    mono = np.asarray(mono, dtype=np.float32)
    if sample_rate != SAMPLE_RATE:
        mono = soxr.resample(mono, sample_rate, SAMPLE_RATE, quality="HQ").astype(np.float32)
    return mono


def onset_starts(x: np.ndarray, first: int) -> list[int]:
    """``first``, then the strongest other onsets of ``x`` (librosa's onset strength peaks, each moved to where
    the sound first reaches ``ONSET_FRACTION`` of its level around the peak) at least ``SPACING_S`` from every
    start kept, up to ``MAX_TEMPLATES``, in time order."""
    strength = librosa.onset.onset_strength(y=x, sr=SAMPLE_RATE, hop_length=ONSET_HOP)
    peaks = librosa.onset.onset_detect(onset_envelope=strength, sr=SAMPLE_RATE, hop_length=ONSET_HOP)
    starts = [first]
    for peak in peaks[np.argsort(-strength[peaks], kind="stable")]:
        if len(starts) == MAX_TEMPLATES:
            break
        lo = max(int(peak) * ONSET_HOP - 2 * ONSET_HOP, 0)
        around = np.abs(x[lo : lo + 6 * ONSET_HOP])
        s0 = lo + int(np.argmax(around >= ONSET_FRACTION * around.max())) if around.size else lo
        if s0 <= x.size - CHUNK and all(abs(s0 - s) >= SPACING_S * SAMPLE_RATE for s in starts):
            starts.append(s0)
    return sorted(starts)


def first_onset(x: np.ndarray) -> int:
    """Where a sound starts: the first sample of ``x`` above ``ONSET_FRACTION`` of its peak (0 for silence)."""
    env = np.abs(x)
    peak = float(env.max()) if x.size else 0.0
    return int(np.argmax(env > peak * ONSET_FRACTION)) if peak > 0 else 0


def describe(mono: np.ndarray, sample_rate: int) -> SampleDescriptor:
    """Templates and landmark hashes of a library sample (mono, any rate)."""
    x = to_matcher_rate(mono, sample_rate)
    duration = x.size / SAMPLE_RATE
    first = first_onset(x)
    starts = onset_starts(x, first) if duration > LONG_S else [first]
    chunks, weights, first_norms, kept = [], [], [], []
    for s0 in starts:
        seg = x[s0 : s0 + CHUNK * N_CHUNKS]
        seg = np.pad(seg, (0, CHUNK * N_CHUNKS - seg.size)).reshape(N_CHUNKS, CHUNK)
        seg = seg - seg.mean(axis=1, keepdims=True)
        norms = np.linalg.norm(seg, axis=1)
        if norms[0] < 1e-6:
            continue
        w = np.sqrt(norms**2 / max(float((norms**2).max()), 1e-12))
        w[w < 0.05] = 0.0
        chunks.append(seg / np.maximum(norms, 1e-12)[:, None])
        weights.append(w)
        first_norms.append(norms[0])
        kept.append(s0)
    h, f = landmarks.hashes(mono, sample_rate)
    n = len(kept)
    return SampleDescriptor(
        starts=np.asarray(kept, dtype=np.int32),
        chunks=np.asarray(chunks, dtype=np.float16).reshape(n, N_CHUNKS, CHUNK),
        weights=np.asarray(weights, dtype=np.float32).reshape(n, N_CHUNKS),
        norms=np.asarray(first_norms, dtype=np.float32),
        lm_hash=h,
        lm_frame=f,
        duration_s=duration,
    )
