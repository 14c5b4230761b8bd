"""numba's cache check and repair (audiowave.jit_cache), with real child processes and real signals."""

from __future__ import annotations

import subprocess
import sys

import pytest

from audiowave import jit_cache


def _crashes_while(path) -> list[str]:
    """A check that dies of SIGSEGV, as a call into a broken gufunc does, while ``path`` exists."""
    code = (
        "import os, pathlib, signal\n"
        f"if pathlib.Path({str(path)!r}).exists():\n"
        "    os.kill(os.getpid(), signal.SIGSEGV)\n"
    )
    return [sys.executable, "-c", code]


def test_a_check_killed_by_a_signal_clears_the_cache_and_passes_after(tmp_path):
    cache = tmp_path / "pkg" / "__pycache__"
    cache.mkdir(parents=True)
    index, data = cache / "pitch._pi_wrapper-430.py311.nbi", cache / "pitch._pi_wrapper-430.py311.1.nbc"
    index.write_bytes(b"index")
    data.write_bytes(b"code")
    source = cache / "pitch.cpython-311.pyc"
    source.write_bytes(b"bytecode")
    assert jit_cache.ensure(_crashes_while(index), roots=[tmp_path]) is True
    assert not index.exists() and not data.exists() and source.exists()  # only numba's files go
    assert jit_cache.ensure(_crashes_while(index), roots=[tmp_path]) is False  # whole now: nothing to do


def test_a_check_that_fails_without_a_signal_is_reported_and_the_cache_kept(tmp_path):
    kept = tmp_path / "m.f-1.py311.nbi"
    kept.write_bytes(b"index")
    failing = [sys.executable, "-c", "raise SystemExit('librosa is missing')"]
    with pytest.raises(jit_cache.JitCacheError, match="librosa is missing"):
        jit_cache.ensure(failing, roots=[tmp_path])
    assert kept.exists()


def test_a_cache_still_broken_after_the_rebuild_is_an_error(tmp_path):
    always = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]
    with pytest.raises(jit_cache.JitCacheError, match="still exits with -11"):
        jit_cache.ensure(always, roots=[tmp_path])


def test_the_analysis_numba_functions_run_from_the_cache_in_a_child():
    proc = subprocess.run([sys.executable, "-m", "audiowave.jit_cache"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("numba cache: ")


def test_a_repair_reaches_the_cache_of_every_function_warm_fills():
    """The project's own compiled functions (the synth's filter, the pitch tracker's Viterbi, the comb search's loops)
    keep their cache files under cache_roots(), so a broken cache of any of them is cleared."""
    jit_cache.ensure()
    names = {p.name for root in jit_cache.cache_roots() for p in root.rglob("*.nbi")}
    for function in ("synth._svf", "pitch_track._banded_viterbi", "path_sums.sums_along_offsets"):
        assert any(name.startswith(function + "-") for name in names), function
