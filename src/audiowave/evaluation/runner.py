"""``audiowave eval``: analyse every corpus clip, score it, print the table, save predictions."""

from __future__ import annotations

import json
import math
import os
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from audiowave import jit_cache
from audiowave.calibration import cross_fitted_ece
from audiowave.errors import InputError
from audiowave.evaluation import metrics
from audiowave.evaluation.corpus import Clip, load_corpus
from audiowave.families import DETAILS, FAMILIES, scored_name
from audiowave.pipeline import Analysis, Pipeline


def worker_pool() -> ProcessPoolExecutor:
    """One worker per core, started once numba's cache is whole (its workers would otherwise compile librosa's
    gufuncs at the same time on a fresh install, which can break the cache: see :mod:`audiowave.jit_cache`)."""
    jit_cache.ensure()
    return ProcessPoolExecutor(max_workers=os.cpu_count() or 1)


def score_clip(clip: Clip, analysis: Analysis) -> dict:
    """All per-clip metrics that apply to this clip (missing ground truth -> metric absent)."""
    r, gt = analysis.result, clip.raw
    row: dict = {"id": clip.id, "seconds": sum(t.seconds for t in r.timings)}
    confidences: list[tuple[str, str, float, bool]] = []  # (kind, label, reported confidence, correct)
    if r.tempo_bpm is not None:
        acc1, acc2 = metrics.tempo_accuracy(gt["tempo_bpm"], r.tempo_bpm)
        row.update(
            tempo_ref=gt["tempo_bpm"],
            tempo_est=r.tempo_bpm,
            tempo_acc1=acc1,
            tempo_acc2=acc2,
            tempo_evident=gt.get("tempo_evident", True),
        )
        if r.tempo is not None:
            confidences.append(("tempo", "", r.tempo.confidence, acc1))
        row["beat_f"] = metrics.beat_f_measure(gt["beat_times_s"], r.beats)
        row["downbeat_f"] = metrics.beat_f_measure(gt["downbeat_times_s"], r.downbeats)
        row["meter_ok"] = r.meter is not None and r.meter.beats_per_bar == gt["beats_per_bar"]
    if r.key is not None and gt.get("key"):
        weighted, exact = metrics.key_scores(gt["key"]["tonic"], gt["key"]["mode"], r.key.tonic, r.key.mode)
        row.update(key_ref=gt["key"]["label"], key_est=r.key.label, key_weighted=weighted, key_exact=exact)
        confidences.append(("key", "", r.key.confidence, exact))
    if r.chords is not None and clip.chords():
        est = [(s.start, s.end, s.label) for s in r.chords.segments]
        row.update({f"chord_{k}": v for k, v in metrics.chord_scores(clip.chords(), est).items()})
    if r.tagging is not None and r.tagging.status == "ran":
        # families, and the kinds within them (distorted guitar, synth bass...) as names of their own
        ref_names = clip.families | clip.details
        row["families_ref"] = sorted(ref_names)
        row["families_est"] = sorted({n for i in r.instruments for n in (i.family, scored_name(i.label, i.family))})
        best: dict[str, float] = {}
        for inst in r.instruments:
            name = scored_name(inst.label, inst.family)
            best[name] = max(best.get(name, 0.0), inst.confidence)
        confidences += [("instrument", name, conf, name in ref_names) for name, conf in best.items()]
        ref = clip.activity(SPAN_HOP_S)
        if ref is not None:
            n = int(np.ceil(clip.raw["duration_s"] / SPAN_HOP_S))
            est: dict[str, np.ndarray] = {}
            for inst in r.instruments:
                grid = est.setdefault(scored_name(inst.label, inst.family), np.zeros(n, bool))
                for span in inst.spans:
                    grid[int(span.start / SPAN_HOP_S) : int(np.ceil(span.end / SPAN_HOP_S))] = True
            row["activity"] = {f: metrics.frame_counts(ref.get(f), est.get(f)) for f in set(ref) | set(est)}
    if analysis.separation is not None:
        refs = clip.reference_stems(list(analysis.separation.stems))
        row["si_sdr"] = {
            f"{name}->{'+'.join(groups)}": metrics.si_sdr(ref, analysis.separation.stems[name][:, : ref.shape[1]])
            for name, (ref, groups) in refs.items()
        }
    row["confidences"] = confidences
    return row


def _mean(rows: list[dict], key: str, where=lambda r: True) -> tuple[float, int]:
    vals = [float(r[key]) for r in rows if key in r and where(r) and not math.isnan(float(r[key]))]
    return (float(np.mean(vals)) if vals else float("nan")), len(vals)


