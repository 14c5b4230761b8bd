"""Identical recordings in a library: files whose audio is one waveform at another gain (velocity layers
exported from one hit, the same loop in two packs).

No matcher can tell them apart: their normalised templates are the same, so each scores the same match. A
match therefore names one of them and lists the others as alternatives, instead of reporting each as a match
of its own (four of them false). Two samples are the same recording when their durations agree and their
first templates (the chunks at their relative levels) correlate to at least ``SAME_NCC``. Hand-written: one
correlation of stored templates per pair of matches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from audiowave.samples.descriptors import SampleDescriptor

SAME_NCC = 0.998  # 16-bit copies of one hit at gains 20 dB apart correlate above 0.9999
SAME_DURATION_S = 0.01

T = TypeVar("T")


@dataclass
class Signature:
    """What identifies a recording whatever its gain: its first template and its duration."""

    template: np.ndarray  # (N_CHUNKS * CHUNK,) float32, unit norm
    duration_s: float

    @classmethod
    def of(cls, descriptor: SampleDescriptor) -> Signature:
        if descriptor.starts.size == 0:
            return cls(np.zeros(0, np.float32), descriptor.duration_s)
        first = descriptor.chunks[0].astype(np.float32) * descriptor.weights[0][:, None]
        flat = first.reshape(-1)
        return cls(flat / max(float(np.linalg.norm(flat)), 1e-12), descriptor.duration_s)

    def same_recording(self, other: Signature) -> bool:
        if abs(self.duration_s - other.duration_s) > SAME_DURATION_S or self.template.shape != other.template.shape:
            return False
        return self.template.size > 0 and float(self.template @ other.template) >= SAME_NCC


def group_identical(
    items: list[T], signature: Callable[[T], Signature], gain_db: Callable[[T], float] = lambda _: 0.0
) -> list[tuple[T, list[T]]]:
    """``items`` (best first) grouped by recording, in the order of each group's best item, each group's members
    by the distance of their gain in the track from 0 dB (the level a file would be used at; ties best first):
    the first names the group, the others are its alternatives."""
    groups: list[tuple[Signature, list[T]]] = []
    for item in items:
        sig = signature(item)
        group = next((g for g in groups if g[0].same_recording(sig)), None)
        if group is None:
            groups.append((sig, [item]))
        else:
            group[1].append(item)
    ordered = [sorted(members, key=lambda m: abs(gain_db(m))) for _, members in groups]
    return [(members[0], members[1:]) for members in ordered]
