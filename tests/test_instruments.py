"""The offline instrument recogniser: the training recipe end to end (tiny), and the packaged model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from audiowave.instruments.recipe import LABELS, OUTPUTS, TRAINING_BANKS, render_bank
from audiowave.instruments.recogniser import FamilyRecogniser
from audiowave.instruments.train import MODEL_NAME, TEST, FitSettings, train
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
    settings = FitSettings(steps=6, batch=8)
    card = train(tmp_path, settings, phrases=1, banks=(TIMGM,), test_bank=TIMGM, eval_examples=64, log=str)
    assert card["labels"] == list(OUTPUTS) and len(card["calibration"]) == len(OUTPUTS)
    for m in card["calibration"]:
        assert np.all(np.diff(m["y"]) >= 0)  # isotonic maps never invert the ranking
    on_disk = json.loads((tmp_path / f"{MODEL_NAME}.json").read_text())
    assert on_disk[TEST]["macro"].keys() >= {"precision", "recall", "f1", "ece"}
    rec = FamilyRecogniser.from_files(tmp_path / f"{MODEL_NAME}.pt", tmp_path / f"{MODEL_NAME}.json")
    probs, starts = rec.probabilities(np.zeros(32000, np.float32), 16000)
    assert probs.shape == (3, len(OUTPUTS)) and np.all(probs == 0)  # silence: nothing plays
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


def test_808_lines_are_synthesised_for_training_and_sampled_from_recorded_kicks_for_the_test():
    import librosa

    from audiowave.instruments import bass808
    from audiowave.instruments.recipe import render_808

    rng = np.random.default_rng(3)
    for make in (bass808.synthesise, bass808.sampled):
        line = make(rng, 4.0, 16000)
        assert line.shape == (64000,) and np.isfinite(line).all() and np.abs(line).max() == pytest.approx(0.5)
        spectrum = np.abs(np.fft.rfft(line)) ** 2
        centroid = float(np.sum(np.fft.rfftfreq(line.size, 1 / 16000) * spectrum) / spectrum.sum())
        assert centroid < 400  # a sub-bass line, not a click track
        f0 = librosa.yin(line, fmin=25, fmax=200, sr=16000, frame_length=4096)
        assert 25 <= float(np.median(f0)) <= 120
    stems = render_808(3, seed=0, sampled=True)
    assert len(stems) == 6 and {s.detail for s in stems} == {"808 bass"} and {s.label for s in stems} == {"bass"}
    assert stems[0].bank == "808 kicks (Sonic Pi)" and stems[0].effect == "dry" and stems[1].effect != "dry"


def test_kinds_within_families_come_from_programs_and_effects():
    stems = render_bank((TIMGM,), phrases=1, seed=0)
    kinds = {(s.program, s.effect, s.detail) for s in stems if s.label in ("electric guitar", "bass")}
    assert {(29, "dry", "distorted guitar"), (30, "dry", "distorted guitar"), (38, "dry", "synth bass")} <= kinds
    assert (27, "dry", None) in kinds and (33, "dry", None) in kinds  # clean guitar, finger bass
    assert all(d == "distorted guitar" for p, e, d in kinds if p in range(26, 32) and e == "distortion")


def test_a_kind_is_reported_only_where_its_family_is_heard():
    from audiowave.instruments.model import FamilyNet

    rec = FamilyRecogniser(FamilyNet(len(OUTPUTS)), list(OUTPUTS), [], [0.5] * len(OUTPUTS), "test")
    starts = np.arange(20) * 0.5
    probs = np.zeros((20, len(OUTPUTS)))
    probs[:12, OUTPUTS.index("bass")] = 0.9  # bass heard for the first 6.5 s
    probs[:, OUTPUTS.index("808 bass")] = 0.85  # the 808 output fires throughout
    probs[:, OUTPUTS.index("distorted guitar")] = 0.9  # ... and this one with no guitar at all
    found = {i.label: i for i in rec._instruments(probs, starts, 10.5, "mix")}
    assert set(found) == {"bass", "808 bass"}
    kind = found["808 bass"]
    assert kind.family == "bass" and kind.confidence == pytest.approx(0.85)
    assert [(s.start, s.end) for s in kind.spans] == [(0.0, 6.5)]
    probs[:, OUTPUTS.index("808 bass")] = 0.7  # enough for another kind, not for an 808
    probs[:, OUTPUTS.index("synth bass")] = 0.7
    assert {i.label for i in rec._instruments(probs, starts, 10.5, "mix")} == {"bass", "synth bass"}


def test_training_sees_each_example_through_its_own_smooth_bounded_eq():
    import torch

    from audiowave.instruments.train import EQ_DB, random_eq

    mel = torch.zeros(4, 1, 64, 10)
    curves = random_eq(mel, torch.Generator().manual_seed(0))
    assert torch.equal(curves, random_eq(mel, torch.Generator().manual_seed(0)))  # reproducible from the seed
    assert torch.all(curves == curves[..., :1])  # an EQ: the same gain in every frame
    assert curves.abs().max() <= 3 * EQ_DB / 10 and curves.abs().max() > 0.05  # log10 power: within +/- 3 x 2 dB
    assert not torch.allclose(curves[0], curves[1])  # each example its own
    assert curves[0, 0, :, 0].diff().abs().max() < 0.05  # smooth over neighbouring mel bands


def test_stem_archive_keeps_labels_and_the_sound_a_log_mel_sees(tmp_path):
    import torch

    from audiowave.instruments import stem_archive
    from audiowave.instruments.features import log_mel

    stems = render_bank((TIMGM,), phrases=1, seed=0)[:40:4]
    summary = stem_archive.save(stems, tmp_path / "stems.npz", {"phrases": 1, "seed": 0})
    assert summary["stems"] == 10 and summary["seconds"] == 40.0
    assert summary["bytes"] < sum(s.audio.nbytes for s in stems) / 10  # Opus: a tenth of float32 at least
    loaded, on_disk = stem_archive.load(tmp_path / "stems.npz")
    assert on_disk["recipe"] == {"phrases": 1, "seed": 0} and "opus" in on_disk["codec"]
    errors_db = []
    for a, b in zip(stems, loaded, strict=True):
        assert (a.label, a.bank, a.program, a.effect, a.detail) == (b.label, b.bank, b.program, b.effect, b.detail)
        assert b.audio.shape == a.audio.shape and b.audio.dtype == np.float32
        mel_a, mel_b = (log_mel(torch.from_numpy(s.audio[None])) for s in (a, b))
        heard = mel_a > mel_a.amax() - 4  # log10 power: bins within 40 dB of the loudest
        errors_db.append(float((10 * (mel_a - mel_b))[heard].abs().median()))
    assert np.median(errors_db) < 1.5 and max(errors_db) < 4.0, errors_db


def test_a_file_that_is_not_a_stem_archive_is_refused_with_exit_code_2(tmp_path):
    from typer.testing import CliRunner

    from audiowave.cli import app

    bogus = tmp_path / "stems.npz"
    bogus.write_bytes(b"not an archive")
    result = CliRunner().invoke(app, ["train-instruments", "--stems", str(bogus), "--fit-only", "-o", str(tmp_path)])
    assert result.exit_code == 2 and "is not a stem archive" in " ".join(result.output.split())
    assert not list(tmp_path.glob("*.pt"))


def test_asking_for_a_gpu_where_torch_sees_none_is_a_clear_error(tmp_path):
    import torch
    from typer.testing import CliRunner

    from audiowave.cli import app

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    result = CliRunner().invoke(app, ["train-instruments", "--fit-only", "--device", "cuda", "-o", str(tmp_path)])
    assert result.exit_code == 2 and "no CUDA GPU" in " ".join(result.output.split())


def test_fitting_elsewhere_then_finishing_here_gives_a_card_that_says_how(tmp_path):
    from audiowave.instruments import stem_archive
    from audiowave.instruments.train import fit_only, model_card

    stem_archive.save(render_bank((TIMGM,), phrases=1, seed=0), tmp_path / "stems.npz", {"phrases": 1, "seed": 0})
    stems, summary = stem_archive.load(tmp_path / "stems.npz")
    weights = tmp_path / "fitted.pt"
    archives = [{"file": "stems.npz"} | summary]
    settings = FitSettings(steps=4, batch=8, width=8, eq_db=3.0, workers=1)  # mixtures from 1 worker process
    info = fit_only(stems, weights, settings, str, phrases=1, archives=archives)
    assert info["device"].startswith("CPU") and json.loads((tmp_path / "fitted.pt.json").read_text()) == info
    card = train(tmp_path / "model", banks=(TIMGM,), test_bank=TIMGM, eval_examples=64, log=str, fitted=weights)
    assert card["width"] == 8 and card["training"]["steps"] == 4 and card["training"]["archives"] == archives
    text = model_card(card)
    assert (
        "--stems stems.npz --fit-only --steps 4 --batch 8 --seed 0 --width 8 --eq-db 3" in text and "--fitted" in text
    )
    assert "--eq-db 3 --device cpu --workers 1`" in text  # the flags that ask for the device it was fitted on
    rec = FamilyRecogniser.from_files(
        tmp_path / "model" / f"{MODEL_NAME}.pt", tmp_path / "model" / f"{MODEL_NAME}.json"
    )
    assert rec.model.features[0][0].out_channels == 8  # the fitted width, loaded from the card
