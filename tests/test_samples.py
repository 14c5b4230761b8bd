"""Sample identification: matched-filter matcher, landmark baseline, Ray Data indexing (incremental), CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from cli_runner import cli
from sample_library import SR, another_take, background, embed, one_shot, write_library, write_track
from sqlalchemy import select

from audiowave.config import Settings
from audiowave.samples import matcher
from audiowave.samples.descriptors import DESCRIPTOR_VERSION, describe
from audiowave.samples.identify import load_sample_matcher
from audiowave.samples.index_store import IndexEntry, SampleIndex
from audiowave.service.db import LibrarySample, make_engine, session_factory


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
    assert m.time_stretch == pytest.approx(2 ** (-2 / 12), abs=0.03)  # a speed change shortens the sample


def test_matcher_reports_nothing_for_a_track_without_library_samples():
    index = index_of({f"s{i}.wav": one_shot(i) for i in range(3)})
    track = embed(background(5.0), one_shot(7), [1.0, 3.0], gain=1.5)  # a sample that is not in the library
    assert matcher.match(index, track, SR) == []


def loud_chord(seconds: float) -> np.ndarray:
    """A sustained chord with its harmonics, loud: the kind of background a waveform match drowns in."""
    t = np.arange(int(seconds * SR)) / SR
    tones = [
        a / h * np.sin(2 * np.pi * f * h * t) for f, a in ((220.0, 1), (277.2, 0.8), (329.6, 0.7)) for h in (1, 2, 3)
    ]
    return (0.3 * sum(tones) / 3).astype(np.float32)


def sbr_db(sample: np.ndarray, bg: np.ndarray, gain: float) -> float:
    """Sample-to-background ratio over the sample's first 0.1 s."""
    n = int(0.1 * SR)
    return float(10 * np.log10(np.sum((gain * sample[:n]) ** 2) / np.sum(bg[:n] ** 2)))


def test_whitening_finds_a_hit_well_below_a_loud_tonal_background():
    lib = {f"s{i}.wav": one_shot(i) for i in range(4)}
    bg = loud_chord(6.0)
    assert sbr_db(lib["s2.wav"], bg, 0.1) < -8  # the chord is 8+ dB louder than the hit where it sounds
    track = embed(bg, lib["s2.wav"], [1.0, 3.0, 4.5], gain=0.1)
    found = {index_of(lib).entries[m.entry].meta["name"]: m for m in matcher.match(index_of(lib), track, SR)}
    assert set(found) == {"s2.wav"}
    assert [round(o.start_s, 1) for o in found["s2.wav"].occurrences] == [1.0, 3.0, 4.5]
    assert found["s2.wav"].gain_db == pytest.approx(-20.0, abs=2.0)


def test_whitener_turns_down_the_background_and_passes_nothing_outside_the_track_band():
    from audiowave.samples.whitening import BackgroundSpectrum

    track = matcher.to_matcher_rate(loud_chord(4.0) + 0.01 * one_shot(5, 4.0), SR)
    w = BackgroundSpectrum.of_track(track, matcher.SAMPLE_RATE).whitener(top_hz=8000.0)
    at = dict(zip(w.freqs, w.gain, strict=True))
    near = lambda hz: at[min(at, key=lambda f: abs(f - hz))]  # noqa: E731
    assert near(220.0) < 0.2 * near(3000.0)  # the chord's fundamental is held down ...
    assert near(9000.0) == 0.0 and near(10.0) == 0.0  # ... and nothing passes outside the band


def test_a_hit_between_two_samples_of_the_matcher_grid_is_found():
    hat = np.diff(one_shot(3), prepend=0.0).astype(np.float32)  # bright: most energy above 5 kHz
    lib = {"hat.wav": hat, "other.wav": one_shot(8)}
    bg = background(5.0)
    odd = [round(s * SR + 1) / SR for s in (1.0, 2.0, 3.0)]  # odd 44.1 kHz offsets: half a 22.05 kHz sample
    found = matcher.match(index_of(lib), embed(bg, hat, odd, gain=0.5), SR)
    assert [index_of(lib).entries[m.entry].meta["name"] for m in found] == ["hat.wav"]
    assert found[0].confidence > 0.95


