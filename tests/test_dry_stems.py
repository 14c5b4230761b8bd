"""Corpus stems rendered again from their MIDI without the sound bank's reverb and chorus (the forensics eval's
material), by real FluidSynth and a real sound bank (TimGM6mb, which CI installs)."""

import json
import shutil
import subprocess

import mido
import numpy as np
import pytest
import soundfile as sf
from cli_runner import cli

from audiowave.errors import InputError
from audiowave.evaluation.dry_stems import RENDER_GAIN, SETTINGS, render_dry, soundfont_path
from audiowave.evaluation.forensics import corpus_materials
from audiowave.forensics.evalset import SR
from audiowave.forensics.space import diffuseness

BANK = "TimGM6mb.sf2"


def _write_midi(path, program: int, pan: int, notes: list[int], channel: int = 0) -> None:
    """Quarter notes at 120 bpm with the reverb and chorus sends the corpus gives a piano."""
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.Message("program_change", program=program, channel=channel))
    for control, value in ((91, 45), (93, 25), (10, pan)):
        track.append(mido.Message("control_change", control=control, value=value, channel=channel))
    for note in notes:
        track.append(mido.Message("note_on", note=note, velocity=100, channel=channel))
        track.append(mido.Message("note_off", note=note, velocity=0, channel=channel, time=480))
    track.append(mido.MetaMessage("end_of_track", time=1920))
    mid.save(path)


def _bank_render(midi, wav) -> None:
    """As the corpus generator renders: the same settings with the bank's reverb and chorus on."""
    import fluidsynth

    wet = SETTINGS | {"synth.reverb.active": 1, "synth.chorus.active": 1}
    synth = fluidsynth.Synth(gain=RENDER_GAIN, samplerate=float(SR), **wet)
    synth.sfload(str(soundfont_path(BANK)))
    synth.midi2audio(str(midi), str(wav))
    synth.delete()


@pytest.fixture
def midi_corpus(tmp_path):
    """One two-instrument clip in the dev-corpus schema: a panned piano and a drum kit, each stem rendered with the
    bank's effects and scaled by its ``mix_gain_db``."""
    clip = tmp_path / "clips" / "C00"
    (clip / "midi").mkdir(parents=True)
    parts = [("piano", 0, 20, [60, 64, 67, 72] * 4, 0, -6.0), ("drums", 0, 64, [36, 38, 42, 38] * 4, 9, -3.0)]
    instruments, length = [], None
    for name, program, pan, notes, channel, gain_db in parts:
        _write_midi(clip / "midi" / f"{name}.mid", program, pan, notes, channel)
        _bank_render(clip / "midi" / f"{name}.mid", tmp_path / "wet.wav")
        audio, _ = sf.read(tmp_path / "wet.wav", dtype="float32", always_2d=True)
        length = length or len(audio)
        sf.write(clip / f"{name}.wav", audio[:length] * 10 ** (gain_db / 20), SR, subtype="FLOAT")
        instruments.append(
            {
                "name": name,
                "label": name,
                "is_drum": name == "drums",
                "stem": f"clips/C00/{name}.wav",
                "midi": f"clips/C00/midi/{name}.mid",
                "soundfont": BANK,
                "mix_gain_db": gain_db,
            }
        )
    beats = (np.arange(16) * 0.5).tolist()
    clips = [{"id": "C00", "path": "clips/C00/piano.wav", "beat_times_s": beats, "instruments": instruments}]
    (tmp_path / "ground_truth.json").write_text(json.dumps({"clips": clips}))
    return tmp_path


def test_dry_stems_are_the_same_performance_at_the_same_level_without_the_banks_reverb(midi_corpus):
    (rendered,) = corpus_materials(midi_corpus)
    (dry,) = corpus_materials(midi_corpus, dry=True)
    assert rendered.stems.keys() == dry.stems.keys() and rendered.drums == dry.drums == {"01_drums"}
    piano_wet, piano_dry = rendered.stems["00_piano"], dry.stems["00_piano"]
    assert piano_dry.shape == piano_wet.shape
    # the reverb's decorrelated tail is gone: a panned dry piano is one source in both channels
    assert diffuseness(piano_wet, SR) > 0.2 and diffuseness(piano_dry, SR) < 0.01
    for name in dry.stems:  # the stem's gain in the mix is applied: the dry level is the rendered one's
        wet_db, dry_db = (20 * np.log10(np.sqrt(np.mean(m.stems[name] ** 2))) for m in (rendered, dry))
        assert abs(wet_db - dry_db) < 1.5, (name, wet_db, dry_db)
    # the same notes at the same times: the dry stem is most of the rendered one
    residual = np.sum((piano_wet - piano_dry) ** 2) / np.sum(piano_wet**2)
    assert residual < 0.2


def test_a_missing_bank_or_midi_file_is_a_clear_error(midi_corpus):
    truth = json.loads((midi_corpus / "ground_truth.json").read_text())
    instruments = truth["clips"][0]["instruments"]
    instruments[0]["soundfont"] = "NoSuchBank.sf2"
    (midi_corpus / "ground_truth.json").write_text(json.dumps(truth))
    with pytest.raises(InputError, match=r"sound bank NoSuchBank\.sf2 is not installed"):
        corpus_materials(midi_corpus, dry=True)
    del instruments[0]["soundfont"]
    (midi_corpus / "ground_truth.json").write_text(json.dumps(truth))
    with pytest.raises(InputError, match="piano: no soundfont in the ground truth"):
        corpus_materials(midi_corpus, dry=True)
    instruments[0]["soundfont"] = BANK
    (midi_corpus / "ground_truth.json").write_text(json.dumps(truth))
    (midi_corpus / instruments[1]["midi"]).unlink()
    with pytest.raises(InputError, match=r"drums\.mid: no such MIDI file"):
        corpus_materials(midi_corpus, dry=True)


@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="the fluidsynth command is not installed")
def test_the_dry_rendering_is_the_corpus_generators_command_with_reverb_and_chorus_off(midi_corpus, tmp_path):
    """Sample for sample what ``fluidsynth -R 0 -C 0`` gives with the generator's other options, on every run."""
    midi, bank = midi_corpus / "clips/C00/midi/drums.mid", soundfont_path(BANK)
    cmd = ["fluidsynth", "-ni", "-q", "-F", str(tmp_path / "cli.wav"), "-r", str(SR), "-O", "float", "-T", "wav"]
    cmd += ["-g", "0.5", "-o", "synth.cpu-cores=1", "-R", "0", "-C", "0", str(bank), str(midi)]
    subprocess.run(cmd, check=True, capture_output=True)
    command, _ = sf.read(tmp_path / "cli.wav", dtype="float32", always_2d=True)
    for _ in range(2):  # a fresh synth each time: a second file through the same synth sounds slightly different
        ours = render_dry(midi, bank, SR, len(command))
        np.testing.assert_array_equal(ours, command.T)


def test_the_eval_cli_plays_stems_dry_by_default_and_says_what_to_do_without_midi(midi_corpus, tmp_path):
    truth = json.loads((midi_corpus / "ground_truth.json").read_text())
    del truth["clips"][0]["instruments"][0]["midi"]
    (midi_corpus / "ground_truth.json").write_text(json.dumps(truth))
    proc = cli("eval", str(midi_corpus), "--forensics", "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    message = "piano: no midi in the ground truth to render it dry (or use --rendered-stems)"
    assert message in " ".join(proc.stderr.split())  # only the dry path asks for MIDI: dry is the default
