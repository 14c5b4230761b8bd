"""Nearest library samples by timbre (``samples.timbre``): does the nearest sound like the query, and how fast is it.

    python bench/timbre_neighbours.py --kits /usr/share/hydrogen/data/drumkits

The Hydrogen drum kits (14 kits, several recordings of each drum) are indexed, then:

- **kind**: each sample whose file name says what drum it is (kick, snare, hi-hat, tom, cymbal, clap) is the query,
  searched among the *other* kits only: is the nearest the same kind of drum? Chance is the sum of the squared shares.
- **recovery**: each sample, varispeeded by 1-5 semitones up or down and low-passed at 6 kHz (a sampler's repitch on a
  duller take), searched in the whole index: is the nearest the sample itself, and is its shift the one applied?
  Kits hold velocity layers of one drum (e.g. ``Cowbell-Hard``/``Cowbell-Soft``), which are near copies, so the table
  also counts a layer of the same drum in the same kit.
- **scale**: the index padded with random templates (as ``sample_scale.py``'s) to 1, 10 and 100 hours of one-shots:
  time to build the spectrograms (once per process), their memory, and time per query.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import soxr
from sample_scale import SAMPLE_S, with_random_templates  # the benchmark beside this one (bench/ is on the path)
from scipy.signal import butter, sosfilt

from audiowave.datasets.index_library import run_index
from audiowave.recipes.sampled import SIMILAR_COUNT
from audiowave.samples import timbre
from audiowave.samples.identify import LocalSampleMatcher
from audiowave.samples.library import decode_bytes, read_bytes

KINDS = (
    ("kick", r"kick|(^|[^a-z])bd|bassdrum|kik"),
    ("snare", r"snare|(^|[^a-z])sn([^a-z]|$)|(^|_)sd|rim"),
    ("hi-hat", r"hat|(^|[^a-z])hh|chh|ohh"),
    ("tom", r"tom"),
    ("cymbal", r"crash|ride|china|splash|cymbal"),
    ("clap", r"clap"),
)


def kind_of(name: str) -> str | None:
    n = name.lower()
    return next((kind for kind, pattern in KINDS if re.search(pattern, n)), None)


def drum_of(meta: dict) -> tuple[str, str]:
    """(kit, drum) with the velocity or layer suffix taken off the file name: 'Cowbell-Hard.wav' -> 'cowbell'."""
    stem = Path(meta["name"]).stem.lower()
    return meta["pack"], re.sub(r"([-_ ]?(hard|hardest|med|soft|softest|\d+))+$", "", stem)


def kind_table(m: LocalSampleMatcher, metas: list[dict], queries: dict[int, np.ndarray], library: np.ndarray) -> None:
    kinds = [kind_of(x["name"]) for x in metas]
    packs = np.array([x["pack"] for x in metas])
    hits: dict[str, list[bool]] = {}
    for i, query in queries.items():
        if kinds[i] is None:
            continue
        others = np.flatnonzero(packs != packs[i])
        nearest = timbre.nearest(query, library[others], 1)[0]
        hits.setdefault(kinds[i], []).append(kinds[others[nearest.entry]] == kinds[i])
    labelled = [k for k in kinds if k]
    chance = sum((labelled.count(k) / len(labelled)) ** 2 for k, _ in KINDS)
    print(f"\nkind: nearest in the other kits is the same kind of drum (chance {chance:.2f})")
    print(f"{'kind':>8} {'queries':>8} {'same kind':>10}")
    for kind, _ in KINDS:
        if kind in hits:
            print(f"{kind:>8} {len(hits[kind]):>8} {np.mean(hits[kind]):>10.2f}")
    every = [h for v in hits.values() for h in v]
    print(f"{'all':>8} {len(every):>8} {np.mean(every):>10.2f}")


def recovery_table(m: LocalSampleMatcher, metas: list[dict], sounds: dict[int, tuple[np.ndarray, int]], library):
    rng = np.random.default_rng(0)
    self_at_1, self_at_n, layer_at_1, shift_ok, seconds = [], [], [], [], []
    for i, (mono, sr) in sounds.items():
        k = int(rng.choice([-5, -4, -3, -2, -1, 1, 2, 3, 4, 5]))
        y = soxr.resample(mono, sr, sr / 2 ** (k / 12))  # k semitones higher (fewer samples at the same rate)
        y = sosfilt(butter(2, 6000, fs=sr, output="sos"), y).astype(np.float32)
        t0 = time.perf_counter()
        near = timbre.nearest(timbre.query_spectrogram(y, sr), library, SIMILAR_COUNT)
        seconds.append(time.perf_counter() - t0)
        self_at_1.append(near[0].entry == i)
        self_at_n.append(any(n.entry == i for n in near))
        layer_at_1.append(drum_of(metas[near[0].entry]) == drum_of(metas[i]))
        shift_ok += [n.shift == k for n in near if n.entry == i]
    print("\nrecovery: varispeeded 1-5 semitones and low-passed at 6 kHz, searched in the whole index")
    print(
        f"{'queries':>8} {'nearest':>8} {f'in {SIMILAR_COUNT} nearest':>13} {'nearest or a layer':>19}"
        f" {'shift exact (found)':>20} {'median s':>9}"
    )
    print(
        f"{len(self_at_1):>8} {np.mean(self_at_1):>8.2f} {np.mean(self_at_n):>13.2f} {np.mean(layer_at_1):>19.2f}"
        f" {np.mean(shift_ok):>20.2f} {np.median(seconds):>9.3f}"
    )


def scale_table(m: LocalSampleMatcher, query: np.ndarray, hours: list[float]) -> None:
    print("\nscale: the index padded with random one-shot templates")
    print(f"{'index':>8} {'samples':>9} {'build s':>8} {'spectrograms MB':>16} {'median query s':>15}")
    for h in hours:
        big = with_random_templates(m.index, int(h * 3600 / SAMPLE_S))
        t0 = time.perf_counter()
        _, library = big.timbres
        build = time.perf_counter() - t0
        seconds = []
        for _ in range(5):
            t0 = time.perf_counter()
            timbre.nearest(query, library, 4)
            seconds.append(time.perf_counter() - t0)
        print(f"{h:>6g} h {len(library):>9,} {build:>8.1f} {library.nbytes / 1e6:>16.0f} {np.median(seconds):>15.2f}")
        del big, library


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kits", type=Path, default=Path("/usr/share/hydrogen/data/drumkits"))
    parser.add_argument("--hours", type=float, nargs="*", default=[1, 10, 100])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        run_index(str(args.kits), Path(work), library="kits")
        m = LocalSampleMatcher.load(work)
    t0 = time.perf_counter()
    entries, library = m.index.timbres
    print(
        f"{len(entries)} samples in {len({e.meta['pack'] for e in m.index.entries})} kits; spectrograms built in"
        f" {time.perf_counter() - t0:.2f} s"
    )
    metas = [m.index.entries[e].meta for e in entries]
    sounds = {}
    for i, meta in enumerate(metas):
        clip = decode_bytes(read_bytes(m.url_of(meta)), meta["path"], 0.0)
        sounds[i] = (clip.mono, clip.sample_rate)
    queries = {i: timbre.query_spectrogram(mono, sr) for i, (mono, sr) in sounds.items()}
    kind_table(m, metas, queries, library)
    recovery_table(m, metas, sounds, library)
    scale_table(m, queries[0], args.hours)


if __name__ == "__main__":
    main()
