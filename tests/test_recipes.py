"""Recipes: the synth engine, measurements, the search, the Vital export, the CLI and the HTTP API."""

from __future__ import annotations

import base64
import io
import json
from dataclasses import replace

import librosa
import numpy as np
import pytest
import soundfile as sf
from cli_runner import cli
from scipy.signal import welch

from audiowave.evaluation.recipes import truth_similarity
from audiowave.recipes.body_glide import body_glide, zero_crossings
from audiowave.recipes.describe import steps
from audiowave.recipes.distance import Target
from audiowave.recipes.estimate import DRUM_NOISE, candidates, starts_from_measured_glide
from audiowave.recipes.evalset import OneShot
from audiowave.recipes.measure import measure
from audiowave.recipes.patch import Effect, Envelope, Filter, NoiseLayer, Oscillator, Patch, PitchEnvelope
from audiowave.recipes.pitch_track import f0_track
from audiowave.recipes.suggest import DRUM_FALL_ST, at_rate, faithful_hz, finalist_indices, noise_as_layer, suggest
from audiowave.recipes.synth import envelope_curve, render, shape_harmonics, wavetable
from audiowave.recipes.vital import to_vital

from service_fixtures import new_user, worker_for

SR = 22050


def bass_patch(**changes) -> Patch:
    patch = Patch(
        source="subtractive",
        note_midi=45,
        duration_s=0.5,
        oscillators=[Oscillator(waveform="saw")],
        amp=Envelope(attack_s=0.005, decay_s=0.3, sustain=0.5, release_s=0.15),
        filter=Filter(type="lowpass", cutoff_hz=800, resonance=0.3, env_octaves=2.0),
    )
    return patch.model_copy(update=changes)


