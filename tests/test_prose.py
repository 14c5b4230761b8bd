"""Report prose: the claim checker (always) and a real OpenAI-compatible LLM server (tier `llm`)."""

from __future__ import annotations

import pytest

from audiowave.report.facts import Facts
from audiowave.report.prose import OpenAICompatible, check_prose, compose_prose

from service_fixtures import make_services, new_user, worker_for
from signals import EXAMPLE

FACTS = Facts(tempo_bpm=120.0, key="A minor", instruments={"drums", "bass"}, effects={"distortion"})


def test_prose_that_agrees_with_the_analysis_is_accepted():
    assert check_prose("A driving 120 BPM groove in A minor: drums and a distorted bass, no samples.", FACTS).accepted
    assert check_prose("At 121 bpm in A-minor the drums lead.", FACTS).accepted  # within 2 BPM, spelling varies


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("A 128 BPM track in A minor with drums.", "tempo 128"),
        ("A 120 BPM track in C major with drums.", "key C major"),
        ("A 120 BPM track in A minor with piano and drums.", "'piano'"),
        ("A 120 BPM track in A minor with drums and a booming 808.", "'808'"),  # bass, but no 808 was heard
        ("A 120 BPM track in A minor, drenched in reverb.", "'reverb'"),
        ("A 120 BPM track in A minor built on a vinyl sample.", "samples"),
        ("A wonderful, emotional journey through sound.", "does not state the tempo"),
    ],
)
def test_prose_that_contradicts_or_ignores_the_analysis_is_rejected(text, problem):
    check = check_prose(text, FACTS)
    assert not check.accepted and any(problem in p for p in check.problems), check.problems


class MisinformedWriter(OpenAICompatible):
    """The real model, told a wrong tempo and key: its prose must then fail the check against the truth."""

    def complete(self, messages):
        wrong = [
            m | {"content": m["content"].replace("120 BPM", "90 BPM").replace("A minor", "F# major")} for m in messages
        ]
        return super().complete(wrong)


@pytest.mark.llm
def test_a_real_llm_server_writes_prose_that_is_checked(tmp_path, clean_redis):
    import httpx

    from audiowave.service.api import create_app

    from servers import llama_server
    from service_fixtures import live_server

    with llama_server() as url:
        honest = compose_prose(FACTS, OpenAICompatible(url))
        assert honest.status in ("accepted", "rejected") and honest.writer.startswith("openai-compatible")
        assert bool(honest.text) == (honest.status == "accepted")
        lied = compose_prose(FACTS, MisinformedWriter(url))
        assert lied.status == "rejected" and lied.text == ""
        assert any("90" in p or "F# major" in p or "does not state" in p for p in lied.problems), lied.problems

        services = make_services(tmp_path, clean_redis, llm_engine="openai", llm_url=url)
        _, key = new_user(services, "ada")
        h = {"X-API-Key": key}
        with live_server(create_app(services)) as base, httpx.Client(base_url=base, timeout=120) as client:
            files = {"file": ("example.flac", EXAMPLE.read_bytes(), "audio/flac")}
            job_id = client.post("/v1/analyze", headers=h, files=files, data={"stages": "rhythm,tonal"}).json()[
                "job_id"
            ]
            worker_for(services).run_once(block_ms=0)
            r = client.get(f"/v1/analyze/{job_id}/report", headers=h, params={"format": "md", "prose": "true"})
            assert r.status_code == 200
            status = r.headers["X-Audiowave-Prose"]
            assert status.split(":")[0] in ("accepted", "rejected")
            assert ("Summary written by openai-compatible" in r.text) == status.startswith("accepted")
            assert "120.0 BPM" in r.text  # the template's facts stand either way


def test_a_misconfigured_llm_is_reported_not_fatal(tmp_path, clean_redis):
    import httpx

    from audiowave.errors import ModelUnavailableError
    from audiowave.report.engines import VLLMWriter
    from audiowave.service.api import create_app

    from service_fixtures import live_server

    with pytest.raises(ModelUnavailableError, match=r"has no config\.json"):
        VLLMWriter(str(tmp_path))
    services = make_services(tmp_path, clean_redis, llm_engine="vllm", llm_model=str(tmp_path / "none"))
    _, key = new_user(services, "ada")
    h = {"X-API-Key": key}
    with live_server(create_app(services)) as base, httpx.Client(base_url=base, timeout=60) as client:
        files = {"file": ("example.flac", EXAMPLE.read_bytes(), "audio/flac")}
        job_id = client.post("/v1/analyze", headers=h, files=files, data={"stages": "loudness"}).json()["job_id"]
        worker_for(services).run_once(block_ms=0)
        r = client.get(f"/v1/analyze/{job_id}/report", headers=h, params={"format": "md", "prose": "true"})
        assert r.status_code == 200 and r.headers["X-Audiowave-Prose"].startswith("unavailable: vLLM model directory")
        assert "LUFS" in r.text and "Summary written by" not in r.text
