"""The ``audiowave`` command line (typer)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from audiowave.errors import AudiowaveError

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Audio production forensics.")
models_app = typer.Typer(help="List model backends and install user-supplied weights.", invoke_without_command=True)
app.add_typer(models_app, name="models")
out = Console()
err = Console(stderr=True)

EXAMPLE_CLIP = Path(__file__).parent / "data" / "example.flac"


class ProgressObserver:
    """Shows one progress bar per stage."""

    def __init__(self, bars: Progress, label: str) -> None:
        self._bars, self.label = bars, label
        self.tasks: dict[str, TaskID] = {}

    def start(self, stage: str) -> None:
        self.tasks[stage] = self._bars.add_task(f"{self.label} {stage}", total=1.0)

    def progress(self, stage: str, fraction: float) -> None:
        self._bars.update(self.tasks[stage], completed=fraction)

    def end(self, stage: str, seconds: float) -> None:
        self._bars.update(self.tasks[stage], completed=1.0)


def _fail(exc: AudiowaveError) -> None:
    err.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(exc.exit_code)


@app.command()
def analyze(
    files: Annotated[list[Path], typer.Argument(help="Audio files (WAV, FLAC, OGG, MP3, M4A/AAC).")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output directory (one folder per file).")] = Path(
        "audiowave-out"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print result JSON instead of the summary.")] = False,
    stems: Annotated[bool, typer.Option("--stems", help="Save separated stems as FLAC.")] = False,
    stages: Annotated[list[str] | None, typer.Option("--stages", help="Stages to run (comma list).")] = None,
    pictures: Annotated[bool, typer.Option("--pictures/--no-pictures", help="Draw waveform/spectrogram.")] = True,
) -> None:
    """Analyse audio files and write result.json, stems, MIDI and pictures."""
    from audiowave.pipeline import Pipeline
    from audiowave.summary import summary_renderable
    from audiowave.writer import output_dir_for, write_analysis

    try:
        pipeline = Pipeline(stages=stages)
    except AudiowaveError as exc:
        _fail(exc)
    failures = 0
    for path in files:
        with Progress(
            TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=err, transient=True
        ) as progress:
            try:
                analysis = pipeline.analyze(path, ProgressObserver(progress, path.name))
                result_path = write_analysis(
                    analysis, output_dir_for(out_dir, str(path)), save_stems=stems, pictures=pictures
                )
            except AudiowaveError as exc:
                err.print(f"[red]error:[/red] {exc}")
                failures += 1
                continue
        if as_json:
            sys.stdout.write(analysis.result.model_dump_json(indent=2) + "\n")
        else:
            out.print(summary_renderable(analysis.result))
            out.print(f"result: {result_path}")
    if failures:
        raise typer.Exit(2 if failures == len(files) else 1)


@app.command()
def demo(out_dir: Annotated[Path, typer.Option("--out", "-o")] = Path("audiowave-out")) -> None:
    """Analyse the bundled example clip and print the report."""
    analyze([EXAMPLE_CLIP], out_dir=out_dir, as_json=False, stems=True, stages=None, pictures=True)


@models_app.callback()
def models_list(ctx: typer.Context) -> None:
    """List every model backend with its status."""
    if ctx.invoked_subcommand:
        return
    from audiowave.registry import check_all

    for st in check_all():
        colour = "green" if st.ready else "yellow"
        version = f" {st.version}" if st.version else ""
        out.print(
            f"[bold]{st.spec.name}[/bold] ({st.spec.stage}, {st.spec.backend}{version}): "
            f"[{colour}]{st.status}[/{colour}]",
            soft_wrap=True,
        )
        out.print(f"  {st.spec.description}; licence: {st.spec.licence}", soft_wrap=True, highlight=False)
        out.print(f"  weights: {st.spec.source}", soft_wrap=True, highlight=False)
        if st.ready:
            out.print(f"  installed at: {st.root}", soft_wrap=True, highlight=False)
        else:
            out.print(f"  to do: {st.detail}", soft_wrap=True, highlight=False)
            if st.spec.fallback:
                out.print(f"  fallback in use: {st.spec.fallback}", soft_wrap=True, highlight=False)


@models_app.command("import")
def models_import(
    path: Annotated[Path, typer.Argument(help="A weight file or a directory of them.")],
) -> None:
    """Verify and install user-supplied weights (HT-Demucs .th/.yaml, PANNs .pth/.csv)."""
    from audiowave.model_import import import_weights

    try:
        for line in import_weights(path):
            out.print(f"installed {line}")
    except AudiowaveError as exc:
        _fail(exc)


@app.command()
def schema() -> None:
    """Print the JSON Schema of result.json."""
    from audiowave.schema import json_schema

    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")


@app.command("eval")
def evaluate(
    corpus: Annotated[Path, typer.Argument(help="Corpus directory with ground_truth.json (dev-corpus schema).")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Where per-file predictions go.")] = Path(
        "audiowave-eval"
    ),
    limit: Annotated[int | None, typer.Option(help="Only the first N clips.")] = None,
    clips: Annotated[str | None, typer.Option(help="Only clips whose id contains this text.")] = None,
) -> None:
    """Score the pipeline against a ground-truth corpus and print the table."""
    from audiowave.evaluation.runner import run_eval

    try:
        run_eval(corpus, out_dir, limit=limit, id_filter=clips, console=out, progress_console=err)
    except AudiowaveError as exc:
        _fail(exc)