def harmonic_db(x: np.ndarray, f0: float, k: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    return float(20 * np.log10(spec[np.abs(freqs - k * f0) < f0 * 0.2].max() + 1e-12))


def test_shapes_have_their_harmonics_and_the_filter_and_envelope_act():
    steady = dict(duration_s=1.0, amp=Envelope(attack_s=0.001, decay_s=0.1, sustain=1.0), filter=Filter())
    saw = render(bass_patch(**steady), SR)[2000:18000]
    square = render(bass_patch(**steady, oscillators=[Oscillator(waveform="square")]), SR)[2000:18000]
    assert harmonic_db(saw, 110, 2) - harmonic_db(saw, 110, 1) == pytest.approx(-6.0, abs=1.0)  # saw: 1/k
    assert harmonic_db(square, 110, 2) - harmonic_db(square, 110, 1) < -40  # square: odd harmonics only
    dark = render(bass_patch(**{**steady, "filter": Filter(type="lowpass", cutoff_hz=150)}), SR)[2000:18000]
    assert (
        harmonic_db(dark, 110, 8) - harmonic_db(dark, 110, 1) < harmonic_db(saw, 110, 8) - harmonic_db(saw, 110, 1) - 20
    )
    env = envelope_curve(Envelope(attack_s=0.01, decay_s=0.1, sustain=0.5, release_s=0.2), 0.5, SR, SR)
    assert env[int(0.01 * SR)] == pytest.approx(1.0, abs=0.01) and env[int(0.45 * SR)] == pytest.approx(0.5, abs=0.01)
    assert env[int(0.7 * SR)] == pytest.approx(0.005, abs=0.002)  # -40 dB of the way after the release time
    assert np.array_equal(render(bass_patch(), SR), render(bass_patch(), SR))  # deterministic
    assert np.allclose(wavetable(shape_harmonics("sine", 4), 64), np.sin(2 * np.pi * np.arange(64) / 64), atol=1e-9)


def test_distance_is_zero_for_the_same_sound_and_grows_with_the_difference():
    target = Target(render(bass_patch(), SR), SR)
    assert target.spectral(render(bass_patch(), SR)) == pytest.approx(0.0, abs=1e-9)
    near = target.spectral(render(bass_patch(filter=Filter(type="lowpass", cutoff_hz=1000, env_octaves=2.0)), SR))
    far = target.spectral(render(bass_patch(filter=Filter(type="lowpass", cutoff_hz=4000, env_octaves=2.0)), SR))
    other = target.spectral(render(bass_patch(oscillators=[Oscillator(waveform="sine")]), SR))
    assert 0 < near < far and near < other
    # level does not count: the same sound 12 dB quieter is the same sound
    assert target.spectral(0.25 * render(bass_patch(), SR)) == pytest.approx(0.0, abs=1e-6)


def test_an_original_below_the_search_rate_is_compared_only_where_it_holds_content():
    """A snare recorded at 16 kHz has nothing above 7.6 kHz once at the search rate; renderings there do. Compared
    over the whole band its own patch lost to the same patch low-passed at 6 kHz (0.55 against 0.71)."""
    snare = Patch(
        source="drum",
        note_midi=50,
        duration_s=0.1,
        oscillators=[Oscillator(waveform="sine")],
        noise_level=0.5,
        amp=Envelope(attack_s=0.001, decay_s=0.15, sustain=0.0, release_s=0.1),
        pitch=PitchEnvelope(semitones=7, time_s=0.03),
    )
    x = at_rate(render(snare, 16000), 16000, SR)
    target = Target(x, SR, top_hz=faithful_hz(16000))
    assert faithful_hz(16000) == pytest.approx(7520) and faithful_hz(SR) == SR / 2 == target.sr / 2
    own = target.scores(render(snare, SR, len(x) / SR)).similarity
    darker = target.scores(render(snare.model_copy(update={"filter": Filter(type="lowpass", cutoff_hz=6000)}), SR))
    assert own > darker.similarity + 0.02 and own > 0.65


def pitch_test_signals() -> dict[str, np.ndarray]:
    t = np.arange(int(1.2 * SR)) / SR
    rng = np.random.default_rng(3)
    vibrato = np.sin(2 * np.pi * 220 * t + 3 * np.sin(2 * np.pi * 5.5 * t)) + 0.05 * rng.standard_normal(len(t))
    sweep = np.sin(2 * np.pi * np.cumsum(60 * 2 ** (4 * t)) / SR) * np.exp(-t)  # 60 Hz up four octaves
    gaps = np.where((t % 0.4) < 0.25, np.sin(2 * np.pi * 98 * t), 0.0) + 0.3 * np.sin(2 * np.pi * 1470 * t) * (t > 0.8)
    fall = np.sin(2 * np.pi * np.cumsum(55 * 2 ** (3 * np.exp(-t / 0.03))) / SR) * np.exp(-t / 0.8)  # 3 octaves
    return {"vibrato": vibrato, "sweep": sweep, "gaps": gaps, "fall": fall}


@pytest.mark.parametrize("name", ["vibrato", "sweep", "gaps", "fall"])
def test_the_banded_pitch_tracker_follows_librosas_pyin_frame_for_frame(name):
    """A fall of three octaves in 30 ms outruns the model (2 st per frame): its path runs along the band's edge."""
    x = pitch_test_signals()[name].astype(np.float64)
    f0, voiced, _ = librosa.pyin(x, fmin=30.0, fmax=2000.0, sr=SR, frame_length=2048, hop_length=220)
    mine, mine_voiced = f0_track(x, SR)
    assert voiced.sum() > 10 and np.array_equal(mine_voiced, voiced)
    assert np.array_equal(mine[voiced], f0[voiced]) and np.isnan(mine[~voiced]).all()


def test_measurements_recover_note_envelope_and_shape():
    m = measure(render(bass_patch(), SR).astype(np.float64), SR)
    assert m.pitched and 12 * np.log2(m.f0_hz / 110.0) == pytest.approx(0.0, abs=0.1)
    assert m.amp.sustain == pytest.approx(0.5, abs=0.15) and m.hold_s == pytest.approx(0.5, abs=0.1)
    assert m.amp.release_s == pytest.approx(0.15, rel=0.5)
    assert m.brightness_drop_octaves > 0.5  # the filter envelope closes


def kick_patch(**changes) -> Patch:
    """A sine body falling 12 semitones onto MIDI 34 (a kick), no noise under it."""
    patch = Patch(
        source="drum",
        note_midi=34,
        duration_s=0.05,
        oscillators=[Oscillator(waveform="sine")],
        amp=Envelope(attack_s=0.001, decay_s=0.4, sustain=0.0, release_s=0.1),
        pitch=PitchEnvelope(semitones=12.0, time_s=0.03),
    )
    return patch.model_copy(update=changes)


def test_a_falling_body_is_measured_at_the_note_it_settles_on():
    m = measure(render(kick_patch(), SR).astype(np.float64), SR)
    f0, voiced = m.f0_track
    assert m.pitched
    assert 12 * np.log2(m.f0_hz / 440.0) + 69 == pytest.approx(34, abs=1.0)  # measured 34.9
    assert 12 * np.log2(np.nanmedian(f0[voiced]) / 440.0) + 69 > 36.0  # all voiced frames: the fall pulls it up


@pytest.mark.parametrize(
    "fx",
    [
        [],
        [Effect(kind="distortion", params={"drive_db": 20.0})],
        [Effect(kind="reverb", params={"room_size": 0.4, "wet_level": 0.35, "dry_level": 0.8})],
    ],
    ids=["dry", "distortion", "reverb"],
)
def test_a_drum_bodys_pitch_drop_is_measured_from_its_zero_crossings(fx):
    truth = kick_patch(pitch=PitchEnvelope(semitones=30.0, time_s=0.02), noise_level=0.1, fx=fx)
    body = body_glide(render(truth, SR).astype(np.float64), SR)
    assert body is not None and body.periods >= 8
    assert 12 * np.log2(body.note_hz / 440.0) + 69 == pytest.approx(34, abs=0.3)
    assert body.semitones == pytest.approx(30, abs=1.0)
    assert body.time_s == pytest.approx(0.02, rel=0.15)


def test_crossings_before_the_onset_do_not_end_the_body():
    lead = 1e-3 * np.sin(2 * np.pi * 1000 * np.arange(int(0.02 * SR)) / SR)  # quiet, before the sound rises
    t = np.arange(int(0.2 * SR)) / SR
    times = zero_crossings(np.concatenate([lead, np.sin(2 * np.pi * 100 * t) * np.exp(-t / 0.1)]), SR)
    assert len(times) > 20 and times[0] >= 0.014  # (a kick with a quiet lead-in had none)


def test_noise_has_no_drum_body_to_measure_and_a_steady_bass_no_fall():
    noise = np.random.default_rng(0).uniform(-1, 1, SR // 2) * np.exp(-np.arange(SR // 2) / (0.1 * SR))
    assert body_glide(noise, SR) is None
    bass = body_glide(render(bass_patch(), SR).astype(np.float64), SR)
    assert bass is None or abs(bass.semitones) < DRUM_FALL_ST  # its refined finalists are not forced to a drum


def test_a_drums_measured_drop_is_its_first_guess_and_the_search_stays_near_it():
    truth = kick_patch(pitch=PitchEnvelope(semitones=17.4, time_s=0.013), noise_level=0.1)
    audio = render(truth, 44100)
    guesses = [p for p in candidates(measure(render(truth, SR).astype(np.float64), SR)) if p.source == "drum"]
    assert guesses and all(abs(p.pitch.semitones - 17.4) < 0.5 and abs(p.note_midi - 34) < 0.2 for p in guesses)
    r = suggest(audio, 44100, budget_s=60.0, max_evaluations=300).recipe
    assert r.patch.source == "drum" and abs(r.patch.note_midi - 34) < 0.3
    assert abs(r.patch.pitch.semitones - 17.4) <= 2.5  # a free search took it 8.5 st away
    assert r.refined.similarity >= r.initial.similarity


def test_only_drum_body_guesses_start_from_the_measured_glide():
    m = measure(render(kick_patch(), SR).astype(np.float64), SR)
    assert m.body is not None
    body_guess = next(p for p in candidates(m) if p.source == "drum")
    hat = body_guess.model_copy(update={"oscillators": []})  # the hat-like noise drum: no body, its pitch is moot
    assert starts_from_measured_glide(body_guess, m) and not starts_from_measured_glide(hat, m)
    assert not starts_from_measured_glide(body_guess, replace(m, body=None))
    assert not starts_from_measured_glide(next(p for p in candidates(m) if p.source != "drum"), m)


def test_a_measured_drum_body_keeps_a_drum_guess_among_the_refined():
    sources = ["subtractive", "fm", "wavetable", "drum", "drum"]
    assert finalist_indices(sources, drum_body=False) == [0, 1]
    assert finalist_indices(sources, drum_body=True) == [0, 3]  # the best drum guess, refined with its effects
    assert finalist_indices(["fm", "drum", "drum"], drum_body=True) == [0, 1]
    assert finalist_indices(["drum"], drum_body=True) == [0]


def test_a_pure_drum_body_is_first_guessed_without_noise():
    x = render(kick_patch(), SR).astype(np.float64)
    m, target = measure(x, SR), Target(x, SR)
    drums = [p for p in candidates(m) if p.source == "drum"]
    assert sorted(p.noise_level for p in drums) == list(DRUM_NOISE)

    best = min(drums, key=lambda p: target.loss(render(p, SR, len(x) / SR)))
    assert best.noise_level == 0.0  # the measured noisiness (the fall's smear between partials) put 0.19 there
    assert m.noisiness > 0.1


def test_suggest_refines_a_known_one_shot_and_explains_it():
    truth = bass_patch(fx=[Effect(kind="reverb", params={"room_size": 0.4, "wet_level": 0.2, "dry_level": 0.8})])
    audio = render(truth, 44100)
    stages = []
    s = suggest(np.stack([audio, audio]), 44100, budget_s=4.0, progress=lambda st, f: stages.append(st))
    r = s.recipe
    assert r.backend.name == "audiowave-recipes" and {"measure", "screen", "verify"} <= set(stages)
    assert abs(r.patch.note_midi - 45) < 0.15 and r.refined.pitch_cents < 15
    assert r.refined.similarity >= r.initial.similarity - 0.01 and r.refined.similarity > 0.8
    assert r.search.evaluations > 50 and r.search.seconds < 4.0 + 3.0
    assert {c.source for c in r.candidates} >= {"subtractive", "wavetable", "fm"}
    assert r.patch.noise is None and r.patch.noise_level == 0  # a clean note is given no noise
    assert any("Amplifier envelope" in step for step in r.steps) and any("A2" in step for step in r.steps)
    assert len(s.preview) == len(s.original) and s.sample_rate == 44100


def test_vital_export_carries_the_cycle_envelopes_and_filter():
    patch = bass_patch(fx=[Effect(kind="distortion", params={"drive_db": 12.0})])
    preset = to_vital(patch, "bass")
    settings = preset["settings"]
    assert preset["preset_name"] == "bass" and settings["osc_1_on"] == 1.0
    cycle = np.frombuffer(
        base64.b64decode(settings["wavetables"][0]["groups"][0]["components"][0]["keyframes"][0]["wave_data"]), "<f4"
    )
    assert len(cycle) == 2048 and np.argmax(np.abs(np.fft.rfft(cycle))) == 1  # a saw's fundamental leads
    assert settings["env_1_attack"] ** 4 == pytest.approx(0.005, rel=1e-3)  # Vital stores the 4th root of seconds
    assert settings["filter_1_cutoff"] == pytest.approx(69 + 12 * np.log2(800 / 440), abs=1e-6)
    assert settings["modulations"][0] == {"source": "env_2", "destination": "filter_1_cutoff"}
    assert settings["modulation_1_amount"] == pytest.approx(24 / 128) and settings["distortion_on"] == 1.0
    json.dumps(preset)


def test_vital_export_keeps_effect_rates_within_vitals_ranges_and_carries_a_flangers_short_delay():
    fast = [
        Effect(kind="chorus", params={"rate_hz": 9.5, "depth": 0.2, "centre_delay_ms": 3.5, "mix": 0.5}),
        Effect(kind="phaser", params={"rate_hz": 6.0, "depth": 0.5}),
        Effect(kind="delay", params={"delay_seconds": 0.25, "feedback": 0.3, "mix": 0.4}),
    ]
    settings = to_vital(bass_patch(fx=fast), "fast")["settings"]
    assert settings["chorus_frequency"] == 3.0 and settings["phaser_frequency"] == 2.0  # 8 and 4 Hz, Vital's tops
    assert 2 ** settings["chorus_delay_1"] * 1000 == pytest.approx(3.5) == 2 ** settings["chorus_delay_2"] * 1000
    assert 2 ** -settings["delay_frequency"] == pytest.approx(0.25)
    slow = [Effect(kind="chorus", params={"rate_hz": 0.5})]  # pedalboard's default delay line: 7 ms
    assert 2 ** to_vital(bass_patch(fx=slow), "slow")["settings"]["chorus_delay_1"] * 1000 == pytest.approx(7.0)


def test_cli_suggest_writes_the_recipe_files_and_refuses_a_bad_span(tmp_path):
    wav = tmp_path / "pluck.wav"
    sf.write(wav, render(bass_patch(), 44100), 44100)
    run = cli("suggest", str(wav), "--budget", "2", "--out", str(tmp_path / "r"))
    assert run.returncode == 0, run.stderr
    assert "similarity" in run.stdout and "Amplifier envelope" in run.stdout
    assert {p.name for p in (tmp_path / "r").iterdir()} == {
        "recipe.json",
        "original.flac",
        "preview.flac",
        "comparison.png",
        "recipe.vital",
    }
    recipe = json.loads((tmp_path / "r" / "recipe.json").read_text())
    assert recipe["files"]["vital"] == "recipe.vital" and recipe["refined"]["similarity"] > 0.7
    bad = cli("suggest", str(wav), "--start", "5")
    assert bad.returncode == 2 and "must start between 0 and" in bad.stderr and "Traceback" not in bad.stderr


def test_api_suggest_runs_as_a_job_and_serves_the_preview(api):
    services, client = api
    _, key = new_user(services, "ada")
    h = {"X-API-Key": key}
    buf = io.BytesIO()
    sf.write(buf, render(bass_patch(), 44100), 44100, format="WAV")
    r = client.post(
        "/v1/suggest", headers=h, files={"file": ("pluck.wav", buf.getvalue(), "audio/wav")}, data={"budget_s": "2"}
    )
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    assert worker_for(services).run_once(block_ms=0) == job_id
    done = client.get(f"/v1/suggest/{job_id}", headers=h).json()
    assert done["status"] == "done" and done["result"]["patch"]["source"] in {"subtractive", "wavetable"}
    preview = client.get(done["links"]["preview.flac"], headers=h)
    assert preview.status_code == 200 and preview.content[:4] == b"fLaC"
    vital = client.get(done["links"]["recipe.vital"], headers=h).json()
    assert vital["settings"]["osc_1_on"] == 1.0
    # a span of an analysis without separated stems is refused with the reason; so is a request with nothing
    no_stem = client.post("/v1/suggest", headers=h, data={"job_id": job_id, "stem": "bass"})
    assert no_stem.status_code == 409 and "not a finished analysis" in no_stem.json()["reason"]
    assert client.post("/v1/suggest", headers=h, data={}).json()["error"] == "no_input"
    bad = client.post("/v1/suggest", headers=h, data={"job_id": job_id, "start_s": "2", "end_s": "1"})
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_span"


def test_api_report_composes_the_analysis_and_the_recipes_made_from_it(api):
    from signals import EXAMPLE

    services, client = api
    _, key = new_user(services, "ada")
    h = {"X-API-Key": key}
    files = {"file": ("example.flac", EXAMPLE.read_bytes(), "audio/flac")}
    job_id = client.post("/v1/analyze", headers=h, files=files, data={"stages": "loudness,forensics"}).json()["job_id"]
    pending = client.get(f"/v1/analyze/{job_id}/report", headers=h)
    assert pending.status_code == 409 and "not a finished analysis" in pending.json()["reason"]
    worker = worker_for(services)
    worker.run_once(block_ms=0)
    r = client.post("/v1/suggest", headers=h, data={"job_id": job_id, "start_s": "0", "end_s": "1", "budget_s": "2"})
    assert r.status_code == 202, r.text
    worker.run_once(block_ms=0)
    assert client.get(f"/v1/suggest/{r.json()['job_id']}", headers=h).json()["status"] == "done"
    md = client.get(f"/v1/analyze/{job_id}/report", headers=h, params={"format": "md"})
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    text = md.text
    assert "band_limit" in text and "LUFS" in text and "recipe" in text and "Amplifier envelope" in text
    assert f"](/v1/files/{job_id}/out/forensics/band_limit-mix.png)" in text
    page = client.get(f"/v1/analyze/{job_id}/report", headers=h)
    assert page.headers["content-type"].startswith("text/html") and "data:image/png;base64," in page.text
    # a recipe queued on an analysis that is deleted before it runs fails at once, with the reason
    late = client.post("/v1/suggest", headers=h, data={"job_id": job_id, "budget_s": "2"}).json()["job_id"]
    assert client.delete(f"/v1/analyze/{job_id}", headers=h).status_code == 200
    worker.run_once(block_ms=0)
    gone = client.get(f"/v1/suggest/{late}", headers=h).json()
    assert gone["status"] == "failed" and "was deleted" in gone["error"] and gone["attempts"] == 1


def test_a_sampled_sound_gets_the_closest_library_sample_as_its_recipe(tmp_path):
    import soxr
    from sample_library import SR, one_shot, write_library

    env = {"AUDIOWAVE_HOME": str(tmp_path / "home")}
    write_library(tmp_path / "lib")
    assert cli("index", str(tmp_path / "lib"), "--no-db", "--workers", "2", env=env).returncode == 0
    # an uploaded one-shot: library hit1 pitched down a semitone, with a little noise
    hit = soxr.resample(one_shot(1), SR, SR / 2 ** (-1 / 12))
    shot = np.zeros(SR) + 0.001 * np.random.default_rng(0).standard_normal(SR)
    shot[4410 : 4410 + hit.size] += hit
    sf.write(tmp_path / "shot.wav", shot.astype(np.float32), SR)
    run = cli("suggest", str(tmp_path / "shot.wav"), "--budget", "2", "--out", str(tmp_path / "r"), "--json", env=env)
    assert run.returncode == 0, run.stderr
    recipe = json.loads(run.stdout)
    assert recipe["patch"]["source"] == "sample" and recipe["patch"]["sample"]["name"] == "hit1.wav"
    assert recipe["patch"]["sample"]["pitch_semitones"] == -1
    assert "sample" in {c["source"] for c in recipe["candidates"]} and "hit1.wav" in recipe["steps"][0]
    assert recipe["refined"]["similarity"] > recipe["initial"]["similarity"]  # beats every synth guess
    assert "vital" not in recipe["files"] and (tmp_path / "r" / "preview.flac").exists()
    # a burst like the library's hits but none of them (another waveform): the nearest by timbre is its recipe
    sf.write(tmp_path / "burst.wav", one_shot(7), SR)
    run = cli("suggest", str(tmp_path / "burst.wav"), "--budget", "2", "--out", str(tmp_path / "b"), env=env)
    assert run.returncode == 0, run.stderr
    recipe = json.loads((tmp_path / "b" / "recipe.json").read_text())
    assert recipe["patch"]["source"] == "sample" and recipe["patch"]["sample"]["relation"] == "similar"
    assert "nearest by timbre" in recipe["steps"][0]  # (loss 0.35 against the refined synths' 0.53)
    # a tone: a synth recipe wins, and the CLI still names the closest library sample
    t = np.arange(SR // 2) / SR
    tone = sum(np.sin(2 * np.pi * 220 * k * t) / k for k in range(1, 8)) * np.exp(-5 * t)
    sf.write(tmp_path / "tone.wav", (0.3 * tone).astype(np.float32), SR)
    run = cli("suggest", str(tmp_path / "tone.wav"), "--budget", "2", "--out", str(tmp_path / "t"), env=env)
    assert run.returncode == 0, run.stderr
    recipe = json.loads((tmp_path / "t" / "recipe.json").read_text())
    sampled = next(c["sample"] for c in recipe["candidates"] if c["source"] == "sample")
    assert recipe["patch"]["source"] != "sample" and sampled["relation"] == "similar"
    assert f"closest library sample: {sampled['path']} (similar" in run.stdout


def test_eval_recipes_scores_generated_one_shots_from_the_cli(tmp_path):
    run = cli(
        "eval",
        str(tmp_path),
        "--recipes",
        "--cases",
        "2",
        "--evaluations",
        "30",
        "--out",
        str(tmp_path / "ev"),
        env={"COLUMNS": "160"},
    )
    assert run.returncode == 0, run.stderr
    assert "similarity refined" in run.stdout and "renderings)" in run.stdout
    doc = json.loads((tmp_path / "ev" / "recipes.json").read_text())
    assert len(doc["cases"]) == 2 and doc["corpus_notes"] == []
    assert "similarity of the true patch" in run.stdout
    assert all(c["similarity_truth"] > 0.95 for c in doc["cases"])  # two noise-free subtractive one-shots
    from audiowave.recipes.evalset import one_shots

    for row, case in zip(doc["cases"], one_shots(2), strict=True):  # each row keeps its recipe, which scores again
        found = OneShot(case.id, Patch.model_validate(row["patch"]))
        assert truth_similarity(found, render(case.patch, 44100)) == pytest.approx(row["similarity_after"], abs=1e-6)
    assert doc["evaluations"] == 30 and doc["budget_s"] is None
    assert all(30 <= c["evaluations"] < 60 for c in doc["cases"])  # two searches, each stops after a generation
    assert all(c["similarity_after"] >= c["similarity_before"] - 0.01 for c in doc["cases"])


def test_white_noise_has_the_same_level_per_hertz_at_the_search_rate_as_at_the_preview_rate():
    """The search renders at 22.05 kHz and compares with the original brought to that rate: a noise whose level
    depended on the rate was 3 dB louder under the note in the search than in the original (and the preview)."""
    steady = dict(duration_s=0.5, amp=Envelope(sustain=1.0, release_s=0.05), filter=Filter(), noise_level=0.3)
    breathy = bass_patch(oscillators=[Oscillator(waveform="sine")], **steady)
    ratios = []
    for x in (render(breathy, SR), at_rate(render(breathy, 44100), 44100, SR)):
        freqs, psd = welch(x, SR, nperseg=2048)
        ratios.append(psd[(freqs > 2000) & (freqs < 9000)].mean() / psd[np.abs(freqs - 110) < 20].sum())
    assert 10 * np.log10(ratios[0] / ratios[1]) == pytest.approx(0.0, abs=0.5)


def test_the_true_patch_scores_1_unless_its_noise_is_another_realisation():
    clean, noisy = OneShot("clean", kick_patch()), OneShot("noisy", kick_patch(noise_level=0.1))
    assert truth_similarity(clean, render(clean.patch, 44100)) > 0.99
    # same recipe, same sound: the noise differs; bin by bin, the long-term spectrum scored it 0.76
    assert 0.82 < truth_similarity(noisy, render(noisy.patch, 44100)) < 0.95


def test_two_noises_compare_by_their_level_and_still_tell_their_bands_apart():
    hat = Patch(
        source="drum",
        note_midi=80,
        duration_s=0.05,
        noise_level=0.8,
        amp=Envelope(attack_s=0.001, decay_s=0.08, sustain=0.0, release_s=0.05),
        filter=Filter(type="highpass", cutoff_hz=4000),
    )
    x = at_rate(render(hat, 44100), 44100, SR)  # another realisation of the noise than a render at SR
    target = Target(x, SR, top_hz=faithful_hz(44100))
    own = target.scores(render(hat, SR, len(x) / SR)).similarity
    brighter = target.scores(render(hat.model_copy(update={"filter": Filter(type="highpass", cutoff_hz=4757)}), SR))
    assert own > 0.75  # 0.69 bin by bin
    assert own > brighter.similarity + 0.04  # a quarter octave off


def test_a_search_bounded_by_renderings_gives_the_same_recipe_every_time():
    audio = render(bass_patch(), 44100)
    first, again = (suggest(audio, 44100, budget_s=60.0, max_evaluations=40).recipe for _ in range(2))
    assert first.patch == again.patch and first.refined == again.refined
    assert 40 <= first.search.evaluations < 80


def test_each_knobs_first_step_is_scaled_to_how_much_it_moves_the_loss():
    from audiowave.recipes.refine import MAX_STEP, PROBE, SIGMA0, STEP_LOSS, _steps

    def loss(x):
        return 100 * (x[0] - 0.5) ** 2 + 0.01 * (x[1] - 0.5) ** 2

    steps = _steps(np.array([0.5, 0.5]), loss(np.array([0.5, 0.5])), loss, lambda: False)
    assert steps[0] == pytest.approx(PROBE * np.sqrt(STEP_LOSS / (100 * PROBE**2)))  # the parabola's step: 0.014
    assert steps[1] == MAX_STEP  # a knob that barely moves the loss starts with the widest step
    probes = []
    steps = _steps(np.array([0.5, 0.5]), 0.0, lambda x: probes.append(x) or loss(x), lambda: len(probes) >= 2)
    assert len(probes) == 2 and steps[1] == SIGMA0  # the budget spent: no more probes, the common step


def test_the_search_improves_a_first_guess_that_one_step_for_every_knob_left_unimproved():
    from audiowave.recipes.evalset import one_shots
    from audiowave.recipes.refine import refine

    case = one_shots(30)[7]  # an FM one-shot whose subtractive first guess held out 500 renderings of equal steps
    x = render(case.patch, 22050)
    target = Target(x, 22050)
    start = candidates(measure(x, 22050))[0]
    result = refine(
        start, lambda p: target.loss(render(p, 22050, len(x) / 22050)), len(x) / 22050, 60.0, max_evaluations=250
    )
    assert result.loss < 0.9 * result.start_loss  # 0.84 here; equal steps of 0.1: 0.98


def test_the_step_probes_stay_within_the_search_budget():
    from audiowave.recipes.refine import knobs_for, refine

    patch = bass_patch()
    assert len(knobs_for(patch, 1.0)) > 5  # more knobs than the budget can probe
    result = refine(patch, lambda p: abs(p.amp.decay_s - 1.0), 1.0, budget_s=60.0, max_evaluations=5)
    assert result.evaluations <= 6  # the start, then probes until the fifth rendering; no generation after


def test_a_measured_glide_at_the_patchs_limits_is_searched_within_them():
    """A body measured falling 47.5 st in 1 ms: the search near it once tried 0.7 ms, which no patch may hold,
    and the whole recipe failed."""
    from audiowave.recipes.refine import knobs_for, refine

    patch = kick_patch(pitch=PitchEnvelope(semitones=47.5, time_s=0.001))
    glide = {k.path: (k.low, k.high) for k in knobs_for(patch, 0.3, glide_measured=True) if k.path.startswith("pitch")}
    assert glide == {"pitch.semitones": (45.5, 48.0), "pitch.time_s": (0.001, pytest.approx(0.0015))}

    def past_the_limits(p: Patch) -> float:
        return p.pitch.time_s + abs(p.pitch.semitones - 60)

    result = refine(patch, past_the_limits, 0.3, budget_s=60.0, max_evaluations=40, glide_measured=True)
    assert result.patch.pitch.time_s >= 0.001 and result.patch.pitch.semitones <= 48.0


def test_the_eval_scores_the_cutoff_as_it_moves_where_base_and_envelope_trade_off():
    from audiowave.evaluation.recipes import parameter_errors

    sweep = Envelope(attack_s=0.001, decay_s=0.2, sustain=0.0)
    truth = bass_patch(filter=Filter(type="lowpass", cutoff_hz=500.0, env_octaves=2.0, envelope=sweep))
    same_sound = bass_patch(filter=Filter(type="lowpass", cutoff_hz=500.0, env_octaves=2.0, envelope=sweep))
    traded = bass_patch(filter=Filter(type="lowpass", cutoff_hz=1000.0, env_octaves=1.0, envelope=sweep))
    static = bass_patch(filter=Filter(type="lowpass", cutoff_hz=1000.0, env_octaves=2.0, envelope=sweep))
    assert parameter_errors(truth, same_sound)["cutoff path (oct)"] == 0.0
    assert parameter_errors(truth, static)["cutoff path (oct)"] == pytest.approx(1.0)  # an octave all along
    traded_errors = parameter_errors(truth, traded)  # the same 2 kHz at the attack, an octave apart once closed
    assert traded_errors["cutoff (oct)"] == 1.0 and 0.3 < traded_errors["cutoff path (oct)"] < 1.0


def snare_patch(**changes) -> Patch:
    """A 190 Hz body ringing 0.4 s, and a noise layer around 4 kHz that dies within 100 ms."""
    patch = kick_patch(
        note_midi=54.6,
        duration_s=0.3,
        pitch=PitchEnvelope(semitones=5.0, time_s=0.01),
        noise=NoiseLayer(
            level=0.6,
            filter=Filter(type="bandpass", cutoff_hz=4000.0, resonance=0.2),
            envelope=Envelope(attack_s=0.001, decay_s=0.1, sustain=0.0, release_s=0.05),
        ),
    )
    return patch.model_copy(update=changes)


def band_rms(x: np.ndarray, low: float, high: float, start_s: float, end_s: float) -> float:
    part = x[int(start_s * SR) : int(end_s * SR)]
    spec = np.abs(np.fft.rfft(part * np.hanning(len(part)))) ** 2
    freqs = np.fft.rfftfreq(int(end_s * SR) - int(start_s * SR), 1 / SR)
    return float(np.sqrt(spec[(freqs >= low) & (freqs < high)].sum()))


def test_a_noise_layer_has_its_own_band_and_dies_at_its_own_rate():
    x = render(snare_patch(), SR, length_s=0.5)
    early, late = (band_rms(x, 3000, 6000, t, t + 0.04) for t in (0.0, 0.2))
    assert 20 * np.log10(early / late) > 40  # -40 dB within its 100 ms decay; the body's lasts 0.4 s
    body_early, body_late = (band_rms(x, 150, 250, t, t + 0.04) for t in (0.02, 0.2))
    assert 20 * np.log10(body_early / body_late) < 20
    low, mid, high = (band_rms(x, c / 2 ** (1 / 6), c * 2 ** (1 / 6), 0, 0.08) / np.sqrt(c) for c in (1e3, 4e3, 1e4))
    assert mid > 2 * low and mid > 2 * high  # band-passed around 4 kHz: 6 dB down 2 octaves either way
    with pytest.raises(ValueError, match="either under its body"):
        Patch.model_validate({**snare_patch().model_dump(), "noise_level": 0.1})
    noisy = bass_patch(noise_level=0.3)  # noise under a filter with an envelope, and the amplifier's envelope
    layered = noise_as_layer(noisy)
    assert layered.noise is not None and layered.noise_level == 0
    assert np.allclose(render(layered, SR), render(noisy, SR), atol=1e-6)  # the same sound, to search apart
    # the layer keeps the body filter's envelope, which the steps and the Vital preset carry too
    noise_step = next(step for step in steps(layered) if step.startswith("Noise layer"))
    assert "filter envelope +2.0 octaves" in noise_step
    settings = to_vital(layered, "breathy bass")["settings"]
    assert {"source": "env_6", "destination": "filter_2_cutoff"} in settings["modulations"]
    assert settings["env_6_decay"] == settings["env_2_decay"]


def vital_envelope(settings: dict, index: int, hold_s: float, t: np.ndarray) -> np.ndarray:
    """Envelope ``index``'s value at times ``t`` for a key held ``hold_s`` seconds, by Vital's envelope.cpp: each
    segment a power curve of its position x, (exp(p x) - 1) / (exp(p) - 1) (linear for |p| < 0.01); the attack rises
    to 1 (p = -attack power), the decay falls to the sustain, the release from the value at key-off to 0."""

    def curve(x: np.ndarray, p: float) -> np.ndarray:
        return x if abs(p) < 0.01 else np.expm1(p * x) / np.expm1(p)

    env = {k: settings[f"env_{index}_{k}"] for k in ("attack", "decay", "release", "sustain")}
    power = {k: settings[f"env_{index}_{k}_power"] for k in ("attack", "decay", "release")}
    attack_s, decay_s, release_s = (env[k] ** 4 for k in ("attack", "decay", "release"))

    def held(t: np.ndarray) -> np.ndarray:
        attack = curve(np.clip(t / attack_s, 0, 1), -power["attack"])
        decay = 1 - (1 - env["sustain"]) * curve(np.clip((t - attack_s) / decay_s, 0, 1), power["decay"])
        return np.where(t < attack_s, attack, decay)

    release = held(np.array(hold_s)) * (1 - curve(np.clip((t - hold_s) / release_s, 0, 1), power["release"]))
    return np.where(t < hold_s, held(t), release)


@pytest.mark.parametrize(
    "env, hold_s",
    [
        (Envelope(attack_s=0.001, decay_s=0.4, sustain=0.0, release_s=0.1), 0.3),  # a drum body
        (Envelope(attack_s=0.05, decay_s=1.0, sustain=0.5, release_s=0.8), 1.5),  # a pad, released on its sustain
        (Envelope(attack_s=0.005, decay_s=15.0, sustain=0.0, release_s=2.0), 3.0),  # a long ring, released early
    ],
)
def test_vitals_envelopes_follow_the_recipes_on_vitals_own_formulas(env, hold_s):
    """Vital squares its amplitude envelope (synth_voice_handler.cpp), and its segments are power curves: the
    exported amplitude envelope, squared, and a filter envelope as it is, follow the synth's within 1.5 dB down to
    -40 dB (after the attack). The old export (times as they are, Vital's default curves, the sustain unsquared)
    read a 50 % sustain 6 dB low."""
    patch = bass_patch(amp=env, filter=Filter(type="lowpass", cutoff_hz=800.0, env_octaves=3.0, envelope=env))
    settings = to_vital(patch, "envelopes")["settings"]
    t = np.arange(int((hold_s + 3 * env.release_s) * 1000)) / 1000
    ours = envelope_curve(env, hold_s, t.size, 1000)
    heard = (ours > 0.01) & (t > env.attack_s + 0.01)
    for index, exponent in ((1, 2), (2, 1)):  # amplitude (squared), filter cutoff
        theirs = vital_envelope(settings, index, hold_s, t) ** exponent
        assert np.max(np.abs(20 * np.log10(theirs[heard] / ours[heard]))) < 1.5, index


def test_a_layer_that_outlasts_the_body_takes_vitals_amplifier_envelope_and_the_body_rides_its_levels():
    """Vital's envelope 1 shapes every source, so a rattle ringing 0.8 s over a 0.4 s body would die with the body.
    Envelope 1 takes the layer's shape; envelope 5 on the oscillator's level falls at the body's rate less the
    layer's, so that their product is the body's envelope."""
    layer = Envelope(attack_s=0.001, decay_s=0.8, sustain=0.0, release_s=0.05)
    rattle = snare_patch(duration_s=1.0, noise=snare_patch().noise.model_copy(update={"envelope": layer}))
    settings = to_vital(rattle, "rattling snare")["settings"]
    assert settings["sample_level"] > 0
    assert {"source": "env_5", "destination": "osc_1_level"} in settings["modulations"]
    assert {"source": "env_5", "destination": "sample_level"} not in settings["modulations"]
    assert settings["osc_1_level"] == 0.0
    t = np.arange(2000) / 1000
    product = (vital_envelope(settings, 1, 1.0, t) * vital_envelope(settings, 5, 1.0, t)) ** 2  # both squared
    body = envelope_curve(rattle.amp, 1.0, t.size, 1000)
    heard = (body > 0.01) & (t > 0.005)  # after both 1 ms attacks
    assert np.max(np.abs(20 * np.log10(product[heard] / body[heard]))) < 1.5
    (step,) = (step for step in steps(rattle) if step.startswith("Noise layer"))
    assert "give the amplifier the noise's envelope" in step and "decay 800 ms" in step  # 1 / (1/0.4 - 1/0.8)
    assert "release held (the amplifier releases it)" in step  # the rattle's 50 ms release is faster than the body's
    # the short rattle of the default snare keeps the body on envelope 1 and its own level on envelope 5
    short = to_vital(snare_patch(), "snare")["settings"]
    assert short["osc_1_level"] > 0
    assert {"source": "env_5", "destination": "sample_level"} in short["modulations"]


def test_suggest_gives_a_snare_a_noise_layer_and_exports_and_explains_it():
    r = suggest(render(snare_patch(), 44100), 44100, budget_s=60.0, max_evaluations=600).recipe
    assert r.patch.noise is not None and r.patch.noise_level == 0
    found = r.patch.noise
    # the search moves the band and decay from where the screened layers start (1.5 or 5 kHz, 0.15 s)
    assert found.filter.type == "bandpass" and abs(np.log2(found.filter.cutoff_hz / 4000)) < 0.3
    assert abs(np.log2(found.envelope.decay_s / 0.1)) < 0.4 and r.refined.similarity > 0.9
    assert any(step.startswith("Noise layer") and "own envelope" in step for step in r.steps)
    settings = to_vital(r.patch, "snare")["settings"]
    assert settings["filter_2_sample_input"] == 1.0 and settings["filter_1_sample_input"] == 0.0
    assert settings["filter_2_cutoff"] == pytest.approx(69 + 12 * np.log2(found.filter.cutoff_hz / 440))
    assert {"source": "env_5", "destination": "sample_level"} in settings["modulations"]
    t = np.arange(1000) / 1000
    ours = envelope_curve(found.envelope, r.patch.duration_s, t.size, 1000)
    heard = (ours > 0.01) & (t > found.envelope.attack_s + 0.01)
    theirs = vital_envelope(settings, 5, r.patch.duration_s, t) ** 2  # the level's envelope, squared
    assert np.max(np.abs(20 * np.log10(theirs[heard] / ours[heard]))) < 1.5
