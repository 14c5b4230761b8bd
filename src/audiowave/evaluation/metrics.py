"""Scoring functions (mir_eval where it has the metric) for one clip's prediction vs. ground truth."""

from __future__ import annotations

import mir_eval
import numpy as np

from audiowave.stages.tonal import pitch_class

TEMPO_TOLERANCE = 0.04


def tempo_accuracy(ref_bpm: float, est_bpm: float) -> tuple[bool, bool]:
    """(Acc1, Acc2): within 4 %; Acc2 also accepts x2, x3, x1/2, x1/3 (octave/metrical errors)."""

    def close(target: float) -> bool:
        return abs(est_bpm - target) <= TEMPO_TOLERANCE * target

    acc1 = close(ref_bpm)
    acc2 = acc1 or any(close(ref_bpm * f) for f in (2.0, 3.0, 0.5, 1.0 / 3.0))
    return acc1, acc2


def key_scores(ref_tonic: str, ref_mode: str, est_tonic: str, est_mode: str) -> tuple[float, bool]:
    """(MIREX weighted score, exact match) for keys such as ('Db', 'major')."""
    ref = f"{_mir_tonic(ref_tonic)} {ref_mode}"
    est = f"{_mir_tonic(est_tonic)} {est_mode}"
    exact = pitch_class(ref_tonic) == pitch_class(est_tonic) and ref_mode == est_mode
    return float(mir_eval.key.weighted_score(ref, est)), exact


def _mir_tonic(tonic: str) -> str:
    """mir_eval spells keys with sharps/flats it knows; normalise via the pitch class."""
    return ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")[pitch_class(tonic)]


def beat_f_measure(ref: list[float], est: list[float]) -> float:
    """F-measure with mir_eval's 70 ms window (no 5 s trimming: clips are short)."""
    if not ref:
        return float("nan")
    return float(mir_eval.beat.f_measure(np.asarray(ref), np.asarray(est)))


def chord_scores(ref: list[tuple[float, float, str]], est: list[tuple[float, float, str]]) -> dict[str, float]:
    """Duration-weighted chord accuracy: 'root' and 'majmin' (mir_eval.chord)."""
    ref_iv = np.array([[s, e] for s, e, _ in ref])
    est_iv = np.array([[s, e] for s, e, _ in est])
    ref_lab = [lab for _, _, lab in ref]
    est_lab = [lab for _, _, lab in est]
    est_iv, est_lab = mir_eval.util.adjust_intervals(
        est_iv, est_lab, ref_iv.min(), ref_iv.max(), mir_eval.chord.NO_CHORD, mir_eval.chord.NO_CHORD
    )
    intervals, ref_lab, est_lab = mir_eval.util.merge_labeled_intervals(ref_iv, ref_lab, est_iv, est_lab)
    durations = mir_eval.util.intervals_to_durations(intervals)
    out = {}
    for name, fn in (("root", mir_eval.chord.root), ("majmin", mir_eval.chord.majmin)):
        comparisons = fn(ref_lab, est_lab)
        out[name] = float(mir_eval.chord.weighted_accuracy(comparisons, durations))
    return out


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant SDR in dB (Le Roux et al. 2019), over all channels together."""
    ref = reference.astype(np.float64).ravel()
    est = estimate.astype(np.float64).ravel()
    ref = ref - ref.mean()
    est = est - est.mean()
    energy = float(ref @ ref)
    if energy < 1e-12:
        return float("nan")
    target = (est @ ref) / energy * ref
    noise = est - target
    return float(10 * np.log10(max(float(target @ target), 1e-12) / max(float(noise @ noise), 1e-12)))


def precision_recall(true: set[str], predicted: set[str], family: str) -> tuple[int, int, int]:
    """(tp, fp, fn) counts of one family for one clip."""
    t, p = family in true, family in predicted
    return int(t and p), int(p and not t), int(t and not p)


def frame_counts(ref: np.ndarray | None, est: np.ndarray | None) -> tuple[int, int, int]:
    """(tp, fp, fn) frames of one family's activity; a missing side counts as silent."""
    n = max(len(ref) if ref is not None else 0, len(est) if est is not None else 0)
    r = np.zeros(n, bool) if ref is None else np.pad(ref, (0, n - len(ref)))
    e = np.zeros(n, bool) if est is None else np.pad(est, (0, n - len(est)))[:n]
    return int(np.sum(r & e)), int(np.sum(e & ~r)), int(np.sum(r & ~e))


def f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
