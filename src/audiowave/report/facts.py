"""The checkable facts of an analysis: what the template states and what LLM prose is checked against."""

from __future__ import annotations

from dataclasses import dataclass, field

from audiowave.schema import AnalysisResult

NOTE_CONFIDENCE = 0.0  # every reported instrument counts as stated (the recogniser already applied its thresholds)


@dataclass
class Facts:
    tempo_bpm: float | None = None
    key: str | None = None
    key_runner_up: str | None = None
    instruments: set[str] = field(default_factory=set)  # families and labels, lower case
    effects: set[str] = field(default_factory=set)  # detected technique names
    samples: set[str] = field(default_factory=set)  # names of library samples found
    sections: list[str] = field(default_factory=list)


def facts_of(result: AnalysisResult) -> Facts:
    f = Facts(tempo_bpm=result.tempo.bpm if result.tempo else None)
    if result.key:
        f.key = result.key.label
        f.key_runner_up = result.key.runner_up.label if result.key.runner_up else None
    for inst in result.instruments:
        f.instruments |= {inst.family.lower(), inst.label.lower()}
    if result.forensics:
        f.effects = {
            t.effect for t in result.forensics.techniques if t.detected and t.effect not in ("stereo", "tuning")
        }
    if result.samples:
        f.samples = {m.name for m in result.samples.matches}
    if result.structure:
        f.sections = [s.label for s in result.structure.sections]
    return f
