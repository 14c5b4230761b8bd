"""A readable terminal summary of one analysis (rich)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from audiowave.schema import AnalysisResult, BackendInfo

MAX_CHORDS = 16


def _backend(b: BackendInfo | None) -> str:
    if b is None:
        return "-"
    text = b.name + (f" {b.version}" if b.version else "") + (f" [{b.model}]" if b.model else "")
    return text + (" (FALLBACK)" if b.fallback else "")


def summary_renderable(result: AnalysisResult) -> Panel:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    table.add_row(
        "duration",
        f"{result.duration_s:.2f} s, {result.channels} ch, "
        f"{result.source.native_sample_rate} Hz native ({result.source.container})",
    )
    if result.tempo:
        alts = ", ".join(f"{c.bpm:g}" for c in result.tempo.candidates if abs(c.bpm - result.tempo.bpm) > 0.5)
        table.add_row(
            "tempo",
            f"{result.tempo.bpm:.1f} BPM (confidence {result.tempo.confidence:.2f}"
            + (f"; other octaves {alts}" if alts else "")
            + ")"
            + (" octave-corrected" if result.tempo.octave_corrected else ""),
        )
    if result.meter:
        table.add_row(
            "meter",
            f"{result.meter.label} (confidence {result.meter.confidence:.2f}), "
            f"{len(result.beats)} beats, {len(result.downbeats)} bars",
        )
    if result.key:
        ru = result.key.runner_up
        table.add_row(
            "key",
            f"{result.key.label} ({result.key.confidence:.2f})"
            + (f"; runner-up {ru.label} ({ru.confidence:.2f})" if ru else ""),
        )
    if result.chords:
        segs = [s for s in result.chords.segments if s.label != "N"][:MAX_CHORDS]
        more = len(result.chords.segments) - len(segs)
        table.add_row(
            "chords",
            " | ".join(f"{s.label}@{s.start:.1f}" for s in segs) + (f"  (+{more})" if more > 0 else ""),
        )
    if result.structure:
        table.add_row("sections", " ".join(f"{s.label}[{s.start:.0f}-{s.end:.0f}s]" for s in result.structure.sections))
    if result.loudness:
        ld = result.loudness
        lufs = f"{ld.integrated_lufs:.1f} LUFS" if ld.integrated_lufs is not None else "n/a"
        lra = f"{ld.loudness_range_lu:.1f} LU" if ld.loudness_range_lu is not None else "n/a"
        table.add_row(
            "loudness",
            f"{lufs}, LRA {lra}, true peak {ld.true_peak_dbtp:.1f} dBTP, crest {ld.crest_factor_db:.1f} dB",
        )
    if result.spectral:
        sp = result.spectral
        table.add_row(
            "spectrum",
            f"centroid {sp.centroid_hz:.0f} Hz, rolloff {sp.rolloff_hz:.0f} Hz, "
            f"low end (<150 Hz) {sp.low_end_share * 100:.0f}%",
        )
    if result.stems:
        table.add_row("stems", ", ".join(f"{s.name} {s.energy_share * 100:.0f}%" for s in result.stems))
    if result.notes:
        table.add_row("notes", ", ".join(f"{n.stem}: {len(n.notes)}" for n in result.notes))
    for c in result.pitch:
        f0 = f"median f0 {c.median_f0_hz:.1f} Hz" if c.median_f0_hz else "no voiced frames"
        table.add_row("pitch", f"{c.stem}: {f0}, voiced {c.voiced_share * 100:.0f}%")
    if result.instruments:
        table.add_row(
            "instruments",
            ", ".join(
                f"{i.family if i.label == i.family else f'{i.family}/{i.label}'} ({i.confidence:.2f}, {i.source})"
                for i in result.instruments[:12]
            ),
        )
    elif result.tagging:
        table.add_row("instruments", f"{result.tagging.status}")
    if result.forensics is not None:
        table.add_row("techniques", _techniques_text(result))
    if result.samples is not None:
        table.add_row("samples", _samples_text(result))

    backends = Table("stage", "backend", box=None, padding=(0, 2), header_style="bold")
    for stage, b in result.backends.items():
        backends.add_row(stage, _backend(b))
    parts: list = [table, "", backends]
    if result.timings:
        parts += ["", "timings: " + ", ".join(f"{t.stage} {t.seconds:.1f}s" for t in result.timings)]
    for w in result.warnings:
        parts.append(f"[yellow]warning:[/yellow] {w}")
    if result.pictures:
        parts.append("pictures: " + ", ".join(result.pictures.values()))
    return Panel(Group(*parts), title=Path(result.source.path).name, expand=False)


def _samples_text(result: AnalysisResult) -> str:
    """One line per library sample found: name, where, transform, confidence."""
    section = result.samples
    if section.status != "ran":
        return section.status
    if not section.matches:
        return f"none found ({section.index})"
    lines = []
    for m in section.matches[:10]:
        at = ", ".join(f"{o.start_s:.2f}" for o in m.occurrences[:6]) + (" ..." if len(m.occurrences) > 6 else "")
        lines.append(
            f"{m.pack + '/' if m.pack else ''}{m.name} at {at} s: pitch {m.pitch_semitones:+d} st, "
            f"stretch {m.time_stretch:.2f}, gain {m.gain_db:+.1f} dB, conf {m.confidence:.2f} ({m.source})"
            + (f"; same recording: {', '.join(a.name for a in m.alternatives)}" if m.alternatives else "")
            + (f"; similar: {', '.join(a.name for a in m.similar)}" if m.similar else "")
        )
    return "\n".join(lines)


def _techniques_text(result: AnalysisResult) -> str:
    """One line per detected technique (mix first), then the tuning and stereo measurements."""
    found = [t for t in result.forensics.techniques if t.detected and t.effect not in ("stereo", "tuning")]
    lines = [f"{t.source}: {t.description} ({t.confidence:.2f})" for t in found]
    lines += [f"{t.source}: {t.description}" for t in result.forensics.techniques if t.effect in ("stereo", "tuning")]
    return "\n".join(lines) if lines else "no effects detected"