def test_a_sound_that_only_begins_like_the_sample_is_not_taken_for_it():
    rng = np.random.default_rng(11)
    t = np.arange(int(0.6 * SR)) / SR
    sample = (0.4 * rng.standard_normal(t.size) * np.exp(-t * 2)).astype(np.float32)  # a long noisy hit
    impostor = sample.copy()
    impostor[int(0.1 * SR) :] = 0.4 * rng.standard_normal(t.size - int(0.1 * SR)) * np.exp(-t[int(0.1 * SR) :] * 2)
    index = index_of({"long.wav": sample})
    assert matcher.match(index, embed(background(5.0), impostor, [1.0, 3.0], gain=1.0), SR) == []
    assert len(matcher.match(index, embed(background(5.0), sample, [1.0, 3.0], gain=1.0), SR)) == 1


def varied_hit(seed: int) -> np.ndarray:
    """A hit of its own colour: a decaying tone at a random pitch over band-passed noise with its own decay."""
    from scipy.signal import butter, sosfilt

    rng = np.random.default_rng(1000 + seed)
    t = np.arange(int(0.4 * SR)) / SR
    lo = rng.uniform(100, 6000)
    noise = sosfilt(
        butter(2, [lo, min(lo * rng.uniform(1.5, 3), 18000)], "bandpass", fs=SR, output="sos"),
        rng.standard_normal(t.size),
    )
    tone = np.sin(2 * np.pi * rng.uniform(60, 1500) * t) * np.exp(-t * rng.uniform(4, 20))
    hit = rng.uniform(0.2, 1) * tone + noise / np.abs(noise).max() * np.exp(-t * rng.uniform(8, 40))
    return (0.5 * hit / np.abs(hit).max()).astype(np.float32)


def test_the_candidate_stage_shortlists_the_used_sample_where_it_sounds():
    lib = {f"v{i}.wav": varied_hit(i) for i in range(60)}
    index = index_of(lib)
    used, starts = 17, [1.0, 2.5, 4.0]
    down1 = soxr.resample(lib[f"v{used}.wav"], SR, SR / 2 ** (-1 / 12)).astype(np.float32)
    track = embed(loud_chord(6.0), down1, starts, gain=0.3)
    x = matcher.to_matcher_rate(track, SR)
    pairs = 42  # 10 % of the 60 templates x 7 pitch hypotheses
    plan = matcher.scan_plan(index, matcher.pitch_tracks(x), pairs)
    assert sum(short.rows.size for short in plan.values()) == pairs
    short = plan[-1]
    assert used in short.rows  # kept at its own pitch, expected where it sounds (positions on the -1 grid)
    expected = short.positions[list(short.rows).index(used)] / (matcher.SAMPLE_RATE * 2 ** (-1 / 12))
    assert min(abs(e - s) for e in expected for s in starts) < 0.02
    assert matcher.scan_plan(index, matcher.pitch_tracks(x), exhaustive=True) == dict.fromkeys(matcher.PITCHES)
    pruned = matcher.match(index, track, SR, pairs=pairs)
    assert [(m.entry, m.pitch_semitones) for m in pruned] == [(used, -1)]
    assert pruned == matcher.match(index, track, SR, exhaustive=True)  # the same match as the exhaustive scan


