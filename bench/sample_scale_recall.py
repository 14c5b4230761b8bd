"""Sample identification recall as the index grows, emulated on the dev corpus' real queries.

    python bench/sample_scale_recall.py --corpus corpus/dev --distractors /usr/share/hydrogen/data/drumkits \
        --distractors /usr/share/sonic-pi/samples

The synthetic scale test (``sample_scale.py``) times a 100-hour index of random templates, which hold no true
match, so it cannot tell how often the candidate stage keeps a real sample. Here the dev library plus distractor
kits (real one-shots of the same kinds) are indexed, and a larger index is emulated by shrinking what the
candidate stage keeps to the share of all (template, pitch) pairs it keeps at 1, 10 and 100 hours (one template
per 1.5 s): the 512 shortlisted pairs and, for the rough pass, the 4,096 templates per pitch scored exactly.
That assumes the templates that outrank a true one grow in number with the index (distractors like those here);
each row is the shipped matcher at that share (threshold as shipped), against the exact candidate scores.

A second table times real 30 s queries (two dev queries end to end) against this index padded with random unit
templates (as ``sample_scale.py``'s) to 1, 10 and 100 hours: the candidate stage ranks at that size, and the
verification works on real matches, which random templates alone never give it.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from sample_scale import SAMPLE_S, with_random_templates  # the benchmark beside this one (bench/ is on the path)

from audiowave.audio_io import load_audio
from audiowave.datasets.index_library import run_index
from audiowave.evaluation.samples import evaluate_samples, with_distractors
from audiowave.samples import candidates, matcher
from audiowave.samples.index_store import SampleIndex

TEMPLATES_PER_HOUR = round(3600 / SAMPLE_S)  # one template per 1.5 s of library audio (a one-shot library)


def build_index(corpus: Path, distractors: list[Path], work: Path) -> SampleIndex:
    run_index(str(corpus / "library"), work / "library", library="dev-corpus")
    extra = [work / f"distractors-{i}" for i in range(len(distractors))]
    for folder, index_dir in zip(distractors, extra, strict=True):
        run_index(str(folder), index_dir, library=folder.name)
    return with_distractors(SampleIndex.load(work / "library"), corpus, extra)[0]


def recall_at(corpus: Path, index: SampleIndex, pairs: int, rerank: int | None) -> tuple[dict[str, float], float]:
    """The matched filter's summary with ``pairs`` shortlisted and, when ``rerank`` is given, the rough pass
    picking that many templates per pitch to score exactly (exact candidate scores otherwise); seconds per query."""
    n = index.chunks.shape[0]
    index.__dict__["candidates"] = candidates.CandidateIndex.of(  # the cached property, replaced
        index.relative_chunks, n, approximate_above=0 if rerank else n, rerank=rerank or candidates.RERANK
    )
    t0 = time.perf_counter()
    summary, rows = evaluate_samples(corpus, index, pairs=pairs)
    return summary["matched-filter"], (time.perf_counter() - t0) / len(rows) * 2


def latency_table(corpus: Path, index: SampleIndex, hours: list[float]) -> None:
    """Real 30 s queries (two positive dev queries end to end, ten of them) against ``index`` padded to each size."""
    gt = json.loads((corpus / "ground_truth.json").read_text())
    clips = [load_audio(corpus / q["path"]) for q in gt["queries"] if not q.get("negative")][:20]
    queries = [
        (np.concatenate([a.samples.mean(axis=0), b.samples.mean(axis=0)])[: 30 * a.sample_rate], a.sample_rate)
        for a, b in zip(clips[::2], clips[1::2], strict=True)
    ]
    print(f"\nreal 30 s queries ({len(queries)}, two dev queries each) against the index padded with random templates")
    print(f"{'index':>10} {'templates':>10} {'build s':>8} {'median s':>9} {'max s':>6} {'peak RSS MB':>12}")
    for h in hours:
        big = with_random_templates(index, int(h * TEMPLATES_PER_HOUR))
        t0 = time.perf_counter()
        _ = big.candidates  # the candidate index, built once per process as a serving shard does
        build = time.perf_counter() - t0
        seconds = []
        for x, sr in queries:
            t0 = time.perf_counter()
            matcher.match(big, x, sr)
            seconds.append(time.perf_counter() - t0)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{h:>8g} h {big.chunks.shape[0]:>10,} {build:>8.1f} {np.median(seconds):>9.2f} {max(seconds):>6.2f}"
            f" {rss:>12.0f}"
        )
        del big


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("corpus/dev"))
    parser.add_argument("--distractors", type=Path, action="append", default=[])
    parser.add_argument("--hours", type=float, nargs="+", default=[1, 10, 100])
    parser.add_argument("--latency-hours", type=float, nargs="*", default=[1, 10, 100])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        index = build_index(args.corpus, args.distractors, Path(work))
    n = index.chunks.shape[0]
    all_pairs = n * len(matcher.PITCHES)
    print(f"\n{len(index.entries)} samples, {n:,} templates, {all_pairs:,} (template, pitch) pairs")
    print(
        f"{'emulated index':>15} {'shortlist':>10} {'candidates':>22} {'recall':>7} {'one-shot':>9}"
        f" {'precision':>10} {'negatives':>10} {'s/query':>8}"
    )
    rows = [("this index", matcher.SHORTLIST_PAIRS, None)]
    for hours in args.hours:
        templates = hours * TEMPLATES_PER_HOUR
        pairs = max(1, round(matcher.SHORTLIST_PAIRS * n / templates))
        rows.append((f"{hours:g} h", pairs, None))
        if templates > candidates.APPROXIMATE_ABOVE:
            rows.append((f"{hours:g} h", pairs, max(1, round(candidates.RERANK * n / templates))))
    for label, pairs, rerank in rows:
        summary, seconds = recall_at(args.corpus, index, pairs, rerank)
        how = "exact" if rerank is None else f"rough, {rerank} rescored"
        one_shot = next(v for k, v in summary.items() if k.startswith("recall one-shot"))
        negatives = next(v for k, v in summary.items() if k.startswith("negative queries"))
        print(
            f"{label:>15} {pairs:>10} {how:>22} {summary['recall (all embedded)']:>7.3f} {one_shot:>9.3f}"
            f" {summary['precision']:>10.3f} {negatives:>10.2f} {seconds:>8.2f}"
        )
    index.__dict__.pop("candidates", None)
    latency_table(args.corpus, index, args.latency_hours)


if __name__ == "__main__":
    main()
