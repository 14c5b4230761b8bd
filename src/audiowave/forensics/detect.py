"""Run every detector on the mix and the relevant ones on each stem; assemble the Forensics section."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from audiowave import __version__
from audiowave.forensics.comb import detect_chorus, detect_flanger
from audiowave.forensics.common import ENV_HOP_S, Finding, Signal
from audiowave.forensics.dynamics import detect_clipping, detect_compression, detect_limiting
from audiowave.forensics.gestures import detect_glide, detect_tape_stop, detect_vibrato
from audiowave.forensics.modulation import detect_tremolo
from audiowave.forensics.phaser import detect_phaser
from audiowave.forensics.provenance import detect_band_limit, detect_tuning
from audiowave.forensics.pumping import detect_sidechain
from audiowave.forensics.saturation import detect_bitcrush, detect_distortion
from audiowave.forensics.space import detect_delay, detect_reverb
from audiowave.forensics.stereo import detect_stereo
from audiowave.forensics.sweeps import detect_filter_sweep
from audiowave.schema import BackendInfo, Forensics


@dataclass(frozen=True)
class Detector:
    effect: str
    run: Callable[[Signal], Finding]
    on_stems: bool  # also examined per stem (effects put on one part); else the mix only (mastering, history)


DETECTORS = (
    Detector("sidechain", detect_sidechain, True),
    Detector("compression", detect_compression, True),
    Detector("limiting", detect_limiting, False),
    Detector("clipping", detect_clipping, False),
    Detector("distortion", detect_distortion, True),
    Detector("bitcrush", detect_bitcrush, False),
    Detector("reverb", detect_reverb, True),
    Detector("delay", detect_delay, True),
    Detector("filter_sweep", detect_filter_sweep, True),
    Detector("tremolo", detect_tremolo, True),
    Detector("vibrato", detect_vibrato, True),
    # chorus/flanger on the mix only for now: their shared path search and reading cost ~5 s per 30 s of audio
    Detector("chorus", detect_chorus, False),
    Detector("flanger", detect_flanger, False),
    Detector("phaser", detect_phaser, False),  # ~1.5 s per 30 s: the mix only, like chorus/flanger
    Detector("tape_stop", detect_tape_stop, False),
    Detector("glide", detect_glide, True),
    Detector("stereo", detect_stereo, False),
    Detector("tuning", detect_tuning, False),
    Detector("band_limit", detect_band_limit, False),
)
EFFECTS = tuple(d.effect for d in DETECTORS)
BACKEND = BackendInfo(
    name="audiowave-forensics",
    version=__version__,
    model=(
        "signal processing (HPSS, decay fitting, PHAT autocorrelation, level statistics, cepstral delay tracks, "
        "swept notch alignment)"
    ),
)


def examine(
    samples: np.ndarray,
    sr: int,
    beats: np.ndarray | None = None,
    stems: dict[str, np.ndarray] | None = None,
    effects: tuple[str, ...] = EFFECTS,
    progress: Callable[[float], None] | None = None,
) -> list[tuple[str, Finding]]:
    """(source, finding) for every wanted effect on the mix and, where it applies, on every stem."""
    mix = Signal(samples, sr, beats)
    beats = mix.beat_grid[1]  # the stems share the mix's beat grid
    jobs = [(mix, "mix", d) for d in DETECTORS if d.effect in effects]
    for name, audio in (stems or {}).items():
        stem = Signal(audio, sr, beats)
        jobs += [(stem, name, d) for d in DETECTORS if d.effect in effects and d.on_stems]
    found = []
    for i, (signal, source, detector) in enumerate(jobs):
        found.append((source, detector.run(signal)))
        if progress:
            progress((i + 1) / len(jobs))
    signals = {source: signal for signal, source, _ in jobs if source != "mix"}
    for source, finding in found:
        if finding.effect == "sidechain" and finding.detected and source in signals:
            trigger = ducking_trigger(source, finding, signals, beats)
            if trigger:
                finding.parameters["ducks_to"] = trigger
                finding.description += f", keyed by {trigger}"
    return found


def ducking_trigger(
    ducked: str, finding: Finding, signals: dict[str, Signal], beats: np.ndarray, min_alignment: float = 2.0
) -> str | None:
    """The stem whose onsets fall on the pumping grid (first tenth of each period): what the ducked stem is
    keyed to. None when no stem's onsets line up at least ``min_alignment`` times more than on average."""
    from audiowave.forensics.pumping import trigger_grid

    grid = trigger_grid(beats, float(finding.parameters["rate_beats"]))
    period = float(np.median(np.diff(grid))) if len(grid) > 1 else 0.0
    best, best_alignment = None, min_alignment
    for name, signal in signals.items():
        strength = signal.onset_strength
        if name == ducked or period <= 0 or strength.mean() <= 0:
            continue
        on_grid = [
            strength[int(g / ENV_HOP_S) : int((g + 0.1 * period) / ENV_HOP_S) + 1].max()
            for g in grid
            if g / ENV_HOP_S < len(strength)
        ]
        alignment = float(np.mean(on_grid) / strength.mean()) if on_grid else 0.0
        if alignment > best_alignment:
            best, best_alignment = name, alignment
    return best


def forensics_section(findings: list[tuple[str, Finding]], evidence: dict[int, str] | None = None) -> Forensics:
    """The result section; ``evidence`` maps a finding's index to its written picture."""
    evidence = evidence or {}
    return Forensics(
        techniques=[f.to_technique(source, evidence.get(i)) for i, (source, f) in enumerate(findings)],
        backend=BACKEND,
    )
