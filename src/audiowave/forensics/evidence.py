"""Draw a finding's evidence (curves, marks, optional image) as a PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from audiowave.forensics.common import Finding


def draw_evidence(finding: Finding, source: str, path: Path) -> Path:
    """One figure: the image (if any) above the curves, marks as labelled vertical lines, verdict in the title."""
    ev = finding.evidence
    if ev is None:
        raise ValueError(f"{finding.effect} has no evidence to draw")
    rows = 2 if ev.image is not None else 1
    fig, axes = plt.subplots(rows, 1, figsize=(8, 3.2 * rows), dpi=100, squeeze=False, sharex=True)
    if ev.image is not None:
        ax = axes[0, 0]
        ax.imshow(
            ev.image,
            aspect="auto",
            origin="lower",
            cmap="magma",
            extent=(float(ev.x[0]), float(ev.x[-1]), *(ev.image_y or (0, ev.image.shape[0]))),
        )
        ax.set_ylabel(ev.ylabel if ev.image_y else ev.image_label)
    ax = axes[-1, 0]
    for label, y in ev.curves.items():
        ax.plot(ev.x, y, label=label, linewidth=1.0)
    for x, label in ev.marks:
        ax.axvline(x, color="tab:red", alpha=0.6, linewidth=0.8)
        ax.text(x, 1.0, label, transform=ax.get_xaxis_transform(), fontsize=7, rotation=90, va="top", ha="right")
    ax.set_xlabel(ev.xlabel)
    ax.set_ylabel(ev.ylabel)
    if len(ev.curves) > 1:
        ax.legend(fontsize=7, loc="best")
    verdict = "DETECTED" if finding.detected else "not detected"
    fig.suptitle(f"{finding.effect} in {source}: {verdict} ({finding.confidence:.2f})\n{ev.title}", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
