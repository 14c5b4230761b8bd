"""Model registry status, weight import and loading of user-supplied models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from audiowave.audio_io import load_audio
from audiowave.errors import ModelUnavailableError
from audiowave.model_import import import_weights
from audiowave.registry import MODELS, check, check_all, get_spec
from audiowave.stages.separation import BandSplitSeparator, DemucsSeparator, load_separator
from audiowave.stages.tagging import PannsTagger

from models_fixtures import save_random_cnn14, save_tiny_htdemucs
from signals import SR, tone


def test_every_model_names_backend_licence_and_source():
    for spec in MODELS:
        assert spec.backend and spec.licence and spec.source and spec.files


def test_package_models_are_ready_and_checksummed(settings):
    statuses = {s.spec.name: s for s in check_all(settings)}
    for name in ("madmom_rhythm", "madmom_tonal", "basic_pitch", "crepe_tiny"):
        assert statuses[name].status == "ready", statuses[name].detail
        assert all(f.sha256 for f in statuses[name].spec.files)


def test_user_models_missing_say_where_to_put_them(settings):
    st = check(get_spec("htdemucs"), settings)
    assert st.status == "weights missing"
    assert str(settings.resolved_models_dir / "demucs") in st.detail
    st = check(get_spec("panns_cnn14"), settings)
    assert st.status == "weights missing" and "Cnn14_mAP=0.431.pth" in st.detail


def test_separator_falls_back_with_a_reason(settings):
    sep, warning = load_separator(settings)
    assert isinstance(sep, BandSplitSeparator)
    assert sep.backend.fallback and "no HT-Demucs weights" in warning


def test_demucs_import_and_chunked_separation(settings, tmp_path, write_wav):
    weights = save_tiny_htdemucs(tmp_path / "download")
    done = import_weights(weights, settings)
    assert "bag htdemucs" in done[0]
    assert check(get_spec("htdemucs"), settings).ready
    sep, warning = load_separator(settings.model_copy(update={"separation_chunk_s": 2.5}))
    assert isinstance(sep, DemucsSeparator) and warning is None
    stereo = np.stack([tone(110, 6.0), tone(880, 6.0)], axis=1)
    clip = load_audio(write_wav("mix.wav", stereo))
    progress: list[float] = []
    result = sep.separate(clip, progress.append)
    assert set(result.stems) == {"drums", "bass", "other", "vocals"}
    assert all(s.shape == clip.samples.shape for s in result.stems.values())
    assert len(progress) >= 3 and progress[-1] == 1.0  # 6 s in 2.5 s chunks
    assert result.backend.name == "demucs" and result.backend.model == "htdemucs"


def test_demucs_with_wrong_checksum_is_refused(settings, tmp_path):
    weights = save_tiny_htdemucs(tmp_path / "download")
    tampered = weights.with_name("955717e8-00000000.th")
    tampered.write_bytes(weights.read_bytes())
    with pytest.raises(ModelUnavailableError, match="checksum"):
        import_weights(tampered, settings)


def test_installed_file_changed_later_is_detected(settings, tmp_path):
    save_random_cnn14(tmp_path / "panns")
    import_weights(tmp_path / "panns", settings)
    assert check(get_spec("panns_cnn14"), settings).ready
    installed = settings.resolved_models_dir / "panns" / "class_labels_indices.csv"
    installed.write_text(installed.read_text().replace("Piano", "Pianx"))
    assert check(get_spec("panns_cnn14"), settings).status == "checksum mismatch"


def test_panns_round_trip_tags_with_time_spans(settings, tmp_path, monkeypatch):
    import audiowave.stages.tagging as tagging

    save_random_cnn14(tmp_path / "panns")
    import_weights(tmp_path / "panns", settings)
    manifest = json.loads((settings.resolved_models_dir / "panns" / "manifest.json").read_text())
    assert set(manifest) == {"Cnn14_mAP=0.431.pth", "class_labels_indices.csv"}
    tagger = PannsTagger.from_registry()
    scores, starts = tagger.window_scores(tone(220, 5.0), SR)
    assert scores.shape == (4, 527) and np.allclose(starts, [0, 1, 2, 3])
    monkeypatch.setattr(tagging, "THRESHOLD", 0.0)  # random weights: accept every score
    found = tagger.tag(tone(220, 5.0), SR)
    assert {i.family for i in found} == {"piano", "bass", "drums", "synth lead"}
    assert all(i.spans and i.spans[0].start == 0.0 and i.spans[-1].end == 5.0 for i in found)
    assert all(i.backend.name == "panns-cnn14" for i in found)


def test_panns_checkpoint_of_wrong_architecture_is_refused(settings, tmp_path):
    import torch

    bad = tmp_path / "bad.pth"
    torch.save({"model": {"fc1.weight": torch.zeros(3, 3)}}, bad)
    with pytest.raises(ModelUnavailableError, match="does not match the CNN14"):
        import_weights(bad, settings)


def test_label_csv_with_wrong_row_count_is_refused(settings, tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("index,mid,display_name\n0,/m/0,Piano\n")
    with pytest.raises(ModelUnavailableError, match="527"):
        import_weights(path, settings)


def test_unknown_file_is_refused(settings, tmp_path):
    (tmp_path / "x.bin").write_bytes(b"1234")
    with pytest.raises(ModelUnavailableError, match="not a recognised weight file"):
        import_weights(tmp_path / "x.bin", settings)