SPAN_HOP_S = 0.5


def summary_tables(rows: list[dict]) -> list[Table]:
    """The headline table, the instrument-family table and the separation table."""
    main = Table("metric", "value", "clips", title="Audiowave eval", title_justify="left")

    def add(name: str, key: str, where=lambda r: True, pct: bool = True) -> None:
        value, n = _mean(rows, key, where)
        text = "n/a" if math.isnan(value) else (f"{value * 100:.1f} %" if pct else f"{value:.3f}")
        main.add_row(name, text, str(n))

    evident = lambda r: r.get("tempo_evident", True)  # noqa: E731
    add("tempo Acc1 (tempo evident)", "tempo_acc1", evident)
    add("tempo Acc2 (tempo evident)", "tempo_acc2", evident)
    add("tempo Acc1 (all)", "tempo_acc1")
    add("beat F-measure", "beat_f", pct=False)
    add("downbeat F-measure", "downbeat_f", pct=False)
    add("meter (beats per bar) accuracy", "meter_ok")
    add("key MIREX weighted score", "key_weighted", pct=False)
    add("key exact accuracy", "key_exact")
    add("chord accuracy (root)", "chord_root")
    add("chord accuracy (maj/min)", "chord_majmin")
    add("time per clip (s)", "seconds", pct=False)

    fam = Table(
        "family",
        "precision",
        "recall",
        "F1",
        "support",
        f"span F1 ({SPAN_HOP_S} s frames)",
        title="Instrument families (clip level; spans frame level)",
        title_justify="left",
    )
    tagged = [r for r in rows if "families_est" in r]
    if not tagged:
        fam.add_row("(no tagger ran)", "n/a", "n/a", "n/a", "0")
    for family in FAMILIES + tuple(DETAILS):
        counts = (
            np.array([metrics.precision_recall(set(r["families_ref"]), set(r["families_est"]), family) for r in tagged])
            .reshape(-1, 3)
            .sum(axis=0)
        )
        tp, fp, fn = (int(x) for x in counts)
        if tp + fp + fn == 0:
            continue
        p = tp / (tp + fp) if tp + fp else float("nan")
        rec = tp / (tp + fn) if tp + fn else float("nan")
        f1 = 2 * p * rec / (p + rec) if p + rec and not math.isnan(p + rec) else float("nan")
        frames = np.array([r.get("activity", {}).get(family, (0, 0, 0)) for r in tagged]).reshape(-1, 3).sum(axis=0)
        name = family if family in FAMILIES else f"  {family} (kind of {DETAILS[family]})"
        fam.add_row(name, f"{p:.2f}", f"{rec:.2f}", f"{f1:.2f}", str(tp + fn), f"{metrics.f1(*frames):.2f}")

    sep = Table("stem -> reference", "mean SI-SDR (dB)", "clips", title="Separation", title_justify="left")
    by_stem: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        for name, value in r.get("si_sdr", {}).items():
            if not math.isnan(value):
                by_stem[name].append(value)
    for name, values in sorted(by_stem.items()):
        sep.add_row(name, f"{np.mean(values):.2f}", str(len(values)))
    return [main, fam, sep]


def run_eval(
    corpus: Path,
    out_dir: Path,
    limit: int | None = None,
    id_filter: str | None = None,
    stages: list[str] | None = None,
    console: Console | None = None,
    progress_console: Console | None = None,
) -> list[dict]:
    """Analyse (all stages, or ``stages``) and score the corpus; write predictions and metrics under ``out_dir``."""
    console = console or Console()
    pipeline = Pipeline(stages=stages, raw_confidences=True)
    clips = [c for c in load_corpus(corpus) if not id_filter or id_filter in c.id][:limit]
    pred_dir = out_dir / "predictions"
    pred_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    with Progress(console=progress_console or console, transient=True) as progress:
        task = progress.add_task("evaluating", total=len(clips))
        for clip in clips:
            progress.update(task, description=f"evaluating {clip.id}")
            t0 = time.perf_counter()
            analysis = pipeline.analyze(clip.path)
            row = score_clip(clip, analysis)
            row["wall_seconds"] = round(time.perf_counter() - t0, 2)
            rows.append(row)
            (pred_dir / f"{clip.id}.json").write_text(analysis.result.model_dump_json(indent=1))
            progress.advance(task)
    (out_dir / "metrics.json").write_text(json.dumps(rows, indent=1, default=float))
    for table in summary_tables(rows):
        console.print(table)
    console.print(calibration_table(cross_fitted_ece(rows)))
    console.print(f"per-clip predictions: {pred_dir}; per-clip metrics: {out_dir / 'metrics.json'}")
    return rows


