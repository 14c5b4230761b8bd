"""What the pipeline needs from a tagger (PANNs here; the offline recogniser and Ray proxies later)."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from audiowave.schema import BackendInfo, Instrument


class Tagger(Protocol):
    backend: BackendInfo

    def tag(self, mono: np.ndarray, sr: int, source: str = "mix") -> list[Instrument]: ...

    def tag_many(self, requests: list[tuple[np.ndarray, int, str]]) -> list[list[Instrument]]:
        """(mono, sample rate, source) per signal -> instruments per signal, in order."""
        ...
