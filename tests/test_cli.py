"""The command line as a user runs it: real processes, exit codes, files written."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest
from cli_runner import cli

from signals import EXAMPLE, tone


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.wav", b"", "empty"),
        ("noise.wav", bytes(range(256)) * 40, "could not decode"),
        ("readme.txt", b"hello", "unsupported file type"),
    ],
)
def test_bad_files_give_clean_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    proc = cli("analyze", str(path), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_unknown_stage_is_a_clean_error(tmp_path):
    proc = cli("analyze", str(EXAMPLE), "--stages", "rhythm,teleport")
    assert proc.returncode == 2 and "unknown stage(s): teleport" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_one_bad_file_among_good_ones_exits_1_and_keeps_the_good_result(tmp_path, write_wav):
    good = write_wav("good.wav", tone(440, 2.0))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"")
    proc = cli("analyze", str(good), str(bad), "--stages", "loudness,spectral", "--out", str(tmp_path / "o"))
    assert proc.returncode == 1
    assert (tmp_path / "o" / "good" / "result.json").is_file()
    assert "empty" in proc.stderr


def test_models_lists_every_model_with_status(tmp_path):
    proc = cli("models")
    assert proc.returncode == 0
    for name in ("htdemucs", "panns_cnn14", "madmom_rhythm", "basic_pitch", "crepe_tiny"):
        assert name in proc.stdout
    assert "weights missing" in proc.stdout and "fallback in use" in proc.stdout


def test_models_import_rejects_bad_weights(tmp_path):
    bad = tmp_path / "955717e8-12345678.th"
    bad.write_bytes(b"not a model")
    proc = cli("models", "import", str(bad))
    assert proc.returncode == 3 and "checksum" in proc.stderr and "Traceback" not in proc.stderr


def test_schema_command_matches_committed_schema():
    from pathlib import Path

    proc = cli("schema")
    committed = Path(__file__).resolve().parents[1] / "docs" / "result.schema.json"
    assert json.loads(proc.stdout) == json.loads(committed.read_text()), "regenerate docs/result.schema.json"


def test_analyze_json_output_is_a_valid_result(tmp_path, write_wav):
    path = write_wav("tone.flac", np.stack([tone(220, 3.0), tone(330, 3.0)], axis=1))
    proc = cli("analyze", str(path), "--json", "--stages", "loudness,spectral,structure", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    schema = json.loads(cli("schema").stdout)
    jsonschema.validate(doc, schema)
    assert doc["loudness"]["backend"]["name"] == "pyloudnorm"
    assert doc["pictures"]["spectrogram"].endswith("spectrogram.png")
    report = (tmp_path / "tone" / "report.md").read_text()
    assert "## Rhythm and harmony" in report and "LUFS" in report and "](spectrogram.png)" in report
    assert "data:image/png;base64," in (tmp_path / "tone" / "report.html").read_text()


def test_ui_refuses_to_start_without_a_service():
    from servers import free_port

    run = cli("ui", "--url", f"http://127.0.0.1:{free_port()}")
    assert run.returncode == 2 and "no Audiowave service at" in " ".join(run.stderr.split())