def test_the_rough_pass_is_exact_with_every_time_shape_and_keeps_the_used_sample_with_three(monkeypatch):
    from audiowave.samples import candidates

    lib = {f"v{i}.wav": varied_hit(i) for i in range(60)}
    index = index_of(lib)
    n = index.chunks.shape[0]
    used, starts = 17, [1.0, 2.5, 4.0]
    track = embed(loud_chord(6.0), lib[f"v{used}.wav"], starts, gain=0.3)
    onsets = candidates.OnsetPatches.of(matcher.to_matcher_rate(track, SR))
    exact = index.candidates
    norm = candidates._norms(exact.band_energy, [onsets])[:, 0]
    cells = onsets.weighted.shape[1]
    coarse = onsets.weighted.reshape(-1, candidates.SPAN, cells)[:, candidates.COARSE].reshape(-1, cells)
    shipped_onsets = candidates.ROUGH_ONSETS
    monkeypatch.setattr(candidates, "RANK", candidates.FRAMES)
    monkeypatch.setattr(candidates, "ROUGH_ONSETS", candidates.ONSETS)
    full = candidates.CandidateIndex.of(index.relative_chunks, n, approximate_above=0)
    rough = candidates._approximate_best(full.coords, full.basis, norm[:, None], [onsets.weighted])[:, 0]
    np.testing.assert_allclose(rough, (exact.power @ coarse.T).max(axis=1) / norm, rtol=1e-4)
    shifted = candidates.OnsetPatches.of(matcher.pitch_tracks(matcher.to_matcher_rate(track, SR))[2])
    norms = candidates._norms(exact.band_energy, [onsets, shifted])
    both = candidates._approximate_best(full.coords, full.basis, norms, [onsets.weighted, shifted.weighted])
    alone = candidates._approximate_best(full.coords, full.basis, norms[:, 1:], [shifted.weighted])[:, 0]
    np.testing.assert_allclose(both, np.stack([rough, alone], axis=1), rtol=1e-6)  # together as one by one
    monkeypatch.setattr(candidates, "ROUGH_ONSETS", 2)  # only the strongest onsets' spans (listed first)
    assert coarse.shape[0] > 2 * 2
    strongest = candidates._approximate_best(full.coords, full.basis, norm[:, None], [onsets.weighted])[:, 0]
    np.testing.assert_allclose(strongest, (exact.power @ coarse[: 2 * 2].T).max(axis=1) / norm, rtol=1e-4)

    monkeypatch.setattr(candidates, "RANK", 3)
    monkeypatch.setattr(candidates, "ROUGH_ONSETS", shipped_onsets)
    low = candidates.CandidateIndex.of(index.relative_chunks, n, approximate_above=0, rerank=6)  # a tenth exactly
    assert low.coords.shape == (n, candidates.BANDS * 3)
    best = low.scores([onsets])[:, 0]
    scored = best > -1
    assert scored.sum() == 6 and scored[used]
    np.testing.assert_allclose(best[scored], exact.scores([onsets])[scored, 0], rtol=1e-5)
    index.__dict__["candidates"] = low  # the matcher on the rough stage finds it as before
    assert [(m.entry, m.pitch_semitones) for m in matcher.match(index, track, SR)] == [(used, 0)]


def test_a_loop_has_templates_at_its_strongest_onsets():
    hits = [one_shot(i)[: int(0.3 * SR)] for i in range(3)]
    at = [0.0, 0.7, 1.3, 2.2, 2.9]  # not on a half-second grid
    loop = np.zeros(int(3.6 * SR), np.float32)
    for k, t0 in enumerate(at):
        i = int(t0 * SR)
        loop[i : i + hits[k % 3].size] += hits[k % 3]
    d = describe(loop, SR)
    starts = d.starts / matcher.SAMPLE_RATE
    assert d.kind == "loop" and len(starts) == len(at)
    assert np.abs(starts - np.array(at)).max() < 0.02


def test_a_template_the_filter_leaves_without_weight_is_no_evidence():
    # a loop that starts softly can lose every chunk's weight to the whitening; it once scored NaN, which
    # passed the threshold test and was reported as a match
    no_weight = np.zeros(matcher.N_CHUNKS, np.float32)
    assert matcher.evidence(0.9, 1.0, matcher.ChainFit([], 1.0), no_weight, chance=0.1) == 0.0


