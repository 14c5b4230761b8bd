"""The offline analysis pipeline: decode once, run the selected stages, assemble one result.

Models are loaded lazily on first use and kept, so analysing several files in one process loads
each model once. The Ray service hosts the same stage functions in its deployments.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from audiowave import __version__
from audiowave.audio_io import AudioClip, load_audio
from audiowave.calibration import Calibration, calibrate_result
from audiowave.config import Settings, get_settings
from audiowave.errors import AudiowaveError, InputError
from audiowave.families import stem_allows
from audiowave.midi import pretty_midi
from audiowave.registry import sha256_file
from audiowave.samples.identify import FoundSample, SampleMatcher
from audiowave.schema import AnalysisResult, SampleIdentification, SampleProof, SourceInfo, StageTiming, Stem, Tagging
from audiowave.stages.separation import MONOPHONIC_STEMS, PITCHED_STEMS, Separation, Separator, load_separator
from audiowave.stages.tagging_protocol import Tagger

if TYPE_CHECKING:
    from audiowave.forensics.common import Finding
    from audiowave.samples.proof import ProofAudio

STAGES = (
    "separation",
    "rhythm",
    "tonal",
    "structure",
    "loudness",
    "spectral",
    "notes",
    "pitch",
    "tagging",
    "forensics",
    "samples",
)
MAX_PROOFS = 10
MIN_STEM_SHARE = 0.001  # stems 30 dB below the mix are treated as empty


class StageObserver(Protocol):
    """Receives stage start/progress/end events (CLI progress bars, job status in the service)."""

    def start(self, stage: str) -> None: ...
    def progress(self, stage: str, fraction: float) -> None: ...
    def end(self, stage: str, seconds: float) -> None: ...


class SilentObserver:
    def start(self, stage: str) -> None:
        pass

    def progress(self, stage: str, fraction: float) -> None:
        pass

    def end(self, stage: str, seconds: float) -> None:
        pass


@dataclass
class Analysis:
    """A result plus the in-memory artefacts that the writer saves (stems, MIDI)."""

    result: AnalysisResult
    clip: AudioClip
    separation: Separation | None = None
    midi: dict[str, pretty_midi.PrettyMIDI] = field(default_factory=dict)
    sample_proofs: dict[int, tuple[FoundSample, ProofAudio]] = field(default_factory=dict)
    findings: list[tuple[str, Finding]] = field(default_factory=list)  # forensics, for the evidence pictures


def parse_stages(names: Iterable[str] | None) -> tuple[str, ...]:
    """Validate stage names (comma lists allowed); None or empty means all stages."""
    wanted = [n.strip() for name in (names or []) for n in name.split(",") if n.strip()]
    unknown = sorted(set(wanted) - set(STAGES))
    if unknown:
        raise InputError(f"unknown stage(s): {', '.join(unknown)} (choose from {', '.join(STAGES)})")
    return tuple(s for s in STAGES if s in wanted) if wanted else STAGES


class Pipeline:
    """Runs the analysis stages on files; holds loaded models between files."""

    def __init__(
        self,
        settings: Settings | None = None,
        stages: Iterable[str] | None = None,
        separator: tuple[Separator, str | None] | None = None,
        tagger: tuple[Tagger | None, str | None] | None = None,
        sample_matcher: tuple[SampleMatcher | None, str | None] | None = None,
        raw_confidences: bool = False,
    ) -> None:
        """``separator``/``tagger``/``sample_matcher`` ((model, warning-or-reason)) replace the locally
        loaded ones, e.g. with proxies to Ray Serve deployments; by default they are loaded on first use.
        The installed confidence calibration is applied unless ``raw_confidences`` (as the evaluation needs)."""
        self.settings = settings or get_settings()
        self.stages = parse_stages(stages)
        self.calibration = None if raw_confidences else Calibration.load(self.settings.calibration_file)
        if separator is not None:
            self.__dict__["_separator"] = separator  # pre-fills the cached_property below
        if tagger is not None:
            self.__dict__["_tagger"] = tagger
        if sample_matcher is not None:
            self.__dict__["_sample_matcher"] = sample_matcher

    @cached_property
    def _separator(self) -> tuple[Separator, str | None]:
        return load_separator(self.settings)

    @cached_property
    def _transcriber(self):
        from audiowave.stages.notes import NoteTranscriber

        return NoteTranscriber()

    @cached_property
    def _pitch_tracker(self):
        from audiowave.stages.pitch import PitchTracker

        return PitchTracker(device=self.settings.device)

    @cached_property
    def _tagger(self) -> tuple[Tagger | None, str | None]:
        from audiowave.stages.tagger_choice import load_tagger

        return load_tagger(self.settings)

    @cached_property
    def _sample_matcher(self) -> tuple[SampleMatcher | None, str | None]:
        from audiowave.samples.identify import load_sample_matcher

        return load_sample_matcher(self.settings)

    def analyze(self, path: str | Path, observer: StageObserver | None = None) -> Analysis:
        """Analyse one file. Raises InputError for unusable input."""
        observer = observer or SilentObserver()
        timings: list[StageTiming] = []

        def run(stage: str, fn):
            observer.start(stage)
            t0 = time.perf_counter()
            value = fn()
            seconds = time.perf_counter() - t0
            timings.append(StageTiming(stage=stage, seconds=round(seconds, 3)))
            observer.end(stage, seconds)
            return value

        clip = run("decode", lambda: load_audio(path, self.settings))
        sr, mono = clip.sample_rate, clip.mono
        result = AnalysisResult(
            audiowave_version=__version__,
            source=SourceInfo(
                path=str(path),
                container=clip.container,
                native_sample_rate=clip.native_sample_rate,
                native_channels=clip.native_channels,
                sha256=sha256_file(Path(path)),
            ),
            duration_s=round(clip.duration_s, 3),
            sample_rate=sr,
            channels=clip.channels,
            warnings=list(clip.warnings),
        )
        analysis = Analysis(result=result, clip=clip)

        if "separation" in self.stages:
            separator, warning = self._separator
            if warning:
                result.warnings.append(warning)
            sep = run("separation", lambda: separator.separate(clip, lambda f: observer.progress("separation", f)))
            analysis.separation = sep
            total = float(np.sum(clip.samples.astype(np.float64) ** 2)) or 1.0
            result.stems = [
                Stem(
                    name=name,
                    energy_share=round(float(np.sum(audio.astype(np.float64) ** 2)) / total, 4),
                    backend=sep.backend,
                )
                for name, audio in sep.stems.items()
            ]
            result.backends["separation"] = sep.backend
        if "rhythm" in self.stages:
            from audiowave.stages.rhythm import analyse_rhythm

            tempo, rhythm = run("rhythm", lambda: analyse_rhythm(mono, sr))
            result.tempo, result.rhythm, result.tempo_bpm = tempo, rhythm, tempo.bpm
            result.beats, result.downbeats, result.meter = rhythm.beats, rhythm.downbeats, rhythm.meter
            result.backends["rhythm"] = rhythm.backend
        if "tonal" in self.stages:
            from audiowave.stages.tonal import analyse_chords, analyse_key

            result.key, result.chords = run("tonal", lambda: (analyse_key(mono, sr), analyse_chords(mono, sr)))
            result.backends["key"] = result.key.backend
            result.backends["chords"] = result.chords.backend
        if "structure" in self.stages:
            from audiowave.stages.structure import analyse_structure

            result.structure = run("structure", lambda: analyse_structure(mono, sr, result.beats))
            result.backends["structure"] = result.structure.backend
        if "loudness" in self.stages:
            from audiowave.stages.loudness import analyse_loudness

            result.loudness = run("loudness", lambda: analyse_loudness(clip.samples, sr))
            result.backends["loudness"] = result.loudness.backend
        if "spectral" in self.stages:
            from audiowave.stages.spectral import analyse_spectrum

            result.spectral = run("spectral", lambda: analyse_spectrum(mono, sr))
            result.backends["spectral"] = result.spectral.backend
        if "notes" in self.stages:
            run("notes", lambda: self._notes(analysis, observer))
        if "pitch" in self.stages:
            run("pitch", lambda: self._pitch(analysis, observer))
        if "tagging" in self.stages:
            run("tagging", lambda: self._tag(analysis))
        if "forensics" in self.stages:
            run("forensics", lambda: self._forensics(analysis, observer))
        if "samples" in self.stages:
            run("samples", lambda: self._samples(analysis, observer))
        if self.calibration is not None:
            calibrate_result(result, self.calibration)
        result.timings = timings
        return analysis

    def _stems_for(self, analysis: Analysis, wanted: tuple[str, ...]) -> list[tuple[str, np.ndarray]]:
        """(name, mono audio) of the separated stems in ``wanted`` that carry signal; the mix if none."""
        if analysis.separation is None:
            return [("mix", analysis.clip.mono)]
        shares = {s.name: s.energy_share for s in analysis.result.stems}
        picked = [
            (name, audio.mean(axis=0))
            for name, audio in analysis.separation.stems.items()
            if name in wanted and shares.get(name, 0.0) >= MIN_STEM_SHARE
        ]
        return picked

    def _notes(self, analysis: Analysis, observer: StageObserver) -> None:
        stems = self._stems_for(analysis, PITCHED_STEMS)
        for i, (name, audio) in enumerate(stems):
            notes, midi = self._transcriber.transcribe(audio, analysis.clip.sample_rate, name)
            analysis.result.notes.append(notes)
            analysis.midi[name] = midi
            observer.progress("notes", (i + 1) / len(stems))
        analysis.result.backends["notes"] = self._transcriber.backend

    def _pitch(self, analysis: Analysis, observer: StageObserver) -> None:
        stems = self._stems_for(analysis, MONOPHONIC_STEMS)
        if not stems:
            analysis.result.warnings.append("pitch: no monophonic stem (bass/vocals) with signal; no f0 contour")
        for i, (name, audio) in enumerate(stems):
            analysis.result.pitch.append(self._pitch_tracker.track(audio, analysis.clip.sample_rate, name))
            observer.progress("pitch", (i + 1) / len(stems))
        analysis.result.backends["pitch"] = self._pitch_tracker.backend

    def _tag(self, analysis: Analysis) -> None:
        tagger, note = self._tagger
        if tagger is None:
            analysis.result.tagging = Tagging(status="no tagger", note=f"{note}: no instruments reported.")
            analysis.result.warnings.append("tagging: no tagger available, instruments not reported")
            return
        clip = analysis.clip
        sources = [("mix", clip.mono)]
        # Fallback stems are band splits, not sources: on the dev corpus their tags were only false alarms
        # (percussive -> drums 15 false / 0 new; bass -> bass 8 false / 0 new), so only model stems are tagged.
        if analysis.separation is not None and not analysis.separation.backend.fallback:
            sources += self._stems_for(analysis, tuple(analysis.separation.stems))
        found = tagger.tag_many([(audio, clip.sample_rate, name) for name, audio in sources])
        instruments = [
            inst
            for (name, _), per_source in zip(sources, found, strict=True)
            for inst in per_source
            if stem_allows(name, inst.family)
        ]
        analysis.result.instruments = instruments
        analysis.result.tagging = Tagging(status="ran", backend=tagger.backend, note=note or "")
        analysis.result.backends["tagging"] = tagger.backend

    def _forensics(self, analysis: Analysis, observer: StageObserver) -> None:
        """Techniques and effects in the mix and in every separated stem that carries signal."""
        from audiowave.forensics.detect import examine, forensics_section

        stems = {}
        # Fallback stems are band splits (HPSS), not sources: an effect measured on them describes the split.
        if analysis.separation is not None and not analysis.separation.backend.fallback:
            shares = {s.name: s.energy_share for s in analysis.result.stems}
            stems = {n: a for n, a in analysis.separation.stems.items() if shares.get(n, 0.0) >= MIN_STEM_SHARE}
        beats = np.asarray(analysis.result.beats) if analysis.result.beats else None
        clip = analysis.clip
        analysis.findings = examine(
            clip.samples, clip.sample_rate, beats, stems, progress=lambda f: observer.progress("forensics", f)
        )
        analysis.result.forensics = forensics_section(analysis.findings)
        analysis.result.backends["forensics"] = analysis.result.forensics.backend

    def _samples(self, analysis: Analysis, observer: StageObserver) -> None:
        """Library samples in the mix (and the stems, when configured), with proof snippets for the best."""
        from audiowave.samples.proof import proof_audio

        result = analysis.result
        matcher, reason = self._sample_matcher
        if matcher is None:
            result.samples = SampleIdentification(status="no index", note=reason or "")
            result.warnings.append(f"samples: {reason}")
            return
        sources = [("mix", analysis.clip.mono)]
        if self.settings.sample_search_stems and analysis.separation is not None:
            sources += self._stems_for(analysis, tuple(analysis.separation.stems))
        threshold = self.settings.sample_threshold
        found, cached = matcher.find(sources, analysis.clip.sample_rate, threshold)
        observer.progress("samples", 0.8)
        section = SampleIdentification(
            status="ran",
            index=matcher.description,
            index_version=matcher.version,
            threshold=threshold,
            matches=[f.to_result() for f in found],
            cached_sources=cached,
            backend=matcher.backend,
        )
        for i, f in enumerate(found[:MAX_PROOFS]):
            try:
                analysis.sample_proofs[i] = (f, proof_audio(analysis.clip, f))
            except (OSError, ValueError, AudiowaveError) as exc:
                section.matches[i].proof = SampleProof(note=f"no proof snippet: {exc}")
        result.samples = section
        result.backends["samples"] = matcher.backend
