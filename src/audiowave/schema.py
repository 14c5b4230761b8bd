"""The analysis result document: pydantic models, versioned, exported as JSON Schema.

One :class:`AnalysisResult` is written per analysed file (``result.json``). Every section that a
model or algorithm produced names its backend, so a reader always knows what made each value.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.5.0"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BackendInfo(_Model):
    """What produced a section: library/model name, version, and whether it is a fallback."""

    name: str
    version: str = ""
    model: str = ""
    fallback: bool = False
    licence: str = ""
    note: str = ""


class SourceInfo(_Model):
    path: str
    container: str
    native_sample_rate: int
    native_channels: int
    sha256: str


class TempoCandidate(_Model):
    bpm: float
    strength: float = Field(ge=0)


class Tempo(_Model):
    bpm: float
    confidence: float = Field(ge=0, le=1)
    candidates: list[TempoCandidate] = Field(default_factory=list, description="Other tempi, incl. octaves")
    octave_corrected: bool = Field(False, description="True when the raw estimate was halved/doubled")
    backend: BackendInfo


class Meter(_Model):
    beats_per_bar: int
    label: str = Field(description="e.g. '4/4', '3/4'")
    confidence: float = Field(ge=0, le=1)


class Rhythm(_Model):
    beats: list[float] = Field(description="Beat times in seconds")
    downbeats: list[float] = Field(description="Downbeat (bar start) times in seconds")
    meter: Meter
    onsets: list[float] = Field(description="Onset times in seconds")
    backend: BackendInfo
    onset_backend: BackendInfo


class KeyCandidate(_Model):
    tonic: str
    mode: str
    label: str
    confidence: float = Field(ge=0, le=1)


class Key(_Model):
    tonic: str
    mode: str = Field(description="'major' or 'minor'")
    label: str
    confidence: float = Field(ge=0, le=1)
    runner_up: KeyCandidate | None = None
    backend: BackendInfo


class ChordSegment(_Model):
    start: float
    end: float
    label: str = Field(description="mir_eval/Harte syntax, e.g. 'A:min', 'N' for no chord")
    confidence: float = Field(ge=0, le=1, description="Fit of the segment's chroma to the chord template")


class Chords(_Model):
    segments: list[ChordSegment]
    backend: BackendInfo


class Section(_Model):
    start: float
    end: float
    label: str


class Structure(_Model):
    sections: list[Section]
    backend: BackendInfo


class Loudness(_Model):
    integrated_lufs: float | None = Field(description="ITU-R BS.1770 integrated loudness; None if gated out")
    loudness_range_lu: float | None = Field(description="EBU Tech 3342 loudness range")
    true_peak_dbtp: float = Field(description="4x oversampled peak (BS.1770 annex 2)")
    sample_peak_dbfs: float
    crest_factor_db: float
    backend: BackendInfo


class SpectralSummary(_Model):
    centroid_hz: float
    bandwidth_hz: float
    rolloff_hz: float
    flatness: float
    zero_crossing_rate: float
    rms_dbfs: float
    low_end_share: float = Field(description="Share of energy below 150 Hz")
    backend: BackendInfo


class Stem(_Model):
    name: str
    path: str | None = Field(None, description="Written audio file, when stems are saved")
    energy_share: float = Field(ge=0, description="Share of the mix energy in this stem")
    backend: BackendInfo


class TimeSpan(_Model):
    start: float
    end: float


class Instrument(_Model):
    label: str
    family: str
    confidence: float = Field(ge=0, le=1)
    spans: list[TimeSpan] = Field(default_factory=list)
    source: str = Field("mix", description="'mix' or the stem it was recognised in")
    backend: BackendInfo


class Tagging(_Model):
    status: str = Field(description="'ran' or 'no tagger' (with the reason in note)")
    note: str = ""
    backend: BackendInfo | None = None


class NoteEvent(_Model):
    start: float
    end: float
    pitch: int = Field(ge=0, le=127, description="MIDI note number")
    velocity: int = Field(ge=0, le=127)
    confidence: float = Field(ge=0, le=1)


class StemNotes(_Model):
    stem: str
    notes: list[NoteEvent]
    midi_path: str | None = None
    backend: BackendInfo


class PitchContour(_Model):
    stem: str
    hop_s: float
    start_s: float = 0.0
    f0_hz: list[float | None] = Field(description="One value per hop; None where unvoiced")
    confidence: list[float]
    median_f0_hz: float | None
    voiced_share: float
    backend: BackendInfo


class SampleOccurrence(_Model):
    start_s: float = Field(description="Where the sample starts sounding in the track")
    end_s: float
    score: float = Field(description="Matched-filter correlation at this occurrence")


class SampleProof(_Model):
    """Evidence for a match: the track excerpt and the library sample, aligned, as audio and a picture."""

    excerpt_start_s: float | None = None
    excerpt_end_s: float | None = None
    track_audio: str | None = Field(None, description="FLAC of the track excerpt")
    sample_audio: str | None = Field(None, description="FLAC of the library sample, transformed and aligned")
    picture: str | None = Field(None, description="PNG: both spectrograms on one time axis")
    note: str = ""


class SampleAlternative(_Model):
    """Another library file that a match stands for: the same recording at another gain (equally likely the one
    used), or another recording of the same sound heard only where the match is, matched less well."""

    library: str
    path: str
    name: str
    content_hash: str
    gain_db: float = Field(description="Level in the track relative to this file")
    confidence: float | None = Field(None, ge=0, le=1, description="This file's own match confidence")


class SampleMatchResult(_Model):
    """A library sample found in the track and how it was transformed."""

    library: str
    path: str = Field(description="Path of the sample inside its library")
    pack: str
    name: str
    content_hash: str
    kind: str = Field(description="'one-shot' or 'loop'")
    licence: str = ""
    duration_s: float
    confidence: float = Field(ge=0, le=1)
    pitch_semitones: int
    time_stretch: float = Field(description="Duration ratio in the track vs the library (1.0 = unchanged)")
    gain_db: float = Field(description="Level in the track relative to the library file")
    sample_offset_s: float = Field(description="Where in the sample the matched part begins")
    source: str = Field("mix", description="'mix' or the stem the match was found in")
    occurrences: list[SampleOccurrence]
    alternatives: list[SampleAlternative] = Field(
        default_factory=list, description="Other library files with the same recording at another gain"
    )
    similar: list[SampleAlternative] = Field(
        default_factory=list,
        description="Other recordings of the same sound (another velocity layer, the hit in another file) that match"
        " only where this one does, less confidently",
    )
    proof: SampleProof | None = None


class SampleIdentification(_Model):
    status: str = Field(description="'ran' or 'no index' (with the reason in note)")
    index: str = Field("", description="Index directory and size")
    index_version: str = ""
    threshold: float | None = None
    matches: list[SampleMatchResult] = Field(default_factory=list)
    cached_sources: list[str] = Field(default_factory=list, description="Sources answered from the match cache")
    note: str = ""
    backend: BackendInfo | None = None


class StageTiming(_Model):
    stage: str
    seconds: float


class Technique(_Model):
    """One production technique or effect examined in one source, with what was measured."""

    effect: str = Field(description="e.g. 'sidechain', 'reverb', 'clipping' (see audiowave.forensics.EFFECTS)")
    source: str = Field("mix", description="'mix' or the stem it was examined in")
    detected: bool
    confidence: float = Field(ge=0, le=1, description="How sure the detector is that the effect is present")
    spans: list[TimeSpan] = Field(default_factory=list, description="Where it acts (empty: the whole clip)")
    parameters: dict[str, float | str] = Field(default_factory=dict, description="Estimates, units in the names")
    description: str = Field("", description="One line for a producer")
    evidence: str | None = Field(None, description="Picture of the evidence (PNG path), when written")


class Forensics(_Model):
    """Production techniques and effects in the mix and the stems (signal-processing detectors)."""

    techniques: list[Technique] = Field(default_factory=list, description="Every effect examined per source")
    backend: BackendInfo


class AnalysisResult(_Model):
    """The whole analysis of one file."""

    schema_version: str = SCHEMA_VERSION
    audiowave_version: str
    source: SourceInfo
    duration_s: float
    sample_rate: int
    channels: int
    tempo_bpm: float | None = None
    tempo: Tempo | None = None
    rhythm: Rhythm | None = None
    beats: list[float] = Field(default_factory=list)
    downbeats: list[float] = Field(default_factory=list)
    meter: Meter | None = None
    key: Key | None = None
    chords: Chords | None = None
    structure: Structure | None = None
    loudness: Loudness | None = None
    spectral: SpectralSummary | None = None
    stems: list[Stem] = Field(default_factory=list)
    instruments: list[Instrument] = Field(default_factory=list)
    tagging: Tagging | None = None
    notes: list[StemNotes] = Field(default_factory=list)
    pitch: list[PitchContour] = Field(default_factory=list)
    samples: SampleIdentification | None = None
    forensics: Forensics | None = None
    backends: dict[str, BackendInfo] = Field(default_factory=dict, description="Stage name -> backend")
    timings: list[StageTiming] = Field(default_factory=list)
    pictures: dict[str, str] = Field(default_factory=dict, description="Picture name -> PNG path")
    warnings: list[str] = Field(default_factory=list)
    calibration: str = Field(
        "", description="How the confidences were calibrated ('' = the models' and detectors' raw confidences)"
    )
    raw_confidences: dict[str, float] = Field(
        default_factory=dict,
        description="When calibrated: the raw confidence per item ('tempo', 'key', "
        "'instrument:<label>@<source>', 'effect:<effect>@<source>', 'sample:<name>')",
    )


def json_schema() -> dict:
    """JSON Schema of :class:`AnalysisResult` (written to docs/result.schema.json)."""
    schema = AnalysisResult.model_json_schema()
    schema["$id"] = f"https://audiowave.invalid/schema/result-{SCHEMA_VERSION}.json"
    return schema
