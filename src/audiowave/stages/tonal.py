"""Key (with runner-up) and chords with times, from madmom's CNN key and CNN+CRF chord models.

Chord confidence is the cosine fit between the segment's mean chroma (librosa) and the chord's
triad template: the CRF gives a path, not posteriors, so the fit is the honest per-segment measure.
"""

from __future__ import annotations

import librosa
import numpy as np

from audiowave.schema import BackendInfo, Chords, ChordSegment, Key, KeyCandidate
from audiowave.stages import madmom_runtime as mm

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_TRIADS = {"maj": (0, 4, 7), "min": (0, 3, 7)}


def pitch_class(name: str) -> int:
    """Pitch class 0..11 of a note name such as 'Bb', 'F#', 'C'."""
    return int(librosa.note_to_midi(name + "0") % 12)


def analyse_key(mono: np.ndarray, sr: int) -> Key:
    from madmom.features.key import KEY_LABELS, CNNKeyRecognitionProcessor

    probs = np.asarray(CNNKeyRecognitionProcessor()(mm.signal(mono, sr)))[0]
    order = np.argsort(probs)[::-1]
    cands = []
    for i in order[:2]:
        tonic, mode = KEY_LABELS[i].split()
        cands.append(KeyCandidate(tonic=tonic, mode=mode, label=KEY_LABELS[i], confidence=round(float(probs[i]), 4)))
    best = cands[0]
    return Key(
        tonic=best.tonic,
        mode=best.mode,
        label=best.label,
        confidence=best.confidence,
        runner_up=cands[1],
        backend=BackendInfo(
            name="madmom", version=mm.version(), model="CNNKeyRecognitionProcessor", licence=mm.MADMOM_LICENCE
        ),
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
        backend=BackendInfo(
            name="madmom",
            version=mm.version(),
            model="CNNChordFeatureProcessor+CRF (maj/min)",
            licence=mm.MADMOM_LICENCE,
        ),
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
