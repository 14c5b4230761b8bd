"""Confidence calibration: fitting, applying, feedback outcomes, and the calibrate command end to end."""

from __future__ import annotations

import json

import numpy as np
from cli_runner import cli

from audiowave.calibration import Calibration, Outcome, cross_fitted_ece, ece

from service_fixtures import new_user, worker_for
from signals import EXAMPLE


def overconfident(n: int, rng: np.random.Generator, kind: str = "key") -> list[Outcome]:
    """Confidences spread over 0.5-1 while only (confidence - 0.4) of them are right."""
    conf = rng.uniform(0.5, 1.0, n)
    return [Outcome(kind, "", float(c), bool(rng.random() < c - 0.4)) for c in conf]


def test_isotonic_calibration_removes_overconfidence_out_of_sample(tmp_path):
    rng = np.random.default_rng(0)
    train, test = overconfident(400, rng), overconfident(400, rng)
    cal = Calibration.fit(train)
    raw = ece([o.confidence for o in test], [o.correct for o in test])
    calibrated = ece([cal.apply("key", "", o.confidence) for o in test], [o.correct for o in test])
    assert raw > 0.3 and calibrated < 0.08
    assert cal.apply("key", "", 0.9) >= cal.apply("key", "", 0.6)  # monotone
    assert cal.apply("tempo", "", 0.77) == 0.77  # no outcomes for tempo: left raw
    cal.save(tmp_path / "c.json")
    assert Calibration.load(tmp_path / "c.json").apply("key", "", 0.9) == cal.apply("key", "", 0.9)
    rows = [{"confidences": [[o.kind, o.label, o.confidence, o.correct] for o in train[i::10]]} for i in range(10)]
    figures = cross_fitted_ece(rows)["key"]
    assert figures["n"] == 400 and figures["ece_calibrated"] < figures["ece_raw"]


def test_feedback_fields_are_validated_and_become_calibration_outcomes(api, tmp_path):
    from audiowave.service.feedback import feedback_outcomes, recipe_ratings

    services, client = api
    _, key = new_user(services, "ada")
    h = {"X-API-Key": key}
    files = {"file": ("example.flac", EXAMPLE.read_bytes(), "audio/flac")}
    job_id = client.post("/v1/analyze", headers=h, files=files, data={"stages": "forensics"}).json()["job_id"]
    worker_for(services).run_once(block_ms=0)

    def send(field, verdict, value=None):
        return client.post(
            "/v1/feedback", headers=h, json={"job_id": job_id, "field": field, "verdict": verdict, "value": value or {}}
        )

    assert send("effect:band_limit@mix", "correct").status_code == 201
    assert send("effect:distortion", "wrong").status_code == 201
    assert send("instrument:cowbell", "missing").status_code == 201
    assert send("recipe", "rating", {"stars": 4}).status_code == 201
    for field, verdict, value, reason in (
        ("colour", "wrong", {}, "unknown field"),
        ("recipe", "rating", {"stars": 9}, "stars"),
        ("tempo", "rating", {}, "'rating' verdict"),
        ("tempo", "wrong", {"bpm": 9000}, "20..400"),
    ):
        r = send(field, verdict, value)
        assert r.status_code == 422 and reason in r.json()["reason"], r.text
    with services.sessions() as session:
        outcomes = sorted(feedback_outcomes(session), key=lambda o: o.label)
    assert [(o.kind, o.label, o.correct, o.origin) for o in outcomes] == [
        ("effect", "band_limit", True, "feedback"),
        ("effect", "distortion", False, "feedback"),
    ]
    assert all(0 <= o.confidence <= 1 for o in outcomes)
    with services.sessions() as session:
        assert recipe_ratings(session) == (1, 4.0)


def test_calibrate_installs_a_calibration_that_analyze_applies(tmp_path):
    rng = np.random.default_rng(1)
    rows = [
        {"confidences": [["effect", "band_limit", o.confidence, o.correct] for o in overconfident(400, rng, "effect")]}
    ]
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "metrics.json").write_text(json.dumps(rows))
    env = {"AUDIOWAVE_HOME": str(tmp_path / "home")}
    missing = cli("calibrate", "--eval", str(tmp_path / "nope"), "--no-feedback", env=env)
    assert missing.returncode == 2 and "not found: run `audiowave eval" in " ".join(missing.stderr.split())
    fit = cli("calibrate", "--eval", str(tmp_path / "ev"), "--database-url", f"sqlite:///{tmp_path}/db.sqlite", env=env)
    assert fit.returncode == 0, fit.stderr
    installed = json.loads((tmp_path / "home" / "calibration.json").read_text())
    assert installed["maps"]["effect:band_limit"]["n"] == 400 and "installed" in fit.stdout
    run = cli("analyze", str(EXAMPLE), "--json", "--stages", "forensics", "--out", str(tmp_path / "out"), env=env)
    doc = json.loads(run.stdout)
    assert doc["calibration"].startswith("isotonic per label")
    band = next(t for t in doc["forensics"]["techniques"] if t["effect"] == "band_limit")
    raw = doc["raw_confidences"]["effect:band_limit@mix"]
    assert raw == 1.0 and band["confidence"] < 0.9  # the overconfident detector is brought down to what it earns