def run_sample_eval(
    corpus: Path,
    out_dir: Path,
    console: Console | None = None,
    progress_console: Console | None = None,
    distractors: list[Path] | None = None,
) -> dict[str, dict[str, float]]:
    """Index ``corpus/library`` (Ray Data job), match every query with both matchers, print the table.
    ``distractors``: folders of other samples indexed beside the library (files the corpus used left out)."""
    from audiowave.datasets.index_library import run_index
    from audiowave.evaluation.samples import (
        SWEEP_FLOOR,
        evaluate_samples,
        summary_rows,
        threshold_sweep,
        two_fold,
        with_distractors,
    )
    from audiowave.samples import matcher
    from audiowave.samples.index_store import SampleIndex

    console = console or Console()
    n_queries = len(json.loads((corpus / "ground_truth.json").read_text())["queries"])
    report = run_index(str(corpus / "library"), out_dir / "sample-index", library="dev-corpus")
    index = SampleIndex.load(out_dir / "sample-index")
    library_bytes = index.nbytes  # the library's own index, before any distractors join it
    added = 0
    if distractors:
        extra = [out_dir / f"distractor-index-{i}" for i in range(len(distractors))]
        for folder, index_dir in zip(distractors, extra, strict=True):
            run_index(str(folder), index_dir, library=folder.name)
        index, added = with_distractors(index, corpus, extra)
        console.print(f"{added} distractor samples indexed beside the library (files the corpus used left out)")
    with Progress(console=progress_console or console, transient=True) as progress:
        task = progress.add_task("matching queries", total=n_queries)
        summaries, rows = evaluate_samples(corpus, index, on_query=lambda _q: progress.advance(task))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "samples.json").write_text(json.dumps({"summary": summaries, "queries": rows}, indent=1))
    pairs = index.chunks.shape[0] * len(matcher.PITCHES)
    plan = f"{min(pairs, matcher.SHORTLIST_PAIRS):,} shortlisted"
    table = Table(
        title=f"sample identification ({len(index.entries) - added} library + {added} distractor samples,"
        f" {n_queries} queries; {pairs:,} template x pitch pairs: {plan})"
    )
    table.add_column("metric")
    for method in summaries:
        table.add_column(method, justify="right")
    for metric, values in summary_rows(summaries):
        table.add_row(metric, *values)
    console.print(table)
    matched = [r for r in rows if r["method"] == "matched-filter"]
    sweep = Table(title=f"matched filter by threshold (shipped {matcher.DEFAULT_THRESHOLD}, fitted on all queries)")
    for column in ("threshold", "recall", "precision", "negative queries matched"):
        sweep.add_column(column, justify="right")
    for t, recall, precision, negatives in threshold_sweep(matched):
        sweep.add_row(f"{t:.2f}", f"{recall:.3f}", f"{precision:.3f}", f"{negatives:.2f}")
    console.print(sweep)
    for t, recall, precision, negatives in two_fold(matched):
        console.print(
            f"threshold fitted on half the queries: {t:.2f}; on the other half recall {recall:.3f}, "
            f"precision {precision:.3f}, negative queries matched {negatives:.2f}"
        )
    hours = report.audio_hours
    console.print(
        f"indexing: {report.files} files, {hours * 3600:.0f} s of audio in {report.seconds:.1f} s; "
        f"index {library_bytes / 1e6:.1f} MB in memory ({library_bytes / 1e6 / max(hours, 1e-9):.0f} MB per hour); "
        f"matches kept down to confidence {SWEEP_FLOOR} for the sweep"
    )
    return summaries


