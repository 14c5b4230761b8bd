"""Run every detector on the mix and the relevant ones on each stem; assemble the Forensics section."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from audiowave import __version__
from audiowave.forensics.common import Finding, beat_period
from audiowave.forensics.dynamics import detect_clipping, detect_compression, detect_limiting
from audiowave.forensics.gestures import detect_glide, detect_tape_stop, detect_vibrato
from audiowave.forensics.modulation import detect_tremolo
from audiowave.forensics.provenance import detect_band_limit, detect_tuning
from audiowave.forensics.pumping import detect_sidechain
from audiowave.forensics.saturation import detect_bitcrush, detect_distortion
from audiowave.forensics.space import detect_delay, detect_reverb
from audiowave.forensics.stereo import detect_stereo
from audiowave.forensics.sweeps import detect_filter_sweep
from audiowave.schema import BackendInfo, Forensics

Input = Literal["mono", "stereo", "mono+beats", "mono+beat"]


@dataclass(frozen=True)
class Detector:
    effect: str
    run: Callable[..., Finding]
    needs: Input
    on_stems: bool  # also examined per stem (effects put on one part); else the mix only (mastering, history)


DETECTORS = (
    Detector("sidechain", detect_sidechain, "mono+beats", True),
    Detector("compression", detect_compression, "stereo", True),
    Detector("limiting", detect_limiting, "stereo", False),
    Detector("clipping", detect_clipping, "stereo", False),
    Detector("distortion", detect_distortion, "mono", True),
    Detector("bitcrush", detect_bitcrush, "stereo", False),
    Detector("reverb", detect_reverb, "mono", True),
    Detector("delay", detect_delay, "mono+beat", True),
    Detector("filter_sweep", detect_filter_sweep, "mono", True),
    Detector("tremolo", detect_tremolo, "mono+beat", True),
    Detector("vibrato", detect_vibrato, "mono", True),
    Detector("tape_stop", detect_tape_stop, "mono", False),
    Detector("glide", detect_glide, "mono", True),
    Detector("stereo", detect_stereo, "stereo", False),
    Detector("tuning", detect_tuning, "mono", False),
    Detector("band_limit", detect_band_limit, "mono", False),
)
EFFECTS = tuple(d.effect for d in DETECTORS)
BACKEND = BackendInfo(
    name="audiowave-forensics",
    version=__version__,
    model="signal processing (HPSS, decay fitting, PHAT autocorrelation, level statistics)",
)


def run_detector(detector: Detector, samples: np.ndarray, sr: int, beats: np.ndarray | None, beat_s: float) -> Finding:
    """One detector on (channels, n) audio."""
    mono = samples.mean(axis=0)
    if detector.needs == "stereo":
        return detector.run(samples, sr)
    if detector.needs == "mono+beats":
        return detector.run(mono, sr, beats)
    if detector.needs == "mono+beat":
        return detector.run(mono, sr, beat_s)
    return detector.run(mono, sr)


def examine(
    samples: np.ndarray,
    sr: int,
    beats: np.ndarray | None = None,
    stems: dict[str, np.ndarray] | None = None,
    effects: tuple[str, ...] = EFFECTS,
    progress: Callable[[float], None] | None = None,
) -> list[tuple[str, Finding]]:
    """(source, finding) for every wanted effect on the mix and, where it applies, on every stem."""
    beat_s, beats = beat_period(beats, samples.mean(axis=0), sr)
    jobs = [("mix", samples, d) for d in DETECTORS if d.effect in effects]
    for name, audio in (stems or {}).items():
        jobs += [(name, audio, d) for d in DETECTORS if d.effect in effects and d.on_stems]
    found = []
    for i, (source, audio, detector) in enumerate(jobs):
        found.append((source, run_detector(detector, audio, sr, beats, beat_s)))
        if progress:
            progress((i + 1) / len(jobs))
    return found


def forensics_section(findings: list[tuple[str, Finding]], evidence: dict[int, str] | None = None) -> Forensics:
    """The result section; ``evidence`` maps a finding's index to its written picture."""
    evidence = evidence or {}
    return Forensics(
        techniques=[f.to_technique(source, evidence.get(i)) for i, (source, f) in enumerate(findings)],
        backend=BACKEND,
    )
