"""Identical recordings in a library: files whose audio is one waveform at another gain (velocity layers
exported from one hit, the same loop in two packs).

No matcher can tell them apart: their normalised templates are the same, so each scores the same match. A
match therefore names one of them and lists the others as alternatives, instead of reporting each as a match
of its own (four of them false). Two samples are the same recording when their durations agree and their
first templates (the chunks at their relative levels) correlate to at least ``SAME_NCC``.

Other recordings of one sound (a bell's velocity layers struck apart, one hit cut into two files of a kit) match
the same places a little less well. A match whose first template correlates with a better match's at some lag
to at least ``SIMILAR_NCC`` and which sounds only where that one does is listed with it as similar, not
reported as a match of its own: on the dev corpus such pairs correlated 0.92, two different library sounds at
most 0.80 (0.39 for 99 % of pairs), so layered sounds (a clap on a snare) stay two matches. Hand-written: one
correlation of stored templates per pair of matches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from scipy.signal import correlate

from audiowave.samples.descriptors import SampleDescriptor

SAME_NCC = 0.998  # 16-bit copies of one hit at gains 20 dB apart correlate above 0.9999
SAME_DURATION_S = 0.01
SIMILAR_NCC = 0.85
COINCIDE_S = 0.03

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


def similarity(a: Signature, b: Signature) -> float:
    """The best correlation of two first templates at any lag (1 for one recording, whatever its gain)."""
    if a.template.size == 0 or b.template.size == 0:
        return 0.0
    return float(np.abs(correlate(a.template, b.template, mode="full", method="fft")).max())


def coincide(where: list[float], starts: list[float]) -> bool:
    """Whether every one of ``starts`` lies within ``COINCIDE_S`` of one of ``where`` (seconds)."""
    return bool(starts) and bool(where) and all(min(abs(s - w) for w in where) <= COINCIDE_S for s in starts)


def fold_similar(
    groups: list[tuple[T, list[T]]], signature: Callable[[T], Signature], starts: Callable[[T], list[float]]
) -> list[tuple[T, list[T], list[T]]]:
    """``groups`` of identical recordings (best first) as (named, same recording, similar): a group whose named
    item is another recording of a better group's sound (``SIMILAR_NCC``) heard only where that one is heard
    joins that group's similar items."""
    kept: list[tuple[T, list[T], list[T]]] = []
    for named, others in groups:
        sig, where = signature(named), starts(named)
        home = next(
            (k for k in kept if coincide(starts(k[0]), where) and similarity(signature(k[0]), sig) >= SIMILAR_NCC),
            None,
        )
        if home is None:
            kept.append((named, others, []))
        else:
            home[2].extend([named, *others])
    return kept


def group_recordings(
    items: list[T],
    signature: Callable[[T], Signature],
    gain_db: Callable[[T], float],
    starts: Callable[[T], list[float]],
) -> list[tuple[T, list[T], list[T]]]:
    """``items`` (best first) as (named, same recording, similar): :func:`group_identical`, then
    :func:`fold_similar`; what the service and the evaluation both report."""
    return fold_similar(group_identical(items, signature, gain_db), signature, starts)
