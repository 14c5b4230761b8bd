"""The ``audiowave`` command line (typer)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from audiowave.admin_cli import contributions_app, keys_app, users_app
from audiowave.errors import AudiowaveError

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Audio production forensics.")
models_app = typer.Typer(help="List model backends and install user-supplied weights.", invoke_without_command=True)
app.add_typer(models_app, name="models")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(contributions_app, name="contributions")
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
            out.print(f"result: {result_path}; report: {result_path.parent / 'report.html'}")
    if failures:
        raise typer.Exit(2 if failures == len(files) else 1)


@app.command()
def suggest(
    file: Annotated[Path, typer.Argument(help="A one-shot, or a track with --start/--end (and --stem).")],
    start: Annotated[float | None, typer.Option(help="Span start (s).")] = None,
    end: Annotated[float | None, typer.Option(help="Span end (s).")] = None,
    stem: Annotated[str, typer.Option(help="Separate the track first and use this stem (e.g. bass).")] = "",
    budget: Annotated[float, typer.Option(min=1.0, max=120.0, help="Search time budget (s).")] = 10.0,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Where the recipe files go.")] = Path("audiowave-recipe"),
    as_json: Annotated[bool, typer.Option("--json", help="Print recipe.json instead of the steps.")] = False,
) -> None:
    """Estimate a recipe for a sound, render it, refine it against the original and export a Vital preset."""
    from audiowave.recipes.service import suggest_from_file

    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=err, transient=True
    ) as bars:
        task = bars.add_task("recipe", total=1.0)

        def report(stage: str, fraction: float) -> None:
            bars.update(task, description=f"recipe: {stage}", completed=fraction)

        try:
            recipe = suggest_from_file(file, out_dir, start, end, stem, budget, report)
        except AudiowaveError as exc:
            _fail(exc)
    if as_json:
        sys.stdout.write(recipe.model_dump_json(indent=2) + "\n")
        return
    out.print(
        f"[bold]{recipe.patch.source} recipe[/bold] for {file.name} "
        f"{recipe.span.start_s:.2f}-{recipe.span.end_s:.2f} s{f' ({stem} stem)' if stem else ''}"
    )
    for i, step in enumerate(recipe.steps, start=1):
        out.print(f"  {i}. {step}")
    pitch = f", pitch {recipe.refined.pitch_cents:.0f} cents off" if recipe.refined.pitch_cents is not None else ""
    out.print(
        f"similarity {recipe.initial.similarity:.3f} (first guess) → {recipe.refined.similarity:.3f} "
        f"after {recipe.search.evaluations} renderings in {recipe.search.seconds:.1f} s{pitch}"
    )
    sampled = next((c for c in recipe.candidates if c.sample is not None), None)
    if sampled is not None and recipe.patch.source != "sample":
        from audiowave.recipes.distance import similarity

        out.print(
            f"closest library sample: {sampled.sample.path} ({sampled.sample.relation}, pitched "
            f"{sampled.sample.pitch_semitones:+.0f} st), similarity {similarity(sampled.loss):.3f}"
        )
    out.print(f"files: {out_dir} ({', '.join(recipe.files.values())})")


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


@app.command("serve")
def serve_cmd(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8000,
    config: Annotated[Path | None, typer.Option(help="serve_config.yaml (default: the repository's).")] = None,
    logical_gpus: Annotated[float, typer.Option(help="GPUs to declare when none is present.")] = 1.0,
) -> None:
    """Run the whole service on this machine: Redis (unless configured), Ray, the Serve app."""
    from audiowave.ray_apps.launch import serve_locally

    def announce(url: str, key: str, settings, gpus: float) -> None:
        out.print(f"[green]Audiowave is serving at {url}[/green]  (API docs: {url}/docs)")
        out.print(
            f"database: {settings.resolved_database_url()}  storage: {settings.resolved_storage_url()}  "
            f"redis: {settings.redis_url}  GPUs: {gpus:g}" + (" (logical)" if gpus and not _has_cuda() else "")
        )
        if key:
            out.print(f"API key of user 'local': {key}  (saved in {settings.home / 'api_key'})")
        out.print("Submit with: audiowave submit FILE --url " + url + "   Stop with Ctrl-C.")

    try:
        serve_locally(host, port, config, logical_gpus, announce)
    except RuntimeError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _remote_client(url: str, key: str | None):
    """An SDK client for ``url`` with the key given, or $AUDIOWAVE_API_KEY, or the local service's key file."""
    from audiowave.client import Client
    from audiowave.config import get_settings

    key_file = get_settings().home / "api_key"
    key = key or os.environ.get("AUDIOWAVE_API_KEY") or (key_file.read_text().strip() if key_file.exists() else "")
    if not key:
        err.print("[red]error:[/red] no API key: pass --key, set AUDIOWAVE_API_KEY, or run `audiowave serve` once")
        raise typer.Exit(2)
    return Client(url, key)