def run_forensics_eval(
    corpus: Path,
    out_dir: Path,
    limit: int | None = None,
    console: Console | None = None,
    progress_console: Console | None = None,
    seeds: int = 1,
    dry: bool = True,
) -> list[dict]:
    """Generate effect cases from the corpus' mixed clips (pedalboard, known parameters; ``seeds`` draws of the
    parameters per effect and clip; ``dry``: the stems rendered again without the sound bank's reverb and chorus,
    so that a case has no effect its truth does not name), run the detectors on each mix; fit the detection
    thresholds and the linear estimates on every other clip (development) and score the rest (held out) with
    them. Prints the held-out table; writes every case (with its seed), both summaries and the fitted values."""
    from audiowave.evaluation.forensics import (
        corpus_materials,
        fit_estimates,
        fit_thresholds,
        redecide,
        score_case,
        summarise,
    )
    from audiowave.forensics.evalset import CASE_EFFECTS, make_cases

    console = console or Console()
    stems = "dry" if dry else "as rendered"
    materials = corpus_materials(corpus, limit, dry)
    if not materials:
        raise InputError(f"{corpus}: no multi-instrument clip with stems and a beat grid to build cases from")
    rows = []
    with (
        Progress(console=progress_console or console, transient=True) as progress,
        worker_pool() as pool,
    ):
        task = progress.add_task("forensics cases", total=len(materials) * len(CASE_EFFECTS) * seeds)
        for material in materials:  # one material's cases at a time keeps memory to ~len(CASE_EFFECTS) clips
            progress.update(task, description=f"forensics {material.name}")
            for seed in range(seeds):
                for row in pool.map(score_case, make_cases([material], seed=seed)):
                    rows.append(row | {"seed": seed})
                    progress.advance(task)
    effects = [e for e in CASE_EFFECTS if e != "none"]
    dev_names = {m.name for m in materials[::2]}
    dev = [r for r in rows if r["id"].rsplit("-", 1)[0] in dev_names]
    held_out = [r for r in rows if r["id"].rsplit("-", 1)[0] not in dev_names]
    fitted = fit_thresholds(dev) if held_out else {}
    estimates = fit_estimates(dev) if held_out else {}
    scored = redecide(held_out, fitted, estimates) if held_out else rows
    summary = summarise(scored, effects)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {
        "thresholds": fitted,
        "estimates": estimates,
        "fitted_on": sorted(dev_names) if held_out else [],
        "stems": stems,
        "summary_held_out": summary,
        "summary_shipped_thresholds": summarise(rows, effects),
        "cases": rows,
    }
    (out_dir / "forensics.json").write_text(json.dumps(report, indent=1, default=float))
    if fitted:
        (out_dir / "forensics-thresholds.json").write_text(
            json.dumps(
                {
                    "thresholds": fitted,
                    "estimates": estimates,
                    "fitted_on": sorted(dev_names),
                    "corpus": str(corpus),
                    "stems": stems,
                },
                indent=1,
            )
        )
    split = f"{len({r['id'].rsplit('-', 1)[0] for r in held_out})} held-out clips" if held_out else "all clips"
    console.print(forensics_table(summary, split, seeds, dry))
    if fitted:
        console.print(
            f"thresholds fitted on {len(dev_names)} development clips: {out_dir / 'forensics-thresholds.json'}"
        )
    return summary


def forensics_table(summary: list[dict], split: str, seeds: int = 1, dry: bool = True) -> Table:
    per_clip = "one case" if seeds == 1 else f"{seeds} cases"
    stems = "dry stems" if dry else "stems as rendered, with the sound bank's reverb and chorus"
    table = Table(title=f"forensics on mixed material ({split}, {stems}, {per_clip} per effect and clip, plus none)")
    for col in ("effect", "n", "TP", "FP", "FN", "P", "R", "F1", "parameter", "median err", "in target"):
        table.add_column(col, justify="left" if col in ("effect", "parameter") else "right")
    for s in summary:
        params = list(s["parameters"].items()) or [("", None)]
        for k, (name, p) in enumerate(params):
            head = (
                [s["effect"], str(s["cases"]), str(s["tp"]), str(s["fp"]), str(s["fn"])]
                + [f"{s[m]:.2f}" for m in ("precision", "recall", "f1")]
                if k == 0
                else [""] * 8
            )
            tail = (
                [name, f"{p['median_error']:.2f} {p['unit']}", f"{100 * p['within_target']:.0f}% of {p['n']}"]
                if p
                else ["", "", ""]
            )
            table.add_row(*head, *tail)
    return table


