"""Write an analysis to a directory: result.json, stems (FLAC), MIDI per stem, pictures, report.md/.html."""

from __future__ import annotations

from pathlib import Path

import soundfile as sf

from audiowave.forensics.evidence import draw_evidence
from audiowave.pictures import annotated_spectrogram, waveform_thumbnail
from audiowave.pipeline import Analysis
from audiowave.report.html import html_report
from audiowave.report.markdown import markdown_report
from audiowave.samples.proof import write_proof
from audiowave.schema import AnalysisResult


def output_dir_for(base: Path, source: str) -> Path:
    """One sub-directory per input file, named after it."""
    return base / Path(source).stem


def write_analysis(analysis: Analysis, out_dir: Path, save_stems: bool = False, pictures: bool = True) -> Path:
    """Save artefacts, record their paths in the result, then write ``result.json``. Returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    result, clip = analysis.result, analysis.clip
    if save_stems and analysis.separation is not None:
        stem_dir = out_dir / "stems"
        stem_dir.mkdir(exist_ok=True)
        for stem in result.stems:
            path = stem_dir / f"{stem.name}.flac"
            sf.write(path, analysis.separation.stems[stem.name].T, clip.sample_rate, subtype="PCM_24")
            stem.path = str(path)
    if analysis.midi:
        midi_dir = out_dir / "midi"
        midi_dir.mkdir(exist_ok=True)
        for notes in result.notes:
            path = midi_dir / f"{notes.stem}.mid"
            analysis.midi[notes.stem].write(str(path))
            notes.midi_path = str(path)
    if result.samples is not None:
        for i, (found, proof) in analysis.sample_proofs.items():
            result.samples.matches[i].proof = write_proof(proof, found, out_dir / "samples", f"{i + 1:02d}")
    if pictures and result.forensics is not None:
        for i, (source, finding) in enumerate(analysis.findings):
            if finding.detected and finding.evidence is not None:
                path = draw_evidence(finding, source, out_dir / "forensics" / f"{finding.effect}-{source}.png")
                result.forensics.techniques[i].evidence = str(path)
    if pictures:
        result.pictures["waveform"] = str(waveform_thumbnail(clip.samples, clip.sample_rate, out_dir / "waveform.png"))
        result.pictures["spectrogram"] = str(
            annotated_spectrogram(clip.mono, clip.sample_rate, result, out_dir / "spectrogram.png")
        )
    write_reports(result, out_dir)
    path = out_dir / "result.json"
    path.write_text(result.model_dump_json(indent=2))
    return path


def write_reports(result: AnalysisResult, out_dir: Path, prose: str = "", prose_by: str = "") -> None:
    """report.md (pictures linked relative to ``out_dir``) and report.html (pictures inlined); ``prose`` is an
    already checked paragraph to put under the title."""
    images: dict[str, bytes] = {}

    def link(path: str) -> str:
        p = Path(path) if Path(path).is_absolute() else out_dir / path
        try:
            rel = p.resolve().relative_to(out_dir.resolve()).as_posix()
        except ValueError:  # written elsewhere and moved here: the file keeps its place inside the folder
            rel = Path(path).name
        if (out_dir / rel).is_file():
            images[rel] = (out_dir / rel).read_bytes()
        return rel

    markdown = markdown_report(result, link, prose=prose, prose_by=prose_by)
    (out_dir / "report.md").write_text(markdown)
    (out_dir / "report.html").write_text(html_report(markdown, Path(result.source.path).name, images))
