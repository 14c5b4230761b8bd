"""The SDK against the real HTTP service (uvicorn, Redis, SQL, storage): sync and async, typed results."""

from __future__ import annotations

import asyncio
import io
import threading

import pytest
import soundfile as sf

from audiowave.client import ApiError, AsyncClient, Client, RetryPolicy
from audiowave.recipes.patch import Envelope, Oscillator, Patch
from audiowave.recipes.synth import render

from service_fixtures import BackgroundWorker, live_server, make_services, new_user
from signals import EXAMPLE


def pluck() -> bytes:
    patch = Patch(
        source="subtractive",
        note_midi=57,
        duration_s=0.3,
        oscillators=[Oscillator(waveform="saw")],
        amp=Envelope(attack_s=0.005, decay_s=0.2, sustain=0.3, release_s=0.1),
    )
    buf = io.BytesIO()
    sf.write(buf, render(patch, 44100), 44100, format="WAV")
    return buf.getvalue()


def test_sync_client_covers_analysis_report_feedback_recipe_and_deletion(tmp_path, clean_redis):
    from audiowave.service.api import create_app

    services = make_services(tmp_path, clean_redis)
    _, key = new_user(services, "ada")
    (tmp_path / "example.flac").write_bytes(EXAMPLE.read_bytes())
    with live_server(create_app(services)) as url, BackgroundWorker(services), Client(url, key) as aw:
        assert aw.health()["status"] == "ok"
        job = aw.analyze(tmp_path / "example.flac", stages="rhythm,tonal,forensics", priority="high")
        assert job.kind == "analysis" and job.status == "queued" and job.priority == "high"
        seen = []
        done = aw.wait(job.job_id, on_progress=seen.append, poll_s=0.1, timeout_s=300)
        assert done.status == "done" and seen[-1].status == "done" and len(seen) >= 2
        result = done.analysis()  # the server's own pydantic model
        assert result.tempo.bpm == pytest.approx(120, abs=2) and result.key.label == "A minor"
        assert aw.download(done.links["spectrogram.png"])[:4] == b"\x89PNG"
        assert "## Production techniques" in aw.report(job.job_id, format="md")
        assert aw.feedback(job.job_id, "tempo", "correct")
        with pytest.raises(ApiError) as bad:
            aw.feedback(job.job_id, "colour", "wrong")
        assert bad.value.status == 422 and bad.value.error == "invalid_feedback"
        recipe_job = aw.wait(aw.suggest(pluck(), budget_s=2).job_id, poll_s=0.1, timeout_s=300)
        recipe = recipe_job.recipe()
        assert recipe_job.kind == "recipe" and recipe.patch.source in {"subtractive", "wavetable", "fm"}
        assert abs(recipe.patch.note_midi - 57) < 0.2
        assert {j.job_id for j in aw.jobs()} == {job.job_id, recipe_job.job_id}
        token_client = Client(url, token=aw.token())
        assert token_client.job(job.job_id).status == "done"
        token_client.close()
        assert aw.delete(job.job_id)["deleted"] == job.job_id
        with pytest.raises(ApiError) as gone:
            aw.job(job.job_id)
        assert gone.value.status == 404


def test_async_client_uploads_bytes_and_waits(tmp_path, clean_redis):
    from audiowave.service.api import create_app

    services = make_services(tmp_path, clean_redis)
    _, key = new_user(services, "ada")

    async def scenario(url: str) -> None:
        async with AsyncClient(url, key) as aw:
            jobs = await asyncio.gather(*(aw.analyze(EXAMPLE.read_bytes(), stages="loudness") for _ in range(2)))
            finished = await asyncio.gather(*(aw.wait(j.job_id, poll_s=0.1, timeout_s=300) for j in jobs))
            assert [j.analysis().loudness.backend.name for j in finished] == ["pyloudnorm", "pyloudnorm"]
            assert "LUFS" in await aw.report(jobs[0].job_id, format="md")
            with pytest.raises(ApiError) as bad:
                await aw.analyze(b"not audio at all")
            assert bad.value.status == 415 and "not an audio file" in bad.value.reason

    with live_server(create_app(services)) as url, BackgroundWorker(services):
        asyncio.run(scenario(url))


def test_backpressure_is_retried_then_reported(tmp_path, clean_redis):
    from audiowave.service.api import create_app

    services = make_services(tmp_path, clean_redis, max_pending_jobs=1)
    _, key = new_user(services, "ada")
    waits = []

    class CountingPolicy(RetryPolicy):
        def delay(self, attempt, response):
            waits.append(response.headers.get("Retry-After") if response is not None else None)
            return 0.01

    with live_server(create_app(services)) as url, Client(url, key, retry=CountingPolicy(attempts=3)) as aw:
        aw.analyze(EXAMPLE.read_bytes(), stages="loudness")  # fills the queue
        with pytest.raises(ApiError) as full:
            aw.analyze(EXAMPLE.read_bytes(), stages="loudness")
    assert full.value.status == 503 and full.value.error == "overloaded"
    assert waits == ["30", "30", "30"]  # three retries, each after the server's Retry-After


def test_upload_from_an_http_url(tmp_path, clean_redis):
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from audiowave.service.api import create_app

    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "example.flac").write_bytes(EXAMPLE.read_bytes())
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path / "www"))
    files = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=files.serve_forever, daemon=True).start()
    services = make_services(tmp_path, clean_redis)
    _, key = new_user(services, "ada")
    try:
        with live_server(create_app(services)) as url, BackgroundWorker(services), Client(url, key) as aw:
            job = aw.analyze(f"http://127.0.0.1:{files.server_port}/example.flac", stages="loudness")
            assert job.filename == "example.flac"
            assert aw.wait(job.job_id, poll_s=0.1, timeout_s=300).analysis().loudness is not None
    finally:
        files.shutdown()


def test_cli_feedback_goes_through_the_sdk(tmp_path, clean_redis):
    from cli_runner import cli

    from audiowave.service.api import create_app
    from audiowave.service.db import Feedback

    services = make_services(tmp_path, clean_redis)
    _, key = new_user(services, "ada")
    with live_server(create_app(services)) as url, BackgroundWorker(services), Client(url, key) as aw:
        job = aw.wait(aw.analyze(EXAMPLE.read_bytes(), stages="loudness").job_id, poll_s=0.1, timeout_s=300)
        args = ("--url", url, "--key", key)
        ok = cli("feedback", job.job_id, "tempo", "wrong", "--value", '{"bpm": 128}', *args)
        assert ok.returncode == 0 and "feedback stored" in ok.stdout, ok.stderr
        bad_field = cli("feedback", job.job_id, "colour", "wrong", *args)
        assert bad_field.returncode == 2 and "unknown field" in bad_field.stderr
        bad_verdict = cli("feedback", job.job_id, "tempo", "meh", *args)
        assert bad_verdict.returncode == 2 and "Traceback" not in bad_verdict.stderr
        bad_json = cli("feedback", job.job_id, "tempo", "wrong", "--value", "[1]", *args)
        assert bad_json.returncode == 2 and "JSON object" in bad_json.stderr
    with services.sessions() as session:
        [fb] = session.query(Feedback).all()
    assert (fb.field, fb.verdict, fb.value) == ("tempo", "wrong", {"bpm": 128})
