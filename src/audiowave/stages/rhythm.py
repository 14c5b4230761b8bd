"""Tempo, beats, downbeats, meter and onsets (madmom RNN activations + DBN decoding).

Tempo octave errors are handled explicitly: the tempo implied by the tracked beats, its half and
its double are scored by the tempo-histogram strength times a log-normal tempo prior centred on
120 BPM (the range where listeners usually tap); the best-scoring octave wins and the others are
reported as candidates.
"""

from __future__ import annotations

import numpy as np

from audiowave.schema import Meter, Rhythm, Tempo, TempoCandidate
from audiowave.stages import madmom_runtime as mm

FPS = 100
PRIOR_CENTRE_BPM = 120.0
PRIOR_WIDTH_OCTAVES = 1.0


def tempo_prior(bpm: float) -> float:
    """Log-normal preference for tempi near 120 BPM (one octave standard deviation)."""
    return float(np.exp(-0.5 * (np.log2(bpm / PRIOR_CENTRE_BPM) / PRIOR_WIDTH_OCTAVES) ** 2))


def choose_tempo_octave(beat_bpm: float, histogram: np.ndarray) -> tuple[float, bool, list[TempoCandidate]]:
    """Pick beat_bpm, its half or its double by histogram strength x prior.

    ``histogram`` rows are (bpm, strength) from madmom's tempo estimator. Returns the chosen bpm,
    whether it differs from ``beat_bpm`` (octave-corrected) and all candidates with normalised scores.
    """

    def strength(bpm: float) -> float:
        if len(histogram) == 0:
            return 1.0
        near = np.abs(np.log2(histogram[:, 0] / bpm)) < 0.04
        return float(histogram[near, 1].sum()) + 0.05  # floor: an octave never seen is still possible

    options = [beat_bpm, beat_bpm / 2, beat_bpm * 2]
    options = [b for b in options if 40 <= b <= 250]
    scores = np.array([strength(b) * tempo_prior(b) for b in options])
    scores = scores / scores.sum()
    best = int(np.argmax(scores))
    # Keep the tracked tempo unless another octave is clearly better (hysteresis against flips).
    if best != 0 and scores[best] < 1.5 * scores[0]:
        best = 0
    cands = [TempoCandidate(bpm=round(b, 2), strength=round(float(s), 4)) for b, s in zip(options, scores, strict=True)]
    return options[best], best != 0, sorted(cands, key=lambda c: -c.strength)


def analyse_rhythm(mono: np.ndarray, sr: int) -> tuple[Tempo, Rhythm]:
    """Beats, downbeats, meter, onsets and tempo of a mono 44.1 kHz signal."""
    from madmom.features.beats import DBNBeatTrackingProcessor, RNNBeatProcessor
    from madmom.features.downbeats import DBNDownBeatTrackingProcessor, RNNDownBeatProcessor
    from madmom.features.onsets import CNNOnsetProcessor, OnsetPeakPickingProcessor
    from madmom.features.tempo import CombFilterTempoHistogramProcessor, TempoEstimationProcessor

    sig = mm.signal(mono, sr)
    beat_act = RNNBeatProcessor()(sig)
    comb = CombFilterTempoHistogramProcessor(min_bpm=40.0, max_bpm=250.0, fps=FPS)
    histogram = np.asarray(TempoEstimationProcessor(method=None, histogram_processor=comb, fps=FPS)(beat_act))
    down_act = RNNDownBeatProcessor()(sig)
    tracked = np.asarray(DBNDownBeatTrackingProcessor(beats_per_bar=[3, 4], fps=FPS)(down_act))
    if len(tracked) < 4:  # too few bars for the downbeat tracker: fall back to plain beat tracking
        beats = np.asarray(DBNBeatTrackingProcessor(fps=FPS)(beat_act))
        positions = np.zeros(len(beats))
    else:
        beats, positions = tracked[:, 0], tracked[:, 1]

    bpb, meter_conf = _meter(positions, down_act, beats)
    downbeats = beats[positions == 1] if positions.any() else np.array([])
    onset_act = CNNOnsetProcessor()(sig)
    onsets = np.asarray(OnsetPeakPickingProcessor(fps=FPS, threshold=0.5, combine=0.03)(onset_act))

    if len(beats) >= 2:
        beat_bpm = 60.0 / float(np.median(np.diff(beats)))
    elif len(histogram):
        beat_bpm = float(histogram[0, 0])
    else:
        beat_bpm = 120.0
    bpm, corrected, candidates = choose_tempo_octave(beat_bpm, histogram)
    regularity = _regularity(beats)
    backend = mm.backend("RNNDownBeatProcessor+DBN")
    tempo = Tempo(
        bpm=round(bpm, 2),
        confidence=round(regularity * max(c.strength for c in candidates), 4),
        candidates=candidates,
        octave_corrected=corrected,
        backend=backend,
    )
    rhythm = Rhythm(
        beats=_r(beats),
        downbeats=_r(downbeats),
        meter=Meter(beats_per_bar=bpb, label=f"{bpb}/4", confidence=round(meter_conf, 4)),
        onsets=_r(onsets),
        backend=backend,
        onset_backend=mm.backend("CNNOnsetProcessor"),
    )
    return tempo, rhythm


def _meter(positions: np.ndarray, down_act: np.ndarray, beats: np.ndarray) -> tuple[int, float]:
    """Beats per bar from the tracked bar positions; confidence from the downbeat activation contrast."""
    if not positions.any():
        return 4, 0.0
    bpb = int(np.bincount(positions.astype(int)).nonzero()[0].max())
    idx = np.clip((beats * FPS).astype(int), 0, len(down_act) - 1)
    at_down = down_act[idx[positions == 1], 1]
    at_other = down_act[idx[positions != 1], 1]
    if len(at_down) == 0 or len(at_other) == 0:
        return bpb, 0.0
    a, b = float(at_down.mean()), float(at_other.mean())
    return bpb, max(0.0, min(1.0, (a - b) / (a + b + 1e-8)))


def _regularity(beats: np.ndarray) -> float:
    """1 for perfectly even beats, lower as inter-beat intervals vary."""
    if len(beats) < 3:
        return 0.0
    ibi = np.diff(beats)
    return float(np.clip(1.0 - np.std(ibi) / (np.mean(ibi) + 1e-8) * 2.0, 0.0, 1.0))


def _r(values: np.ndarray) -> list[float]:
    return [round(float(v), 3) for v in values]