def run_recipes_eval(
    corpus: Path,
    out_dir: Path,
    cases: int = 90,
    budget_s: float = 10.0,
    console: Console | None = None,
    progress_console: Console | None = None,
    evaluations: int | None = None,
) -> list[dict]:
    """Suggest a recipe for each generated one-shot (known patch, seeded) and score parameter errors and the
    distance before/after the search; then for one lone note of each synth instrument of the corpus (when it
    has ground truth). Prints the tables; writes every case and the summary to recipes.json. With ``evaluations``
    each search scores that many renderings however long they take, instead of ``budget_s``: the same figures
    from run to run and machine to machine."""
    from audiowave.evaluation.recipes import corpus_synth_notes, score_corpus_note, score_one_shot, summarise
    from audiowave.recipes.evalset import one_shots

    console = console or Console()
    shots = one_shots(cases)
    notes = corpus_synth_notes(corpus) if (corpus / "ground_truth.json").exists() else []
    rows, note_rows = [], []
    budget_s = math.inf if evaluations else budget_s
    with (
        Progress(console=progress_console or console, transient=True) as progress,
        worker_pool() as pool,
    ):
        task = progress.add_task("recipes", total=len(shots) + len(notes))
        for row in pool.map(score_one_shot, shots, repeat(budget_s), repeat(evaluations)):
            rows.append(row)
            progress.advance(task)
        for row in pool.map(score_corpus_note, notes, repeat(budget_s), repeat(evaluations)):
            note_rows.append(row)
            progress.advance(task)
    summary = summarise(rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "recipes.json").write_text(
        json.dumps(
            {
                "budget_s": None if evaluations else budget_s,
                "evaluations": evaluations,
                "summary": summary,
                "cases": rows,
                "corpus_notes": note_rows,
            },
            indent=2,
        )
    )
    console.print(recipes_table(summary, f"{evaluations} renderings" if evaluations else f"{budget_s:g} s"))
    if note_rows:
        console.print(corpus_notes_table(note_rows))
    return summary


def corpus_notes_table(rows: list[dict]) -> Table:
    table = Table(title="recipes for lone notes of the dev corpus' synth stems (MuseScore General sound bank)")
    for col in ("note", "recipe", "pitch err (st)", "similarity before", "after", "s"):
        table.add_column(col, justify="left" if col in ("note", "recipe") else "right")
    for r in rows:
        table.add_row(
            r["id"],
            r["found_source"],
            f"{r['note_error_st']:.2f}",
            f"{r['similarity_before']:.3f}",
            f"{r['similarity_after']:.3f}",
            f"{r['seconds']:.1f}",
        )
    before = np.median([r["similarity_before"] for r in rows])
    after = np.median([r["similarity_after"] for r in rows])
    table.add_row(
        "median",
        "",
        f"{np.nanmedian([r['note_error_st'] for r in rows]):.2f}",
        f"{before:.3f}",
        f"{after:.3f}",
        f"{np.median([r['seconds'] for r in rows]):.1f}",
    )
    return table


def recipes_table(summary: list[dict], budget: str) -> Table:
    """One column per true source kind (and all), one row per measure (medians)."""
    table = Table(title=f"recipes on generated one-shots (medians, shares of cases for 'ok'/'found'; budget {budget})")
    table.add_column("measure")
    for s in summary:
        table.add_column(f"{s['kind']} ({s['cases']})", justify="right")
    names = sorted({n for s in summary for n in s["errors"]})
    rows = [("source recognised", lambda s: f"{100 * s['source_accuracy']:.0f}%")]
    rows += [(n, lambda s, n=n: f"{s['errors'][n]:.2f}" if n in s["errors"] else "") for n in names]
    rows += [
        ("spectral dist. first guess", lambda s: f"{s['spectral_before']:.3f}"),
        ("spectral dist. refined", lambda s: f"{s['spectral_after']:.3f}"),
        ("similarity first guess", lambda s: f"{s['similarity_before']:.3f}"),
        ("similarity refined", lambda s: f"{s['similarity_after']:.3f}"),
        ("similarity of the true patch", lambda s: f"{s['similarity_truth']:.3f}"),
        ("seconds per recipe", lambda s: f"{s['seconds']:.1f}"),
    ]
    for label, cell in rows:
        table.add_row(label, *(cell(s) for s in summary))
    return table


def calibration_table(figures: dict[str, dict[str, float]]) -> Table:
    """ECE of the raw confidences and after isotonic calibration fitted on the other half of the clips."""
    table = Table(title="confidence calibration (ECE, 10 bins; calibrated = fitted on the other half of the clips)")
    for col in ("confidence", "outcomes", "share correct", "ECE raw", "ECE calibrated"):
        table.add_column(col, justify="left" if col == "confidence" else "right")
    for kind, f in sorted(figures.items()):
        table.add_row(kind, str(f["n"]), f"{f['accuracy']:.2f}", f"{f['ece_raw']:.3f}", f"{f['ece_calibrated']:.3f}")
    return table