def test_identical_recordings_at_other_gains_are_one_group_and_other_sounds_are_not():
    from audiowave.samples.identical import Signature, group_identical

    hit = one_shot(2)
    quantised = np.round(0.05 * hit * 32767) / 32767  # a 16-bit layer 26 dB softer: same waveform, other noise
    lib = {"hard.wav": hit, "soft.wav": quantised, "late.wav": np.concatenate([np.zeros(40), hit])}
    lib |= {"other.wav": one_shot(3), "shorter.wav": hit[: hit.size // 2]}
    index = index_of(lib)
    groups = group_identical(index.entries, lambda e: Signature.of(e.descriptor))
    assert [(g.meta["name"], [o.meta["name"] for o in others]) for g, others in groups] == [
        ("hard.wav", ["soft.wav", "late.wav"]),  # the same recording; a few samples of silence before it do not count
        ("other.wav", []),
        ("shorter.wav", []),  # a cut of it is another file's worth of sound
    ]


def test_another_take_of_a_sound_heard_where_it_is_heard_is_similar_and_a_layered_sound_stays_a_match():
    from audiowave.samples.identical import Signature, group_recordings, similarity

    hit = one_shot(2)
    take = another_take(hit)
    index = index_of({"hit.wav": hit, "take.wav": take, "clap.wav": one_shot(5)})
    signatures = [Signature.of(e.descriptor) for e in index.entries]
    assert 0.85 < similarity(signatures[0], signatures[1]) < 0.998  # not the same recording
    track = embed(embed(background(5.0), hit, [1.0, 3.0], gain=1.0), one_shot(5), [1.0, 3.0], gain=0.8)
    found = matcher.match(index, track, SR)
    assert {index.entries[m.entry].meta["name"] for m in found} == {"hit.wav", "take.wav", "clap.wav"}

    def signature(m: matcher.SampleMatch) -> Signature:
        return signatures[m.entry]

    def starts(m: matcher.SampleMatch) -> list[float]:
        return [o.start_s for o in m.occurrences]

    groups = group_recordings(found, signature, lambda m: m.gain_db, starts)
    named = {
        index.entries[n.entry].meta["name"]: [index.entries[o.entry].meta["name"] for o in sim] for n, _, sim in groups
    }
    assert named == {"hit.wav": ["take.wav"], "clap.wav": []}  # the clap layered on the hit is a match of its own
    alone = matcher.match(index, embed(background(5.0), take, [2.0], gain=1.0), SR)  # two takes the track can
    groups = group_recordings(alone, signature, lambda m: m.gain_db, starts)
    assert [{n.entry, *(o.entry for o in sim)} for n, _, sim in groups] == [
        {0, 1}
    ]  # hardly tell: one match, both named


def test_landmark_baseline_finds_an_exact_loop():
    rng = np.random.default_rng(3)
    loop = np.concatenate([one_shot(int(k)) for k in rng.integers(0, 6, 8)])
    index = index_of({"loop.wav": loop, "other.wav": one_shot(9, 2.0)})
    track = embed(background(8.0), loop, [2.0], gain=0.7)
    hits = matcher.landmark_match(index, track, SR)
    assert [index.entries[e].meta["name"] for e, _, _ in hits] == ["loop.wav"]
    assert hits[0][2] == pytest.approx(2.0, abs=0.05)


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
    settings = Settings(home=tmp_path / "home", sample_index=idx)
    loaded, _ = load_sample_matcher(settings)
    assert load_sample_matcher(settings)[0] is loaded  # kept in the process while the index is unchanged

    sf.write(lib / "kit_a" / "hit0.wav", one_shot(11), SR)  # changed content
    (lib / "kit_b" / "hit3.wav").unlink()  # removed
    third = run_index(str(lib), idx, library="demo", licence="CC0", db_url=db, workers=2)
    assert (third.described, third.unchanged, third.removed) == (1, 2, 1)

    index = SampleIndex.load(idx)
    assert [e.meta["path"] for e in index.entries] == ["kit_a/hit0.wav", "kit_a/hit1.wav", "kit_b/hit2.wav"]
    reloaded, _ = load_sample_matcher(settings)  # the index changed: loaded again
    assert reloaded is not loaded and [e.meta["path"] for e in reloaded.index.entries] == [
        e.meta["path"] for e in index.entries
    ]
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


@pytest.mark.ray
def test_an_index_from_an_older_matcher_is_refused_then_rebuilt(tmp_path):
    import pyarrow.parquet as pq

    from audiowave.datasets.index_library import run_index
    from audiowave.samples.identify import missing_index

    lib, idx = tmp_path / "lib", tmp_path / "index"
    write_library(lib)
    run_index(str(lib), idx, library="demo", workers=2)
    assert missing_index(idx) is None
    # what an index of the previous layout looks like: a catalogue without a version, shards right under shards/
    pq.write_table(pq.read_table(idx / "catalog.parquet").replace_schema_metadata({}), idx / "catalog.parquet")
    for run in (idx / "shards" / DESCRIPTOR_VERSION).iterdir():
        run.rename(idx / "shards" / run.name)
    (idx / "shards" / DESCRIPTOR_VERSION).rmdir()
    assert "another matcher version (mf1" in missing_index(idx) and SampleIndex.load(idx).entries == []
    rebuilt = run_index(str(lib), idx, library="demo", workers=2)
    assert (rebuilt.described, rebuilt.unchanged) == (4, 0)
    assert missing_index(idx) is None and len(SampleIndex.load(idx).entries) == 4
    assert [p.name for p in (idx / "shards").iterdir()] == [DESCRIPTOR_VERSION]


def test_sample_eval_reads_matches_at_any_threshold_and_fits_it_on_half_the_queries():
    from audiowave.evaluation.samples import at_threshold, credited, fitted_threshold, threshold_sweep, two_fold

    def row(query: str, confidence: float, false: dict[str, float], negative: bool = False) -> dict:
        hits = [] if negative else [{"name": "a.wav", "kind": "one-shot", "confidence": confidence, "loc_err": 0.01}]
        hits = [h | {"pitch_ok": True, "stretch_ok": True} for h in hits]
        return {"query": query, "tier": "clean", "negative": negative, "method": "matched-filter", "seconds": 1.0,
                "hits": hits, "false": false}  # fmt: skip

    rows = [row("Q0", 0.9, {}), row("Q1", 0.7, {"b.wav": 0.65}), row("Q2", 0.0, {"c.wav": 0.72}, negative=True)]
    low = at_threshold(rows, 0.6)
    assert [h["found"] for r in low for h in r["hits"]] == [True, True] and low[2]["false"] == ["c.wav"]
    high = at_threshold(rows, 0.8)
    assert [h["found"] for r in high for h in r["hits"]] == [True, False] and high[1]["hits"][0]["loc_err"] is None
    sweep = {t: (recall, precision, negatives) for t, recall, precision, negatives in threshold_sweep(rows)}
    assert sweep[0.6] == (1.0, 0.5, 1.0) and sweep[0.74] == (0.5, 1.0, 0.0)
    assert fitted_threshold(rows) == 0.74  # 0.7 keeps both hits but matches the negative query
    folds = two_fold(rows)  # fit on Q0+Q2, score Q1; fit on Q1 (no negative query to match), score Q0+Q2
    assert [t for t, *_ in folds] == [0.74, 0.7]
    assert folds[0][1] == 0.0 and np.isnan(folds[0][2])  # nothing found on Q1 at 0.74: precision undefined
    assert folds[1][1:] == (1.0, 0.5, 1.0)

    # a match naming another file of the same recording counts as the embedded sample, once; else as one false match
    layers = {"hard.wav": ([1.0], 0, 1.0, 0.9, ["soft.wav", "a.wav"]), "b.wav": ([2.0], 0, 1.0, 0.8, ["c.wav"])}
    assert credited(layers, {"a.wav"}) == {"a.wav": layers["hard.wav"], "b.wav": layers["b.wav"]}


def test_the_sample_eval_verifies_as_many_shortlisted_pairs_as_it_is_told(tmp_path):
    from audiowave.evaluation.samples import run_matchers

    index = index_of({f"hit{i}.wav": one_shot(i) for i in range(4)})
    write_track(tmp_path / "q.wav", [1.0, 2.5, 4.0])  # hit1, a semitone down
    found, _ = run_matchers(index, tmp_path / "q.wav")["matched-filter"]
    assert "hit1.wav" in found
    nothing, _ = run_matchers(index, tmp_path / "q.wav", pairs=0)["matched-filter"]  # no pair verified
    assert nothing == {}


@pytest.mark.ray
def test_eval_samples_from_the_cli_on_a_small_corpus(tmp_path):
    corpus = tmp_path / "corpus"
    write_library(corpus / "library")
    (corpus / "queries").mkdir()
    write_track(corpus / "queries" / "Q000.wav", [1.0, 2.5, 4.0])  # hit1, a semitone down
    sf.write(corpus / "queries" / "Q001.wav", background(5.0), SR)
    embedded = {
        "library_path": "library/kit_a/hit1.wav",
        "kind": "one-shot",
        "occurrences": [{"start_s": s} for s in (1.0, 2.5, 4.0)],
        "transform": {"pitch_semitones": -1, "pitch_method": "varispeed", "time_stretch": 1.0},
    }
    queries = [
        {"id": "Q000", "path": "queries/Q000.wav", "tier": "pitch", "is_negative": False, "embedded": [embedded]},
        {"id": "Q001", "path": "queries/Q001.wav", "tier": "neg_plain", "is_negative": True, "embedded": []},
    ]
    others = tmp_path / "other-kit"  # distractors: other hits, and a file the corpus drew hit1 from (left out)
    others.mkdir()
    for i in range(5):
        sf.write(others / f"v{i}.wav", varied_hit(i), SR)
    sf.write(others / "used.wav", one_shot(1), SR)
    library = [{"path": "library/kit_a/hit1.wav", "source_file": str(others / "used.wav")}]
    (corpus / "ground_truth.json").write_text(json.dumps({"library": library, "queries": queries}))
    proc = cli("eval", str(corpus), "--samples", "--out", str(tmp_path / "eval"), "--distractors", str(others))
    assert proc.returncode == 0, proc.stderr
    out = " ".join(proc.stdout.split())
    assert "5 distractor samples indexed beside the library" in out and "4 library + 5 distractor samples" in out
    assert "recall (all embedded) │ 1.000 │" in out and "negative queries with a match (n=1) │ 0.000" in out
    assert "precision │ 1.000" in out  # used.wav, which is hit1, was not indexed as a distractor
    assert "threshold fitted on half the queries" in out and "matched filter by threshold" in out
    rows = json.loads((tmp_path / "eval" / "samples.json").read_text())["queries"]
    hit = next(r for r in rows if r["method"] == "matched-filter" and r["query"] == "Q000")["hits"][0]
    assert hit["pitch_ok"] and hit["confidence"] >= 0.78 and hit["loc_err"] < 0.05


def test_index_cli_rejects_a_missing_source(tmp_path):
    proc = cli("index", str(tmp_path / "nope"), "--no-db")
    assert proc.returncode == 2
    assert "no such folder" in " ".join(proc.stderr.split())
    assert "Traceback" not in proc.stderr


@pytest.mark.ray
def test_index_then_analyze_from_the_cli_reports_matches_with_proof_and_caches(tmp_path):
    import json

    home = tmp_path / "home"
    env = {"AUDIOWAVE_HOME": str(home)}
    write_library(tmp_path / "lib")
    sf.write(tmp_path / "lib" / "kit_b" / "hit1_soft.wav", 0.1 * one_shot(1), SR, subtype="PCM_16")  # hit1, 20 dB down
    sf.write(tmp_path / "lib" / "kit_b" / "hit1_take2.wav", another_take(one_shot(1)), SR)  # hit1's sound, retaken
    write_track(tmp_path / "track.wav", [1.0, 3.0, 4.5])
    indexed = cli("index", str(tmp_path / "lib"), "--no-db", "--workers", "2", env=env)
    assert indexed.returncode == 0, indexed.stderr

    first = cli("analyze", str(tmp_path / "track.wav"), "--stages", "samples", "-o", str(tmp_path / "out"), env=env)
    assert first.returncode == 0, first.stderr
    printed = " ".join(first.stdout.split())
    assert "kit_a/hit1.wav at 1.00, 3.00, 4.50 s: pitch -1 st" in printed and "same recording: hit1_soft.wav" in printed
    assert "similar: hit1_take2.wav" in printed
    section = json.loads((tmp_path / "out" / "track" / "result.json").read_text())["samples"]
    assert section["status"] == "ran" and section["cached_sources"] == []
    [m] = section["matches"]  # the soft layer is the same recording: one match, with it as the alternative
    assert (m["path"], m["pack"], m["pitch_semitones"], m["source"]) == ("kit_a/hit1.wav", "kit_a", -1, "mix")
    assert [a["path"] for a in m["alternatives"]] == ["kit_b/hit1_soft.wav"]
    assert [a["path"] for a in m["similar"]] == ["kit_b/hit1_take2.wav"]  # heard only where hit1 is: not a match
    assert 0 < m["similar"][0]["confidence"] <= m["confidence"]
    report = (tmp_path / "out" / "track" / "report.md").read_text()
    assert "hit1.wav (or the same recording: hit1_soft.wav) (similar: hit1_take2.wav)" in report
    assert [o["start_s"] for o in m["occurrences"]] == pytest.approx([1.0, 3.0, 4.5], abs=0.01)
    assert m["gain_db"] == pytest.approx(20 * np.log10(1.2), abs=2.0)
    # proof: the excerpt is the track around the first occurrence; the rendered sample lines up with it
    proof = m["proof"]
    excerpt, sr = sf.read(proof["track_audio"])
    rendered, _ = sf.read(proof["sample_audio"])
    assert excerpt.shape == (rendered.size, 2) and proof["excerpt_start_s"] == pytest.approx(0.75, abs=0.01)
    onset = int(np.argmax(np.abs(rendered) > 0.05 * np.abs(rendered).max()))
    assert onset / sr == pytest.approx(1.0 - proof["excerpt_start_s"], abs=0.005)
    assert np.corrcoef(excerpt[:, 0][onset : onset + 4000], rendered[onset : onset + 4000])[0, 1] > 0.8
    assert Path(proof["picture"]).stat().st_size > 10_000

    again = cli("analyze", str(tmp_path / "track.wav"), "--stages", "samples", "-o", str(tmp_path / "out2"), env=env)
    assert again.returncode == 0, again.stderr
    section2 = json.loads((tmp_path / "out2" / "track" / "result.json").read_text())["samples"]
    assert section2["cached_sources"] == ["mix"] and section2["matches"][0]["path"] == "kit_a/hit1.wav"

    assert len(list((home / "cache" / "samples").glob("*.json"))) == 1
    stems_env = {**env, "AUDIOWAVE_SAMPLE_SEARCH_STEMS": "1"}
    out3 = tmp_path / "out3"
    third = cli(
        "analyze", str(tmp_path / "track.wav"), "--stages", "separation,samples", "-o", str(out3), env=stems_env
    )
    assert third.returncode == 0, third.stderr
    section3 = json.loads((out3 / "track" / "result.json").read_text())["samples"]
    assert section3["cached_sources"] == ["mix"]  # the mix came from the cache...
    assert len(list((home / "cache" / "samples").glob("*.json"))) > 1  # ...and the stems were searched afresh
    assert section3["matches"][0]["path"] == "kit_a/hit1.wav"


def test_analyze_without_an_index_says_so(tmp_path):
    import json

    write_track(tmp_path / "track.wav", [1.0])
    proc = cli(
        "analyze", str(tmp_path / "track.wav"), "--stages", "samples", "--json", env={"AUDIOWAVE_HOME": str(tmp_path)}
    )
    assert proc.returncode == 0, proc.stderr
    section = json.loads(proc.stdout)["samples"]
    assert section["status"] == "no index" and "audiowave index" in section["note"]


@pytest.mark.ray
def test_shard_actors_split_the_index_and_merge_to_the_whole(tmp_path):
    import ray

    from audiowave.actors.sample_shards import ShardedSampleMatcher
    from audiowave.datasets.index_library import run_index
    from audiowave.samples.identify import LocalSampleMatcher

    (tmp_path / "lib").mkdir()
    for i in range(6):
        sf.write(tmp_path / "lib" / f"s{i}.wav", one_shot(i), SR)
    sf.write(tmp_path / "lib" / "s1_soft.wav", 0.12 * one_shot(1), SR, subtype="PCM_16")  # a softer layer of s1
    track = embed(embed(background(6.0), one_shot(1), [1.0], 1.5), one_shot(4), [3.0], 1.5)
    ray.shutdown()  # a Ray Data job of another test may have started a default one
    ray.init(num_cpus=2, log_to_driver=False)
    try:
        run_index(str(tmp_path / "lib"), tmp_path / "index", workers=2)
        parts = [SampleIndex.load(tmp_path / "index", part=(i, 3)) for i in range(3)]
        assert sorted(e.meta["path"] for p in parts for e in p.entries) == sorted(
            [f"s{i}.wav" for i in range(6)] + ["s1_soft.wav"]
        )
        assert len({p.version for p in parts}) == 3  # cached matches never cross parts
        local = LocalSampleMatcher.load(tmp_path / "index").find([("mix", track)], SR, matcher.DEFAULT_THRESHOLD)[0]
        sharded = ShardedSampleMatcher(tmp_path / "index", parts=2, cpus_per_shard=0.5)
        assert sum(sharded.shard_sizes) == 7
        found, cached = sharded.find([("mix", track)], SR, matcher.DEFAULT_THRESHOLD)
        # the two layers of one recording are one match, named by the file at the track's level
        assert sorted(f.meta["path"] for f in local) == ["s1.wav", "s4.wav"]
        s1 = next(f.to_result() for f in local if f.meta["path"] == "s1.wav")
        assert [a.path for a in s1.alternatives] == ["s1_soft.wav"]
        assert s1.alternatives[0].gain_db == pytest.approx(s1.gain_db + 20 * np.log10(1 / 0.12), abs=0.5)
        assert [(f.meta["path"], f.match.confidence, [a.meta["path"] for a in f.alternatives]) for f in found] == [
            (f.meta["path"], f.match.confidence, [a.meta["path"] for a in f.alternatives]) for f in local
        ]
        assert cached == [] and sharded.find([("mix", track)], SR, matcher.DEFAULT_THRESHOLD)[1] == ["mix"]
    finally:
        ray.shutdown()
