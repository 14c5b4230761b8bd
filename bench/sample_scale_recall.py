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
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from audiowave.datasets.index_library import run_index
from audiowave.evaluation.samples import evaluate_samples, with_distractors
from audiowave.samples import candidates, matcher
from audiowave.samples.index_store import SampleIndex

TEMPLATES_PER_HOUR = 2400  # one template per 1.5 s of library audio (a one-shot library), as sample_scale.py


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("corpus/dev"))
    parser.add_argument("--distractors", type=Path, action="append", default=[])
    parser.add_argument("--hours", type=float, nargs="+", default=[1, 10, 100])
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


if __name__ == "__main__":
    main()
