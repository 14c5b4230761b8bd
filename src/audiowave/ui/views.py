"""What the web UI shows, as plain data: facts rows, feedback targets, file groups. No Streamlit here."""

from __future__ import annotations

from dataclasses import dataclass

from audiowave.api_models import JobView
from audiowave.schema import AnalysisResult


@dataclass(frozen=True)
class FeedbackTarget:
    field: str  # the API's feedback field
    label: str  # what the button row says


def facts_rows(r: AnalysisResult) -> list[tuple[str, str]]:
    """(name, value) rows for the summary table."""
    rows = [("duration", f"{r.duration_s:.1f} s, {r.channels} ch, {r.source.native_sample_rate} Hz")]
    if r.tempo:
        rows.append(("tempo", f"{r.tempo.bpm:.1f} BPM (confidence {r.tempo.confidence:.2f})"))
    if r.meter:
        rows.append(("meter", f"{r.meter.label}, {len(r.downbeats)} bars"))
    if r.key:
        rows.append(("key", f"{r.key.label} (confidence {r.key.confidence:.2f})"))
    if r.loudness and r.loudness.integrated_lufs is not None:
        rows.append(
            ("loudness", f"{r.loudness.integrated_lufs:.1f} LUFS, true peak {r.loudness.true_peak_dbtp:.1f} dBTP")
        )
    if r.chords:
        chords = [c for c in r.chords.segments if c.label != "N"][:24]
        rows.append(("chords", " | ".join(f"{c.label} @{c.start:.1f}s" for c in chords)))
    if r.structure:
        rows.append(("sections", " ".join(f"{s.label} {s.start:.0f}-{s.end:.0f}s" for s in r.structure.sections)))
    return rows


def feedback_targets(r: AnalysisResult) -> list[FeedbackTarget]:
    """Every field of the result a user can mark right or wrong."""
    out = []
    if r.tempo:
        out.append(FeedbackTarget("tempo", f"tempo {r.tempo.bpm:.1f} BPM"))
    if r.key:
        out.append(FeedbackTarget("key", f"key {r.key.label}"))
    if r.meter:
        out.append(FeedbackTarget("meter", f"meter {r.meter.label}"))
    if r.chords and r.chords.segments:
        out.append(FeedbackTarget("chords", f"chords ({len(r.chords.segments)} changes)"))
    if r.structure and r.structure.sections:
        out.append(FeedbackTarget("structure", f"sections ({len(r.structure.sections)})"))
    for inst in r.instruments:
        out.append(FeedbackTarget(f"instrument:{inst.label}@{inst.source}", f"{inst.label} in {inst.source}"))
    for t in r.forensics.techniques if r.forensics else []:
        if t.detected and t.effect not in ("stereo", "tuning"):
            out.append(FeedbackTarget(f"effect:{t.effect}@{t.source}", f"{t.effect} in {t.source}"))
    for m in r.samples.matches if r.samples else []:
        out.append(FeedbackTarget(f"sample:{m.name}", f"sample {m.name}"))
    return out


def stem_links(job: JobView) -> dict[str, str]:
    """Stem name -> download link of its FLAC."""
    return {
        name.removeprefix("stems/").removesuffix(".flac"): link
        for name, link in job.links.items()
        if name.startswith("stems/") and name.endswith(".flac")
    }


def recipes_of(jobs: list[JobView], analysis_id: str) -> list[JobView]:
    """The recipe jobs made from ``analysis_id``."""
    return [j for j in jobs if j.kind == "recipe" and j.source_job == analysis_id]
