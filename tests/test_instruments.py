"""The offline instrument recogniser: the training recipe end to end (tiny), and the packaged model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from audiowave.instruments.recipe import LABELS, TRAINING_BANKS, render_bank
from audiowave.instruments.recogniser import FamilyRecogniser
from audiowave.instruments.train import MODEL_NAME, train
from audiowave.registry import check, get_spec

from signals import EXAMPLE

TIMGM = TRAINING_BANKS[0]


def test_recipe_renders_every_family_of_a_bank():
    stems = render_bank((TIMGM,), phrases=1, seed=0)
    labels = {s.label for s in stems}
    assert labels == set(LABELS)
    assert {s.effect for s in stems} > {"dry"}  # every rendering also has an effect-chain twin
    assert all(np.isfinite(s.audio).all() and s.audio.size == 64000 for s in stems)


def test_tiny_training_run_writes_a_loadable_calibrated_model(tmp_path):
    card = train(tmp_path, steps=6, batch=8, phrases=1, banks=(TIMGM,), test_bank=TIMGM, eval_examples=64, log=str)
    assert card["labels"] == list(LABELS) and len(card["calibration"]) == len(LABELS)
    for m in card["calibration"]:
        assert np.all(np.diff(m["y"]) >= 0)  # isotonic maps never invert the ranking
    on_disk = json.loads((tmp_path / f"{MODEL_NAME}.json").read_text())
    assert on_disk["test (FluidR3, never trained on)"]["macro"].keys() >= {"precision", "recall", "f1", "ece"}
    rec = FamilyRecogniser.from_files(tmp_path / f"{MODEL_NAME}.pt", tmp_path / f"{MODEL_NAME}.json")
    probs, starts = rec.probabilities(np.zeros(32000, np.float32), 16000)
    assert probs.shape == (3, len(LABELS)) and np.all(probs == 0)  # silence: nothing plays
    assert starts.tolist() == [0.0, 0.5, 1.0]


def test_packaged_model_is_registered_and_names_the_example_drums_and_bass():
    import soundfile as sf

    assert check(get_spec("audiowave_families")).ready
    rec = FamilyRecogniser.from_registry()
    audio, sr = sf.read(EXAMPLE, dtype="float32")
    found = {i.family: i for i in rec.tag(audio.mean(axis=1), sr)}
    assert "drums" in found and "bass" in found
    drums = found["drums"]
    assert drums.spans[0].start == pytest.approx(0.0, abs=0.5) and drums.spans[-1].end > 7.0
    assert 0.5 <= drums.confidence <= 1.0 and drums.backend.name == "audiowave-families"


def test_stem_tags_are_kept_only_where_the_stem_can_hold_them():
    from audiowave.families import stem_allows

    assert stem_allows("mix", "organ") and stem_allows("bass", "bass") and stem_allows("drums", "drums")
    assert not stem_allows("bass", "organ") and not stem_allows("drums", "piano")
    assert stem_allows("other", "piano") and not stem_allows("other", "drums")
