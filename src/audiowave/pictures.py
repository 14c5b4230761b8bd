"""Pictures a person would rather look at: waveform thumbnail and annotated spectrogram."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import librosa
import librosa.display
import matplotlib.pyplot as plt
import numpy as np

from audiowave.schema import AnalysisResult

SECTION_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")


def waveform_thumbnail(samples: np.ndarray, sr: int, path: Path, width_px: int = 1200, height_px: int = 200) -> Path:
    """Min/max envelope per pixel column of every channel (like a DAW overview)."""
    fig, ax = plt.subplots(figsize=(width_px / 100, height_px / 100), dpi=100)
    n = samples.shape[1]
    cols = min(width_px, n)
    edges = np.linspace(0, n, cols + 1).astype(int)
    t = edges[:-1] / sr
    for ch, colour in zip(samples, ("#3465a4", "#cc0000"), strict=False):
        lo = np.minimum.reduceat(ch, edges[:-1])
        hi = np.maximum.reduceat(ch, edges[:-1])
        ax.fill_between(t, lo, hi, color=colour, alpha=0.6 if samples.shape[0] > 1 else 0.9, linewidth=0)
    ax.set_xlim(0, n / sr)
    ax.set_ylim(-1.05, 1.05)
    ax.axis("off")
    fig.subplots_adjust(0, 0, 1, 1)
    fig.savefig(path)
    plt.close(fig)
    return path


def annotated_spectrogram(mono: np.ndarray, sr: int, result: AnalysisResult, path: Path) -> Path:
    """Mel spectrogram with beats, downbeats, chords and sections marked, and a lane per instrument family
    (its time spans) and per library sample found (its occurrences)."""
    duration = len(mono) / sr
    lanes = _event_lanes(result)
    fig, (ax_sec, ax_chord, ax_spec, ax_lanes) = plt.subplots(
        4,
        1,
        figsize=(max(10.0, min(duration * 0.6, 30.0)), 6.5 + 0.22 * len(lanes)),
        dpi=100,
        sharex=True,
        gridspec_kw={"height_ratios": [0.5, 0.6, 5, max(0.25 * len(lanes), 0.3)]},
    )
    mel = librosa.feature.melspectrogram(y=mono, sr=sr, n_fft=2048, hop_length=512, n_mels=128, fmax=sr / 2)
    librosa.display.specshow(
        librosa.power_to_db(mel, ref=np.max),
        sr=sr,
        hop_length=512,
        x_axis="time",
        y_axis="mel",
        fmax=sr / 2,
        ax=ax_spec,
        cmap="magma",
    )
    for b in result.beats:
        ax_spec.axvline(b, color="white", alpha=0.35, linewidth=0.6)
    for d in result.downbeats:
        ax_spec.axvline(d, color="cyan", alpha=0.9, linewidth=1.2)
    ax_spec.set_title(_title(result), fontsize=9, loc="left")

    if result.structure:
        for sec in result.structure.sections:
            colour = SECTION_COLOURS[(ord(sec.label[0]) - 65) % len(SECTION_COLOURS)]
            ax_sec.axvspan(sec.start, sec.end, color=colour, alpha=0.8)
            ax_sec.text(
                (sec.start + sec.end) / 2,
                0.5,
                sec.label,
                ha="center",
                va="center",
                color="white",
                fontsize=9,
                fontweight="bold",
            )
    ax_sec.set_yticks([])
    ax_sec.set_ylabel("sections", rotation=0, ha="right", va="center", fontsize=8)
    if result.chords:
        for i, seg in enumerate(result.chords.segments):
            ax_chord.axvspan(seg.start, seg.end, color="#eeeeee" if i % 2 else "#d9d9d9")
            if seg.end - seg.start > duration / 80:
                ax_chord.text(
                    (seg.start + seg.end) / 2,
                    0.5,
                    seg.label.replace(":maj", "").replace(":min", "m"),
                    ha="center",
                    va="center",
                    fontsize=7,
                )
    ax_chord.set_yticks([])
    ax_chord.set_ylabel("chords", rotation=0, ha="right", va="center", fontsize=8)
    for row, (_, spans, colour) in enumerate(lanes):
        ax_lanes.broken_barh(spans, (row + 0.15, 0.7), color=colour)
    ax_lanes.set_yticks([r + 0.5 for r in range(len(lanes))], [label for label, _, _ in lanes], fontsize=7)
    ax_lanes.set_ylim(max(len(lanes), 1), 0)  # an empty lane strip still needs a height
    ax_lanes.set_xlabel("seconds")
    ax_spec.set_xlabel("")
    ax_spec.set_xlim(0, duration)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _event_lanes(result: AnalysisResult) -> list[tuple[str, list[tuple[float, float]], str]]:
    """(label, [(start, width)], colour) per instrument family heard in the mix, per detected technique and per
    sample found (top 5)."""
    lanes = [
        (i.family, [(s.start, s.end - s.start) for s in i.spans], "tab:green")
        for i in sorted((i for i in result.instruments if i.source == "mix"), key=lambda i: i.family)
    ]
    if result.forensics is not None:
        lanes += [
            (
                f"{t.effect} ({t.source})",
                [(s.start, s.end - s.start) for s in t.spans] or [(0.0, result.duration_s)],
                "tab:purple",
            )
            for t in result.forensics.techniques
            if t.detected and t.effect not in ("stereo", "tuning")
        ]
    if result.samples is not None:
        lanes += [
            (f"sample {m.name[:24]}", [(o.start_s, o.end_s - o.start_s) for o in m.occurrences], "tab:orange")
            for m in result.samples.matches[:5]
        ]
    return lanes


def _title(result: AnalysisResult) -> str:
    parts = [Path(result.source.path).name]
    if result.tempo_bpm:
        parts.append(f"{result.tempo_bpm:.1f} BPM")
    if result.meter:
        parts.append(result.meter.label)
    if result.key:
        parts.append(f"key {result.key.label} ({result.key.confidence:.2f})")
    parts.append("white: beats, cyan: downbeats")
    return "  |  ".join(parts)