@app.command()
def feedback(
    job_id: Annotated[str, typer.Argument(help="The job the feedback is about.")],
    field: Annotated[
        str, typer.Argument(help="tempo, key, instrument:<label>, effect:<effect>, sample:<name>, recipe")
    ],
    verdict: Annotated[str, typer.Argument(help="correct, wrong, missing, or rating (recipes)")],
    value: Annotated[str, typer.Option(help="The corrected value or rating as JSON, e.g. '{\"bpm\": 128}'.")] = "{}",
    comment: Annotated[str, typer.Option(help="Free text.")] = "",
    url: Annotated[str, typer.Option(help="Service URL.")] = "http://127.0.0.1:8000",
    key: Annotated[str | None, typer.Option(help="API key (default: $AUDIOWAVE_API_KEY or the local key).")] = None,
) -> None:
    """Send a correction or a rating of one field of a result to the service."""
    import httpx

    from audiowave.client import ApiError

    try:
        parsed = json.loads(value)
        if not isinstance(parsed, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        err.print(f"[red]error:[/red] --value must be a JSON object ({exc})")
        raise typer.Exit(2) from None
    with _remote_client(url, key) as aw:
        try:
            feedback_id = aw.feedback(job_id, field, verdict, parsed, comment)
        except ApiError as exc:
            err.print(f"[red]error:[/red] {exc.reason}")
            raise typer.Exit(2) from None
        except ValueError as exc:  # refused before sending (e.g. an unknown verdict)
            err.print(f"[red]error:[/red] {exc.errors()[0]['msg'] if hasattr(exc, 'errors') else exc}")
            raise typer.Exit(2) from None
        except httpx.HTTPError as exc:
            err.print(f"[red]error:[/red] service unreachable at {url} ({exc})")
            raise typer.Exit(1) from None
    out.print(f"feedback stored: {feedback_id}")


@app.command()
def submit(
    files: Annotated[list[Path], typer.Argument(help="Audio files to analyse.")],
    url: Annotated[str, typer.Option(help="Service URL.")] = "http://127.0.0.1:8000",
    key: Annotated[
        str | None, typer.Option(help="API key (default: $AUDIOWAVE_API_KEY or ~/.audiowave/api_key).")
    ] = None,
    stages: Annotated[str, typer.Option(help="Stages (comma list); empty = all.")] = "",
    priority: Annotated[str, typer.Option(help="high, normal or low.")] = "normal",
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Where result.json files go.")] = Path("audiowave-out"),
) -> None:
    """Upload files to a running service, show live progress, save the results."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from audiowave.client import ApiError

    client = _remote_client(url, key)
    failures = 0
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[stage]}"),
        TimeElapsedColumn(),
        console=err,
    ) as progress:

        def run(path: Path) -> bool:
            task = progress.add_task(path.name, total=100, stage="uploading")
            try:
                job = client.analyze(path, stages=stages, priority=priority)
                job = client.wait(
                    job.job_id,
                    lambda j: progress.update(task, completed=j.percent, stage=f"{j.status} {j.stage}"),
                )
            except (ApiError, httpx.HTTPError, OSError) as exc:
                progress.update(task, stage=f"[red]{exc}[/red]")
                return False
            if job.status != "done":
                progress.update(task, stage=f"[red]{job.status}: {job.error}[/red]")
                return False
            target = out_dir / path.stem
            target.mkdir(parents=True, exist_ok=True)
            (target / "result.json").write_text(json.dumps(job.result, indent=2))
            progress.update(task, completed=100, stage=f"done -> {target / 'result.json'}")
            return True

        with ThreadPoolExecutor(max_workers=4) as pool:
            failures = sum(not ok for ok in pool.map(run, files))
    if failures:
        raise typer.Exit(1)


@app.command("index")
def index_cmd(
    source: Annotated[str, typer.Argument(help="Library folder or URL (s3://bucket/prefix) of audio samples.")],
    index_dir: Annotated[Path | None, typer.Option("--index", help="Index directory; default <home>/index.")] = None,
    library: Annotated[str | None, typer.Option(help="Library name; default: the source's last folder.")] = None,
    licence: Annotated[str, typer.Option(help="Licence recorded for every file of this library.")] = "",
    workers: Annotated[int | None, typer.Option(help="Describer actors (default: all CPUs).")] = None,
    no_db: Annotated[bool, typer.Option("--no-db", help="Do not record metadata in the database.")] = False,
) -> None:
    """Index a sample library with Ray Data (incremental: unchanged files are skipped)."""
    from rich.table import Table

    from audiowave.config import get_settings
    from audiowave.datasets.index_library import run_index
    from audiowave.service.settings import ServiceSettings

    settings = get_settings()
    target = index_dir or settings.home / "index"
    db_url = None if no_db else ServiceSettings().resolved_database_url
    try:
        report = run_index(source, target, library, licence, db_url, workers)
    except AudiowaveError as exc:
        _fail(exc)
    table = Table(title=f"index {target}")
    table.add_column("files")
    table.add_column("described")
    table.add_column("unchanged")
    table.add_column("removed")
    table.add_column("failed")
    table.add_column("audio (h)")
    table.add_column("seconds")
    table.add_row(
        str(report.files),
        str(report.described),
        str(report.unchanged),
        str(report.removed),
        str(len(report.failed)),
        f"{report.audio_hours:.3f}",
        f"{report.seconds:.1f}",
    )
    out.print(table)
    for f in report.failed:
        err.print(f"[yellow]skipped[/yellow] {f['path']}: {f['error']}")


@app.command("train-instruments")
def train_instruments(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Where the weights and model card go.")] = Path(
        "instrument-model"
    ),
    steps: Annotated[int, typer.Option(help="Training steps.")] = 2500,
    batch: Annotated[int, typer.Option(help="Mixtures per step.")] = 48,
    phrases: Annotated[int, typer.Option(help="Random phrases rendered per program and kit.")] = 8,
    seed: Annotated[int, typer.Option(help="Seed of the renders, mixtures and initialisation.")] = 0,
    width: Annotated[int, typer.Option(help="Channels of the first conv block (doubling per block).")] = 16,
    device: Annotated[str, typer.Option(help="Where the network trains: cpu, cuda, cuda:1...")] = "cpu",
    workers: Annotated[int, typer.Option(min=0, help="Processes drawing the training mixtures (0: the main one).")] = 0,
    eq_db: Annotated[float, typer.Option(help="Random EQ: each of its three terms up to +/- this many dB.")] = 2.0,
    export_stems: Annotated[
        Path | None, typer.Option(help="Only render the training stems and write them to this archive (.npz).")
    ] = None,
    shards: Annotated[
        int, typer.Option(min=1, help="With --export-stems: split the archive into this many files.")
    ] = 1,
    stems: Annotated[
        list[Path] | None, typer.Option(help="Train on the stems of these archives instead of rendering them.")
    ] = None,
    fit_only: Annotated[
        bool, typer.Option("--fit-only", help="Only fit the network (no sound banks needed with --stems).")
    ] = False,
    fitted: Annotated[
        Path | None, typer.Option(help="Skip fitting: validate, calibrate and test these --fit-only weights.")
    ] = None,
) -> None:
    """Train the offline instrument recogniser from Debian sound banks (reproducible; see docs/instrument-model.md).

    On a machine without the sound banks (a GPU box): --export-stems here, --stems ... --fit-only --device cuda
    there, then --fitted here."""
    from audiowave.instruments import stem_archive
    from audiowave.instruments import train as training
    from audiowave.instruments.recipe import TRAINING_BANKS

    if device.startswith("cuda") and not _has_cuda():
        err.print(f"[red]error:[/red] --device {device}: no CUDA GPU is visible to torch here")
        raise typer.Exit(2)
    problem = training.missing_requirements() if not (stems and fit_only) else None
    if problem:
        err.print(f"[red]error:[/red] {problem}")
        raise typer.Exit(2)
    if export_stems is not None:
        rendered = training.render_set(TRAINING_BANKS, phrases, seed)
        for i in range(shards):
            path = export_stems if shards == 1 else export_stems.with_suffix(f".{i + 1}-of-{shards}.npz")
            summary = stem_archive.save(rendered[i::shards], path, {"phrases": phrases, "seed": seed})
            out.print(
                f"wrote {path}: {summary['stems']} stems, {summary['seconds']:.0f} s, {summary['bytes'] / 1e6:.1f} MB"
            )
        return
    loaded, archives = [], []
    for path in stems or []:
        try:
            part, summary = stem_archive.load(path)
        except AudiowaveError as exc:
            _fail(exc)
        loaded += part
        archives.append({"file": path.name} | summary)
    if archives and len({json.dumps(a["recipe"], sort_keys=True) for a in archives}) > 1:
        err.print("[red]error:[/red] the --stems archives were rendered with different recipes")
        raise typer.Exit(2)
    recipe = archives[0]["recipe"] if archives else {"phrases": phrases, "seed": seed}
    settings = training.FitSettings(steps, batch, seed, width, eq_db=eq_db, device=device, workers=workers)
    if fit_only:
        weights = out_dir / f"{training.MODEL_NAME}.fitted.pt"
        training_stems = loaded or training.render_set(TRAINING_BANKS, phrases, seed)
        training.fit_only(training_stems, weights, settings, err.print, phrases=recipe["phrases"], archives=archives)
        out.print(f"wrote {weights} and its .json; finish with --fitted {weights} where the sound banks are")
        return
    card = training.train(out_dir, settings, recipe["phrases"], err.print, stems=loaded or None, fitted=fitted)
    test = card[training.TEST]["macro"]
    out.print(
        f"wrote {out_dir / training.MODEL_NAME}.pt and .json; test macro F1 {test['f1']:.3f}, ECE {test['ece']:.3f}"
    )


@app.command()
def ui(
    url: Annotated[str, typer.Option(help="The Audiowave service the UI talks to.")] = "http://127.0.0.1:8000",
    port: Annotated[int, typer.Option(help="Port of the web UI.")] = 8501,
    with_service: Annotated[
        bool, typer.Option("--with-service", help="Also start the local service (`audiowave serve`) if it is down.")
    ] = False,
) -> None:
    """Start the web UI (Streamlit) against a running service."""
    import subprocess

    import httpx

    from audiowave.ui import streamlit_command, ui_environment

    service = None
    try:
        httpx.get(f"{url}/healthz", timeout=3).raise_for_status()
    except httpx.HTTPError:
        if not with_service:
            err.print(
                f"[red]error:[/red] no Audiowave service at {url}: start `audiowave serve` or pass --with-service"
            )
            raise typer.Exit(2) from None
        service = subprocess.Popen([sys.executable, "-m", "audiowave", "serve"])
    out.print(f"web UI: http://127.0.0.1:{port} (service {url})")
    try:
        subprocess.run(
            streamlit_command(port),
            env=ui_environment(url),
            check=False,
        )
    finally:
        if service is not None:
            service.terminate()


@app.command()
def report(
    result_dir: Annotated[Path, typer.Argument(help="An analysis output directory (with result.json).")],
    llm_url: Annotated[str, typer.Option(help="OpenAI-compatible server for an optional prose paragraph.")] = "",
    llm_model: Annotated[str, typer.Option(help="Model name at --llm-url.")] = "",
) -> None:
    """Write report.md and report.html again, optionally with LLM prose checked against the analysis."""
    from audiowave.errors import InputError
    from audiowave.report.facts import facts_of
    from audiowave.report.prose import OpenAICompatible, compose_prose
    from audiowave.schema import AnalysisResult
    from audiowave.writer import write_reports

    path = result_dir / "result.json"
    if not path.exists():
        _fail(InputError(f"{path} not found: pass the folder `audiowave analyze` wrote"))
    result = AnalysisResult.model_validate_json(path.read_text())
    paragraph, writer = "", ""
    if llm_url:
        prose = compose_prose(facts_of(result), OpenAICompatible(llm_url, llm_model))
        paragraph, writer = prose.text, prose.writer
        out.print(f"prose {prose.status} ({prose.writer})" + "".join(f"\n  - {p}" for p in prose.problems))
    write_reports(result, result_dir, paragraph, writer)
    out.print(f"report: {result_dir / 'report.md'}, {result_dir / 'report.html'}")


@app.command()
def calibrate(
    eval_dir: Annotated[
        Path | None, typer.Option("--eval", help="An `audiowave eval` output directory (its metrics.json).")
    ] = None,
    feedback: Annotated[bool, typer.Option(help="Also use the service database's feedback.")] = True,
    database_url: Annotated[str, typer.Option(help="Service database; default the local one.")] = "",
) -> None:
    """Fit the confidence calibration from dev-corpus outcomes and user feedback, and install it."""
    from audiowave.calibration import Calibration, ece, outcomes_of_row
    from audiowave.config import get_settings
    from audiowave.errors import InputError

    outcomes = []
    if eval_dir is not None:
        metrics = eval_dir / "metrics.json"
        if not metrics.exists():
            _fail(InputError(f"{metrics} not found: run `audiowave eval CORPUS --out {eval_dir}` first"))
        outcomes += [o for row in json.loads(metrics.read_text()) for o in outcomes_of_row(row)]
    if feedback:
        from audiowave.service.db import make_engine, migrate, session_factory
        from audiowave.service.feedback import feedback_outcomes, recipe_ratings
        from audiowave.service.settings import ServiceSettings

        engine = make_engine(database_url or ServiceSettings().resolved_database_url())
        migrate(engine)
        with session_factory(engine)() as session:
            outcomes += list(feedback_outcomes(session))
            rated, stars = recipe_ratings(session)
        if rated:
            out.print(f"recipe ratings: {rated}, mean {stars:.2f} of 5 stars")
    if not outcomes:
        _fail(InputError("no outcomes to fit: pass --eval DIR and/or collect feedback first"))
    cal = Calibration.fit(outcomes)
    path = get_settings().calibration_file
    cal.save(path)
    table = Table("confidence", "outcomes", "from", "ECE before", "ECE after (in sample)", title="calibration")
    for key, m in sorted(cal.maps.items()):
        kind, _, label = key.partition(":")
        group = [o for o in outcomes if o.kind == kind and (not label or o.label == label)]
        before = ece([o.confidence for o in group], [o.correct for o in group])
        after = ece([cal.apply(o.kind, o.label, o.confidence) for o in group], [o.correct for o in group])
        origins = ", ".join(f"{n} {k}" for k, n in m["origins"].items())
        table.add_row(key, str(m["n"]), origins, f"{before:.3f}", f"{after:.3f}")
    out.print(table)
    out.print(f"{len(outcomes)} outcomes, {len(cal.maps)} maps; installed: {path}")


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
    stages: Annotated[list[str] | None, typer.Option("--stages", help="Stages to run (comma list).")] = None,
    samples: Annotated[
        bool, typer.Option("--samples", help="Score sample identification (queries/ against library/) instead.")
    ] = False,
    forensics: Annotated[
        bool,
        typer.Option(
            "--forensics", help="Score the effect detectors on cases generated from the clips' stems instead."
        ),
    ] = False,
    recipes: Annotated[
        bool,
        typer.Option("--recipes", help="Score recipe suggestion on generated one-shots with known patches instead."),
    ] = False,
    distractors: Annotated[
        list[Path] | None,
        typer.Option(
            "--distractors",
            help="--samples: a folder of other samples to index beside the library (repeatable; files the corpus"
            " was made from are left out), so the index is larger than the corpus' own",
        ),
    ] = None,
    cases: Annotated[
        int,
        typer.Option(
            min=1,
            help="--recipes: how many one-shots (90 hold 36 low-pass subtractive and 8 noisy drums, 6 of them with a"
            " noise layer; 30 hold 12 and 3;"
            " with 30, one search's chance path moved the median cutoff error by a factor of 2)",
        ),
    ] = 90,
    seeds: Annotated[
        int,
        typer.Option(
            min=1, help="--forensics: cases per effect and clip, each with its own parameters (N times the time)."
        ),
    ] = 1,
    dry_stems: Annotated[
        bool,
        typer.Option(
            "--dry-stems/--rendered-stems",
            help="--forensics: render each stem again from its MIDI without the sound bank's reverb and chorus"
            " (FluidSynth, the bank the corpus names) so that no case carries an effect its truth does not name;"
            " or use the stems as the corpus rendered them",
        ),
    ] = True,
    budget: Annotated[float, typer.Option(min=1.0, help="--recipes: search budget per recipe (s).")] = 10.0,
    evaluations: Annotated[
        int | None,
        typer.Option(
            min=10,
            help="--recipes: search this many renderings per recipe however long it takes, instead of --budget"
            " (the same figures from run to run and machine to machine)",
        ),
    ] = None,
) -> None:
    """Score the pipeline against a ground-truth corpus and print the table."""
    from audiowave.evaluation.runner import run_eval, run_forensics_eval, run_recipes_eval, run_sample_eval

    try:
        if recipes:
            run_recipes_eval(corpus, out_dir, cases, budget, out, err, evaluations)
        elif samples:
            run_sample_eval(corpus, out_dir, console=out, progress_console=err, distractors=distractors)
        elif forensics:
            run_forensics_eval(corpus, out_dir, limit, console=out, progress_console=err, seeds=seeds, dry=dry_stems)
        else:
            run_eval(corpus, out_dir, limit, clips, stages, console=out, progress_console=err)
    except AudiowaveError as exc:
        _fail(exc)
