"""Sample identification: matched-filter matcher, landmark baseline, Ray Data indexing (incremental), CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from sqlalchemy import select

from audiowave.samples import matcher
from audiowave.samples.descriptors import describe
from audiowave.samples.index_store import IndexEntry, SampleIndex
from audiowave.service.db import LibrarySample, make_engine, session_factory

SR = 44100


def one_shot(seed: int, seconds: float = 0.4) -> np.ndarray:
    """A decaying noise burst (a snare- or hat-like hit): a distinct waveform per seed."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    return (0.5 * rng.standard_normal(t.size) * np.exp(-t * 6)).astype(np.float32)


def background(seconds: float, seed: int = 99) -> np.ndarray:
    """Sustained chord plus soft noise, so matches must survive other material on top."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) / 3
    return (0.2 * chord + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


def embed(bg: np.ndarray, sample: np.ndarray, starts_s: list[float], gain: float) -> np.ndarray:
    out = bg.copy()
    for s in starts_s:
        i = int(s * SR)
        out[i : i + sample.size] += gain * sample[: out.size - i]
    return out


def index_of(samples: dict[str, np.ndarray]) -> SampleIndex:
    entries = []
    for name, x in samples.items():
        meta = {"key": name, "library": "t", "path": name, "pack": "", "name": name}
        meta |= {"duration_s": x.size / SR, "kind": "one-shot", "licence": ""}
        entries.append(IndexEntry(meta, describe(x, SR)))
    return SampleIndex.from_entries(entries)


def test_matcher_finds_a_pitch_shifted_one_shot_and_not_the_others():
    lib = {f"s{i}.wav": one_shot(i) for i in range(4)}
    index = index_of(lib)
    up2 = soxr.resample(lib["s1.wav"], SR, SR / 2 ** (2 / 12)).astype(np.float32)  # varispeed +2 semitones
    starts = [1.0, 2.5, 4.0]
    track = embed(background(6.0), up2, starts, gain=1.5)
    found = {index.entries[m.entry].meta["name"]: m for m in matcher.match(index, track, SR)}
    assert set(found) == {"s1.wav"}
    m = found["s1.wav"]
    assert m.pitch_semitones == 2
    assert m.confidence >= matcher.DEFAULT_THRESHOLD
    assert [round(o.start_s, 1) for o in m.occurrences] == starts
    assert m.gain_db == pytest.approx(20 * np.log10(1.5), abs=2.0)


def test_matcher_reports_nothing_for_a_track_without_library_samples():
    index = index_of({f"s{i}.wav": one_shot(i) for i in range(3)})
    track = embed(background(5.0), one_shot(7), [1.0, 3.0], gain=1.5)  # a sample that is not in the library
    assert matcher.match(index, track, SR) == []


def test_landmark_baseline_finds_an_exact_loop():
    rng = np.random.default_rng(3)
    loop = np.concatenate([one_shot(int(k)) for k in rng.integers(0, 6, 8)])
    index = index_of({"loop.wav": loop, "other.wav": one_shot(9, 2.0)})
    track = embed(background(8.0), loop, [2.0], gain=0.7)
    hits = matcher.landmark_match(index, track, SR)
    assert [index.entries[e].meta["name"] for e, _, _ in hits] == ["loop.wav"]
    assert hits[0][2] == pytest.approx(2.0, abs=0.05)


def write_library(root: Path) -> None:
    for i in range(4):
        pack = root / ("kit_a" if i < 2 else "kit_b")
        pack.mkdir(parents=True, exist_ok=True)
        sf.write(pack / f"hit{i}.wav", one_shot(i), SR)
    (root / "kit_b" / "notes.txt").write_text("not audio")
    (root / "kit_b" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")


@pytest.mark.ray
def test_index_job_is_incremental_and_records_metadata(tmp_path):
    from audiowave.datasets.index_library import run_index

    lib, idx, db = tmp_path / "lib", tmp_path / "index", f"sqlite:///{tmp_path / 'aw.db'}"
    write_library(lib)
    first = run_index(str(lib), idx, library="demo", licence="CC0", db_url=db, workers=2)
    assert (first.files, first.described, first.unchanged) == (5, 4, 0)
    assert [f["path"] for f in first.failed] == ["kit_b/broken.wav"]
    again = run_index(str(lib), idx, library="demo", licence="CC0", db_url=db, workers=2)
    assert (again.described, again.unchanged, again.removed) == (0, 4, 0)

    sf.write(lib / "kit_a" / "hit0.wav", one_shot(11), SR)  # changed content
    (lib / "kit_b" / "hit3.wav").unlink()  # removed
    third = run_index(str(lib), idx, library="demo", licence="CC0", db_url=db, workers=2)
    assert (third.described, third.unchanged, third.removed) == (1, 2, 1)

    index = SampleIndex.load(idx)
    assert [e.meta["path"] for e in index.entries] == ["kit_a/hit0.wav", "kit_a/hit1.wav", "kit_b/hit2.wav"]
    engine = make_engine(db)
    with session_factory(engine)() as s:
        rows = {r.path: r for r in s.scalars(select(LibrarySample))}
    assert sorted(rows) == ["kit_a/hit0.wav", "kit_a/hit1.wav", "kit_b/hit2.wav"]
    assert rows["kit_a/hit0.wav"].pack == "kit_a" and rows["kit_a/hit0.wav"].licence == "CC0"
    assert rows["kit_a/hit0.wav"].content_hash == index.entries[0].meta["key"]
    assert rows["kit_b/hit2.wav"].kind == "one-shot" and rows["kit_b/hit2.wav"].duration_s == pytest.approx(0.4)
    # the changed sample is found by its new content, not its old one
    track = embed(background(4.0), one_shot(11), [1.0, 2.5], gain=1.5)
    assert [index.entries[m.entry].meta["path"] for m in matcher.match(index, track, SR)] == ["kit_a/hit0.wav"]


def test_index_cli_rejects_a_missing_source(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "audiowave", "index", str(tmp_path / "nope"), "--no-db"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "no such folder" in " ".join(proc.stderr.split())
    assert "Traceback" not in proc.stderr
