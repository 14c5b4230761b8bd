"""Process long signals in overlapping chunks with linear cross-fades, to bound memory."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from audiowave.progress import ProgressFn, no_progress


def process_in_chunks(
    audio: np.ndarray,
    fn: Callable[[np.ndarray], np.ndarray],
    chunk: int,
    overlap: int,
    progress: ProgressFn = no_progress,
) -> np.ndarray:
    """Apply ``fn`` to overlapping slices of ``audio`` (channels, n) and cross-fade the outputs.

    ``fn`` maps (channels, m) to (..., channels, m): any leading axes (e.g. stems) are kept.
    """
    if not 0 <= overlap < chunk:
        raise ValueError(f"overlap ({overlap}) must be smaller than the chunk ({chunk})")
    n = audio.shape[-1]
    if n <= chunk:
        whole = fn(audio)
        progress(1.0)
        return whole
    step = chunk - overlap
    starts = list(range(0, max(n - overlap, 1), step))
    out: np.ndarray | None = None
    weight = np.zeros(n, dtype=np.float32)
    for i, start in enumerate(starts):
        end = min(start + chunk, n)
        piece = fn(audio[..., start:end])
        w = np.ones(end - start, dtype=np.float32)
        fade = min(overlap, end - start)
        if i > 0:
            w[:fade] = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        if end < n:
            w[-fade:] = np.minimum(w[-fade:], np.linspace(1.0, 0.0, fade, dtype=np.float32))
        if out is None:
            out = np.zeros((*piece.shape[:-1], n), dtype=np.float32)
        out[..., start:end] += piece * w
        weight[start:end] += w
        progress((i + 1) / len(starts))
    assert out is not None
    return out / np.maximum(weight, 1e-8)
