"""Numba's on-disk cache, filled by one process before many run, and repaired when a race has broken it.

librosa compiles its gufuncs (zero crossings, local maxima, peak picking, pYIN's parabolic interpolation) with
``cache=True`` when its modules are first imported, as do the synth's filter (:mod:`audiowave.recipes.synth`), the
pitch tracker's Viterbi (:mod:`audiowave.recipes.pitch_track`) and the comb search's loops
(:mod:`audiowave.forensics.path_sums`) on first call. Two processes doing that at once
on a fresh install (the evaluation's process pool, Ray workers) can leave a gufunc's wrapper and kernel from
different compilations (numba issue #10128, open in numba 0.68): from then on every process that calls it dies of
a segmentation fault, here ``librosa.pyin`` in every recipe.
:func:`ensure` runs :func:`warm` in a child process under a file lock, so one process fills the cache and the
others find it full; a child killed by a signal means a broken cache, whose files are deleted and rebuilt.
``make`` runs it after installing (``python -m audiowave.jit_cache``), as do the drivers that start workers.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

LOCK = Path(tempfile.gettempdir()) / "audiowave-jit-cache.lock"
CACHE_SUFFIXES = (".nbi", ".nbc")


class JitCacheError(RuntimeError):
    """The compiled-code cache could not be built (the message says why)."""


def warm() -> None:
    """Compile (or load) every numba function the analysis calls, for the float types it calls them with."""
    import librosa

    from audiowave.forensics.path_sums import segment_correlations, sums_along_offsets
    from audiowave.recipes.pitch_track import f0_track
    from audiowave.recipes.synth import _svf

    for dtype in (np.float32, np.float64):
        x = np.sin(np.linspace(0.0, 200.0, 8192)).astype(dtype)
        librosa.zero_crossings(x)
        librosa.util.localmax(x)
        librosa.util.localmin(x)
        librosa.util.peak_pick(x, pre_max=3, post_max=3, pre_avg=3, post_avg=5, delta=0.1, wait=3)
        librosa.pyin(x, fmin=100.0, fmax=1000.0, sr=8000, frame_length=1024)
    _svf(np.zeros(16), np.full(16, 1000.0), 1.0, 0, 44100.0)
    f0_track(np.sin(np.linspace(0.0, 200.0, 8192)), 8000)
    sums_along_offsets(np.zeros((4, 8)), np.zeros((2, 4), dtype=np.int64), 1, 6)
    segment_correlations(np.zeros(64), np.zeros(64), np.zeros(3), 16)


def cache_roots() -> list[Path]:
    """Where the cache files of :func:`warm`'s functions live: beside their packages' sources, and under
    ``NUMBA_CACHE_DIR`` when that is set."""
    import librosa

    import audiowave

    roots = [Path(librosa.__file__).parent, Path(audiowave.__file__).parent]
    if os.environ.get("NUMBA_CACHE_DIR"):
        roots.append(Path(os.environ["NUMBA_CACHE_DIR"]))
    return roots


def clear(roots: Sequence[Path]) -> None:
    """Delete numba's cache files under ``roots``."""
    for root in roots:
        for p in root.rglob("*"):
            if p.suffix in CACHE_SUFFIXES and p.is_file():
                p.unlink(missing_ok=True)


def ensure(
    check: Sequence[str] = (sys.executable, "-m", "audiowave.jit_cache", "--warm"),
    roots: Sequence[Path] | None = None,
) -> bool:
    """Run ``check`` (by default :func:`warm` in a child process) under the lock; if it dies of a signal, clear
    the cache under ``roots`` (by default :func:`cache_roots`) and run it again. True when the cache had to be
    repaired; raises :class:`JitCacheError` when the check still fails."""
    LOCK.touch(exist_ok=True)
    with LOCK.open("r") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        first = subprocess.run(list(check), capture_output=True, text=True)
        if first.returncode == 0:
            return False
        if first.returncode > 0:
            raise JitCacheError(f"warming numba's cache failed: {first.stderr.strip()[-2000:]}")
        clear(cache_roots() if roots is None else roots)
        again = subprocess.run(list(check), capture_output=True, text=True)
        if again.returncode != 0:
            raise JitCacheError(
                f"numba's cache was rebuilt, but the check still exits with {again.returncode}:"
                f" {again.stderr.strip()[-2000:]}"
            )
        return True


def main() -> None:
    """``python -m audiowave.jit_cache``: make sure the cache is whole (``--warm``: just fill it, in this process)."""
    if sys.argv[1:] == ["--warm"]:
        warm()
        return
    try:
        repaired = ensure()
    except JitCacheError as e:
        print(f"audiowave: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    print("numba cache: " + ("was broken (numba#10128), rebuilt" if repaired else "ready"))


if __name__ == "__main__":
    main()
