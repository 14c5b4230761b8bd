"""Sample-index scale test: query latency and memory as the index grows, with synthetic indexes.

    python bench/sample_scale.py --landmark-hours 1 10 100 1000 --filter-hours 0.1 0.25 0.5 --candidate-hours 1 10

Three tables. The landmark table (the candidate stage / baseline) is filled with random hashes at the
density that ``landmarks.hashes`` produces on music-like audio; the matched-filter index with random unit
templates, one per 1.5 s of library audio (a one-shot library). Both answer a 30 s query made of tones and
noise bursts. Random references give the matched filter no candidates to verify, so its time is the
scan cost that grows with the index; verification adds a constant per real candidate. The candidate table
times the stage that picks which (template, pitch) pairs of a large index the matched filter scans
(``samples/candidates``), on the same synthetic templates, with the scan of the pairs it keeps.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from audiowave.samples import landmarks, matcher
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


def synthetic_index(hours: float, seed: int = 2) -> SampleIndex:
    rng = np.random.default_rng(seed)
    n = max(1, int(hours * 3600 / SAMPLE_S))
    chunks = rng.standard_normal((n, N_CHUNKS, CHUNK)).astype(np.float32)
    chunks /= np.linalg.norm(chunks, axis=2, keepdims=True)
    entries = [
        IndexEntry(
            {"key": f"{i:064x}", "library": "synthetic", "path": f"{i}.wav", "pack": "", "name": f"{i}.wav"},
            SampleDescriptor(
                starts=np.zeros(1, np.int32),
                chunks=chunks[i : i + 1].astype(np.float16),
                weights=np.ones((1, N_CHUNKS), np.float32),
                norms=np.ones(1, np.float32),
                lm_hash=np.zeros(0, np.uint32),
                lm_frame=np.zeros(0, np.int32),
                duration_s=SAMPLE_S,
            ),
        )
        for i in range(n)
    ]
    return SampleIndex.from_entries(entries)


def filter_table(hours: list[float], query: np.ndarray) -> None:
    print(f"\nmatched filter (exhaustive scan, {len(matcher.PITCHES)} pitch hypotheses, 1 process)")
    print(f"{'hours':>7} {'templates':>10} {'memory MB':>10} {'query s':>8} {'s per index hour':>17}")
    per_hour = []
    for h in hours:
        index = synthetic_index(h)
        every = index.chunks.shape[0] * len(matcher.PITCHES)  # every pair: no candidate stage
        seconds = timed(lambda index=index, every=every: matcher.match(index, query, SR, pairs=every), repeats=1)
        per_hour.append(seconds / h)
        mb = index.nbytes / 1e6
        print(f"{h:>7g} {index.chunks.shape[0]:>10,} {mb:>10.0f} {seconds:>8.2f} {seconds / h:>17.1f}")
        del index
    rate = float(np.median(per_hour))
    print(f"projected 100-hour index: {100 * rate:.0f} s per 30 s query on one core")


def candidate_table(hours: list[float], query: np.ndarray) -> None:
    share = matcher.CANDIDATE_SHARE
    print(f"\ncandidate stage (scores every template x pitch, keeps {share:.0%} of the pairs for the scan)")
    print(f"{'hours':>7} {'templates':>10} {'build s':>8} {'memory MB':>10} {'stage s':>8} {'stage+scan s':>13}")
    x = matcher.to_matcher_rate(query, SR)
    for h in hours:
        index = synthetic_index(h)
        t0 = time.perf_counter()
        cand = index.candidates
        build = time.perf_counter() - t0
        mb = (cand.power.nbytes + cand.band_energy.nbytes) / 1e6
        stage = timed(lambda index=index: matcher.scan_plan(index, x), repeats=1)
        total = timed(lambda index=index: matcher.match(index, query, SR), repeats=1)
        print(f"{h:>7g} {index.chunks.shape[0]:>10,} {build:>8.1f} {mb:>10.0f} {stage:>8.2f} {total:>13.2f}")
        del index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--landmark-hours", type=float, nargs="+", default=[1, 10, 100, 1000])
    parser.add_argument("--filter-hours", type=float, nargs="+", default=[0.1, 0.25, 0.5])
    parser.add_argument("--candidate-hours", type=float, nargs="+", default=[1, 5])
    parser.add_argument("--query-s", type=float, default=30.0)
    args = parser.parse_args()
    print(f"CPU cores: {os.cpu_count()}; query: {args.query_s:.0f} s")
    query = music_like(args.query_s)
    lib = music_like(600, seed=5)
    density = landmarks.hashes(lib, SR)[0].size / 600
    landmark_table(args.landmark_hours, query, density)
    filter_table(args.filter_hours, query)
    candidate_table(args.candidate_hours, query)


if __name__ == "__main__":
    main()
