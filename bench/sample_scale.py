"""Sample-index scale test: query latency and memory as the index grows, with synthetic indexes.

    python bench/sample_scale.py --landmark-hours 1 10 100 1000 --filter-hours 0.1 0.25 --shortlist-hours 1 10 100

Three tables. The landmark table (the baseline) is filled with random hashes at the density that
``landmarks.hashes`` produces on music-like audio; the matched-filter indexes with random unit templates, one per
1.5 s of library audio (a one-shot library: the most templates per hour). All answer a 30 s query made of tones
and noise bursts. The exhaustive table correlates every (template, pitch) pair with the whole track (the
reference the shortlist is measured against); the shortlist table is the shipped matcher: the candidate stage
(``samples/candidates``: exact scores up to 16,384 templates; above, a rough pass on four time shapes per band picks
the 4,096 per pitch scored exactly) shortlists 512 pairs, which are correlated near their expected positions, and
only those that match there with the whole track; beside it the exact stage's time and the share of its shortlist
the shipped one keeps. Build is the candidate index (template patches and time shapes), once per process.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import time

import numpy as np

from audiowave.samples import candidates, landmarks, matcher
from audiowave.samples.descriptors import CHUNK, N_CHUNKS, SampleDescriptor
from audiowave.samples.index_store import IndexEntry, SampleIndex
from audiowave.samples.landmarks import LandmarkIndex

SR = 44100
SAMPLE_S = 1.5


def music_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Decaying tones and noise bursts on a 120 BPM grid: enough peaks for a realistic hash density."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * SR), np.float32)
    t = np.arange(int(0.5 * SR)) / SR
    for start in np.arange(0, seconds - 0.5, 0.25):
        i = int(start * SR)
        tone = np.sin(2 * np.pi * rng.uniform(80, 2000) * t) * np.exp(-t * rng.uniform(3, 12))
        out[i : i + t.size] += (0.3 * tone + 0.1 * rng.standard_normal(t.size) * np.exp(-t * 30)).astype(np.float32)
    return out


def timed(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def landmark_table(hours: list[float], query: np.ndarray, density: float) -> None:
    q_hash, q_frame = landmarks.hashes(query, SR)
    print(f"\nlandmark table: {density:.1f} hashes per second of library audio; query {q_hash.size} hashes")
    print(f"{'hours':>7} {'hashes':>12} {'memory MB':>10} {'build s':>8} {'query ms':>9}")
    rng = np.random.default_rng(1)
    for h in hours:
        n = int(h * 3600 * density)
        items = int(h * 3600 / SAMPLE_S)
        t0 = time.perf_counter()
        table = LandmarkIndex(
            hash=np.sort(rng.integers(0, 1 << 20, n, dtype=np.uint32)),
            item=rng.integers(0, items, n, dtype=np.int32),
            frame=rng.integers(0, int(SAMPLE_S / landmarks.FRAME_S), n, dtype=np.int32),
        )
        build = time.perf_counter() - t0
        mb = (table.hash.nbytes + table.item.nbytes + table.frame.nbytes) / 1e6
        ms = 1000 * timed(lambda table=table: table.query(q_hash, q_frame))
        print(f"{h:>7g} {n:>12,} {mb:>10.0f} {build:>8.1f} {ms:>9.1f}")
        del table


def with_random_templates(index: SampleIndex, n: int, seed: int = 2) -> SampleIndex:
    """``index`` padded with random unit templates (float16, as an index holds them), one entry of ``SAMPLE_S``
    each, to ``n`` templates."""
    real = index.chunks.shape[0]
    n = max(n, real)
    rng = np.random.default_rng(seed)
    chunks = np.empty((n, N_CHUNKS, CHUNK), np.float16)
    chunks[:real] = index.chunks
    for i in range(real, n, 4096):
        block = rng.standard_normal((min(4096, n - i), N_CHUNKS, CHUNK), dtype=np.float32)
        chunks[i : i + block.shape[0]] = block / np.linalg.norm(block, axis=2, keepdims=True)
    weights = np.ones((n, N_CHUNKS), np.float32)
    weights[:real] = index.weights
    norms = np.ones(n, np.float32)
    norms[:real] = index.norms
    empty = np.zeros(0, np.int32)
    entries = [
        IndexEntry(
            {"key": f"{i:064x}", "library": "synthetic", "path": f"{i}.wav", "pack": "", "name": f"{i}.wav"},
            SampleDescriptor(empty, chunks[i : i + 1], weights[i : i + 1], weights[i, :1], empty, empty, SAMPLE_S),
        )
        for i in range(real, n)
    ]
    first = len(index.entries)
    return SampleIndex(
        entries=index.entries + entries,
        template_entry=np.concatenate([index.template_entry, np.arange(first, first + n - real, dtype=np.int32)]),
        template_start=np.concatenate([index.template_start, np.zeros(n - real, np.int32)]),
        chunks=chunks,
        weights=weights,
        norms=norms,
        landmarks=index.landmarks,
    )


def synthetic_index(hours: float, seed: int = 2) -> SampleIndex:
    """Random unit templates only, one per ``SAMPLE_S`` of library audio."""
    return with_random_templates(SampleIndex.from_entries([]), max(1, int(hours * 3600 / SAMPLE_S)), seed)


def filter_table(hours: list[float], query: np.ndarray) -> None:
    print(f"\nmatched filter, exhaustive ({len(matcher.PITCHES)} pitch hypotheses x every template, whole track)")
    print(f"{'hours':>7} {'templates':>10} {'memory MB':>10} {'query s':>8} {'s per index hour':>17}")
    per_hour = []
    for h in hours:
        index = synthetic_index(h)
        seconds = timed(lambda index=index: matcher.match(index, query, SR, exhaustive=True), repeats=1)
        per_hour.append(seconds / h)
        print(f"{h:>7g} {index.chunks.shape[0]:>10,} {index.nbytes / 1e6:>10.0f} {seconds:>8.2f} {seconds / h:>17.1f}")
        del index
    print(f"projected 100-hour index: {100 * float(np.median(per_hour)):.0f} s per 30 s query")


def shortlist_pairs(plan: dict) -> set[tuple[int, int]]:
    return {(int(r), p) for p, short in plan.items() for r in short.rows}


def shortlist_table(hours: list[float], query: np.ndarray) -> None:
    print(
        f"\nshipped matcher: candidate stage shortlists {matcher.SHORTLIST_PAIRS} pairs (median of 3 queries); above"
        f" {candidates.APPROXIMATE_ABOVE:,} templates a rough pass picks the {candidates.RERANK:,} per pitch scored"
        " exactly; 'exact stage s' scores every template exactly, 'kept' is the share of its shortlist the shipped"
        " one holds (random templates: no true match to find, a worst case for ranking)"
    )
    print(
        f"{'hours':>7} {'templates':>10} {'index MB':>9} {'candidates MB':>14} {'build s':>8} {'stage s':>8}"
        f" {'exact stage s':>14} {'kept':>6} {'query s':>8} {'peak RSS MB':>12}"
    )
    x = matcher.to_matcher_rate(query, SR)
    tracks = matcher.pitch_tracks(x)
    for h in hours:
        index = synthetic_index(h)
        t0 = time.perf_counter()
        cand = index.candidates
        build = time.perf_counter() - t0
        mb = (cand.power.nbytes + cand.band_energy.nbytes) / 1e6
        stage = timed(lambda index=index: matcher.scan_plan(index, matcher.pitch_tracks(x)))
        exact = dataclasses.replace(cand, basis=None, coords=None)
        exact_s = timed(lambda exact=exact: candidates.shortlist(exact, tracks, matcher.SHORTLIST_PAIRS), repeats=1)
        reference = shortlist_pairs(candidates.shortlist(exact, tracks, matcher.SHORTLIST_PAIRS))
        kept = len(reference & shortlist_pairs(matcher.scan_plan(index, tracks))) / max(len(reference), 1)
        total = timed(lambda index=index: matcher.match(index, query, SR))
        print(
            f"{h:>7g} {index.chunks.shape[0]:>10,} {index.nbytes / 1e6:>9.0f} {mb:>14.0f} {build:>8.1f} {stage:>8.2f}"
            f" {exact_s:>14.2f} {kept:>6.2f} {total:>8.2f}"
            f" {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:>12.0f}"
        )
        del index, cand, exact


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--landmark-hours", type=float, nargs="+", default=[1, 10, 100, 1000])
    parser.add_argument("--filter-hours", type=float, nargs="+", default=[0.1, 0.25])
    parser.add_argument("--shortlist-hours", type=float, nargs="+", default=[1, 10, 100])
    parser.add_argument("--query-s", type=float, default=30.0)
    args = parser.parse_args()
    print(f"CPU cores: {os.cpu_count()}; query: {args.query_s:.0f} s")
    query = music_like(args.query_s)
    lib = music_like(600, seed=5)
    density = landmarks.hashes(lib, SR)[0].size / 600
    landmark_table(args.landmark_hours, query, density)
    filter_table(args.filter_hours, query)
    shortlist_table(args.shortlist_hours, query)


if __name__ == "__main__":
    main()
