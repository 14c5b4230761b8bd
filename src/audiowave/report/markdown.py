"""The report as Markdown, from a Jinja2 template over the analysis (no language model involved)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jinja2

from audiowave.schema import AnalysisResult

TEMPLATE = Path(__file__).resolve().parent.parent / "data" / "report.md.j2"


def _backend(b) -> str:
    if b is None:
        return "-"
    text = b.name + (f" {b.version}" if b.version else "") + (f" ({b.model})" if b.model else "")
    return text + (" — fallback" if b.fallback else "")


def markdown_report(
    result: AnalysisResult,
    link: Callable[[str], str] = str,
    recipes: list[dict] | None = None,
    prose: str = "",
    prose_by: str = "",
) -> str:
    """Markdown report; ``link`` turns a picture path of the result into the link to write, ``recipes`` are
    recipe documents made from this track, ``prose`` an already checked paragraph (LLM) under the title."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE.parent), autoescape=False, trim_blocks=True, lstrip_blocks=True
    )
    env.filters["backend"] = _backend
    env.filters["link"] = link
    examined = result.forensics.techniques if result.forensics else []
    detected = [t for t in examined if t.detected or t.effect in ("stereo", "tuning")]
    return env.get_template(TEMPLATE.name).render(
        r=result,
        name=Path(result.source.path).name,
        techniques=[t for t in detected if t.effect not in ("stereo", "tuning")],
        measurements=[t for t in detected if t.effect in ("stereo", "tuning")],
        chords=[c for c in (result.chords.segments if result.chords else []) if c.label != "N"][:32],
        recipes=recipes or [],
        prose=prose,
        prose_by=prose_by,
    )
