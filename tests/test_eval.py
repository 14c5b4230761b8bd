"""``audiowave eval`` on a tiny corpus in the dev-corpus schema, built from the bundled example."""

from __future__ import annotations

import json
import shutil

import pretty_midi
import pytest
from rich.console import Console

from audiowave.errors import InputError
from audiowave.evaluation import metrics
from audiowave.evaluation.runner import run_eval

from signals import EXAMPLE

BAR = 2.0  # the example: 120 BPM, 4/4, Am Dm E Am, one bar each


def tiny_corpus(root):
    (root / "clips" / "C00").mkdir(parents=True)
    shutil.copy(EXAMPLE, root / "clips" / "C00" / "mix.flac")
    chords = [("A", "A:min"), ("D", "D:min"), ("E", "E:maj"), ("A", "A:min")]
    bass = pretty_midi.PrettyMIDI()
    bass.instruments.append(pretty_midi.Instrument(38))
    for i, (root_note, _) in enumerate(chords):  # the example's bass plays the chord roots, a bar each
        pitch = pretty_midi.note_name_to_number(f"{root_note}1")
        bass.instruments[0].notes.append(pretty_midi.Note(100, pitch, i * BAR, (i + 1) * BAR))
    bass.write(str(root / "clips" / "C00" / "bass.mid"))
    clip = {
        "id": "C00",
        "path": "clips/C00/mix.flac",
        "tempo_bpm": 120.0,
        "beats_per_bar": 4,
        "tempo_evident": True,
        "beat_times_s": [i * 0.5 for i in range(16)],
        "downbeat_times_s": [i * BAR for i in range(4)],
        "key": {"tonic": "A", "tonic_pc": 9, "mode": "minor", "label": "A minor"},
        "chords": [
            {"start_s": i * BAR, "end_s": (i + 1) * BAR, "label": lab, "root": r} for i, (r, lab) in enumerate(chords)
        ],
        "duration_s": 8.5,
        "instruments": [{"gm_program": 38, "is_drum": False, "stem_group": "bass", "midi": "clips/C00/bass.mid"}],
        "multi_instrument": False,
    }
    (root / "ground_truth.json").write_text(json.dumps({"clips": [clip]}))
    return root


def test_eval_prints_table_and_writes_predictions(tmp_path):
    corpus = tiny_corpus(tmp_path / "corpus")
    console = Console(record=True, width=120)
    rows = run_eval(corpus, tmp_path / "out", console=console)
    text = console.export_text()
    for line in (
        "tempo Acc1",
        "key MIREX weighted score",
        "chord accuracy (maj/min)",
        "beat F-measure",
        "Instrument families",
        "span F1",
        "Separation",
        "synth bass (kind of bass)",  # GM 38 is a synth bass: a kind within the bass family, scored on its own
    ):
        assert line in text
    row = rows[0]
    assert "bass" in row["families_est"] and row["families_ref"] == ["bass", "synth bass"]
    tp, _, fn = row["activity"]["bass"]  # 0.5 s frames of the bass line found by the recogniser's spans
    assert tp + fn == 16 and tp >= 8
    assert sum(row["activity"]["synth bass"][::2]) == 16  # its reference frames too
    assert row["tempo_acc1"] and row["key_exact"] and row["chord_majmin"] > 0.9 and row["beat_f"] > 0.9
    assert (tmp_path / "out" / "predictions" / "C00.json").is_file()
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())[0]["id"] == "C00"


def test_eval_without_ground_truth_is_a_clean_error(tmp_path):
    with pytest.raises(InputError, match=r"ground_truth\.json"):
        run_eval(tmp_path, tmp_path / "out")


def test_metric_functions():
    assert metrics.tempo_accuracy(120, 122) == (True, True)
    assert metrics.tempo_accuracy(120, 60) == (False, True)
    assert metrics.tempo_accuracy(120, 100) == (False, False)
    assert metrics.key_scores("Db", "major", "C#", "major") == (1.0, True)
    assert metrics.key_scores("C", "major", "G", "major") == (0.5, False)  # fifth
    assert metrics.key_scores("A", "minor", "C", "major") == (0.3, False)  # relative
    ref = [(0.0, 2.0, "A:min"), (2.0, 4.0, "F:maj")]
    assert metrics.chord_scores(ref, [(0.0, 4.0, "A:min")])["majmin"] == pytest.approx(0.5)
    import numpy as np

    x = np.random.default_rng(0).standard_normal((2, 1000))
    assert metrics.si_sdr(x, 0.5 * x) > 100
    assert abs(metrics.si_sdr(x, x + np.random.default_rng(1).standard_normal((2, 1000)))) < 1.0
