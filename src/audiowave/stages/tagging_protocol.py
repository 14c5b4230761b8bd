"""What the pipeline needs from a tagger (PANNs CNN14, the offline recogniser, Ray proxies), and span merging."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from audiowave.schema import BackendInfo, Instrument, TimeSpan


class Tagger(Protocol):
    backend: BackendInfo

    def tag(self, mono: np.ndarray, sr: int, source: str = "mix") -> list[Instrument]: ...

    def tag_many(self, requests: list[tuple[np.ndarray, int, str]]) -> list[list[Instrument]]:
        """(mono, sample rate, source) per signal -> instruments per signal, in order."""
        ...


def merge_spans(starts: np.ndarray, length: float, duration: float) -> list[TimeSpan]:
    """Union of the windows [start, start + length) clipped to the duration, as sorted spans."""
    spans: list[TimeSpan] = []
    for s in starts:
        end = min(float(s) + length, duration)
        if spans and s <= spans[-1].end:
            spans[-1] = TimeSpan(start=spans[-1].start, end=round(end, 3))
        else:
            spans.append(TimeSpan(start=round(float(s), 3), end=round(end, 3)))
    return spans
