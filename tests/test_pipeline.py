"""The whole offline pipeline on the bundled example clip, as ``audiowave analyze`` runs it."""

from __future__ import annotations

import json

import mido
import pytest
import soundfile as sf

from audiowave.pipeline import Pipeline, parse_stages
from audiowave.writer import write_analysis

from signals import EXAMPLE


@pytest.fixture(scope="module")
def example_analysis():
    return Pipeline().analyze(EXAMPLE)


def test_example_rhythm_key_and_chords(example_analysis):
    r = example_analysis.result
    assert abs(r.tempo_bpm - 120.0) < 2.0
    assert r.meter.beats_per_bar == 4
    assert (r.key.tonic, r.key.mode) == ("A", "minor")
    labels = [s.label for s in r.chords.segments if s.end - s.start > 1.0]
    assert labels == ["A:min", "D:min", "E:maj", "A:min"]
    assert len(r.downbeats) >= 4


def test_every_section_names_its_backend(example_analysis):
    r = example_analysis.result
    assert set(r.backends) >= {
        "separation",
        "rhythm",
        "key",
        "chords",
        "structure",
        "loudness",
        "spectral",
        "notes",
        "pitch",
        "tagging",
    }
    assert r.backends["separation"].fallback and r.backends["separation"].name == "hpss-bands"
    assert r.tagging.status == "ran" and r.backends["tagging"].name == "audiowave-families"  # PANNs absent
    assert "PANNs CNN14 not available" in r.tagging.note
    assert {i.family for i in r.instruments if i.source == "mix"} >= {"drums", "bass"}
    assert all(i.source == "mix" for i in r.instruments)  # fallback stems are band splits: not tagged
    assert all(s.backend.name == "hpss-bands" for s in r.stems)
    assert r.timings[0].stage == "decode"


def test_bass_stem_pitch_and_notes(example_analysis):
    r = example_analysis.result
    bass = next(c for c in r.pitch if c.stem == "bass")
    # The example's bass plays A1 D1 E1 A1 (55, 36.7, 41.2, 55 Hz)
    assert 35 < bass.median_f0_hz < 60 and bass.voiced_share > 0.3
    assert {n.stem for n in r.notes} >= {"harmonic"}


def test_written_outputs(example_analysis, tmp_path):
    path = write_analysis(example_analysis, tmp_path, save_stems=True)
    doc = json.loads(path.read_text())
    assert doc["schema_version"] == "1.5.0"
    for stem in doc["stems"]:
        audio, sr = sf.read(stem["path"])
        assert sr == 44100 and audio.shape[1] == 2
    for notes in doc["notes"]:
        assert len(mido.MidiFile(notes["midi_path"]).tracks) >= 1
    for picture in doc["pictures"].values():
        with open(picture, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_stage_selection_runs_only_what_was_asked():
    analysis = Pipeline(stages=["loudness,spectral"]).analyze(EXAMPLE)
    r = analysis.result
    assert r.loudness and r.spectral and r.tempo is None and not r.stems
    assert [t.stage for t in r.timings] == ["decode", "loudness", "spectral"]
    assert parse_stages(None)[0] == "separation"
