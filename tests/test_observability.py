"""Observability: Prometheus metrics shared by every process through Redis, structured JSON logs with job
ids, and the alert rules and dashboard that read them."""

from __future__ import annotations

import io
import json
import logging

import httpx
from prometheus_client.parser import text_string_to_metric_families

from audiowave.service.api import create_app
from audiowave.service.logs import configure_logging

from service_fixtures import live_server, make_services, new_user, worker_for
from signals import EXAMPLE


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    """Every sample of ``GET /metrics`` as {(name, sorted labels): value}."""
    text = httpx.get(f"{url}/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_cover_requests_jobs_stages_cost_and_queue_across_processes(tmp_path, clean_redis):
    services = make_services(tmp_path, clean_redis)
    other = make_services(tmp_path, clean_redis)  # a second replica's view of the same service
    _, key = new_user(services, "ada")
    with live_server(create_app(services)) as url, live_server(create_app(other)) as url2:
        h = {"X-API-Key": key}
        r = httpx.post(
            f"{url}/v1/analyze",
            headers=h,
            files={"file": ("a.flac", EXAMPLE.read_bytes())},
            data={"stages": "loudness"},
        )
        assert r.status_code == 202
        httpx.post(f"{url2}/v1/analyze", headers=h, files={"file": ("a.flac", b"not audio")})
        assert httpx.get(f"{url}/v1/analyze/nope", headers=h).status_code == 404
        queued = scrape(url)
        assert value(queued, "audiowave_queue_pending") == 1
        assert value(queued, "audiowave_queue_depth", state="waiting", priority="normal") == 1
        assert worker_for(services).run_once(block_ms=0) == r.json()["job_id"]
        for base in (url, url2):  # any replica reports the whole service
            m = scrape(base)
            assert value(m, "audiowave_http_requests_total", endpoint="/v1/analyze", method="POST", status="202") == 1
            assert value(m, "audiowave_http_requests_total", endpoint="/v1/analyze", method="POST", status="415") == 1
            assert (
                value(m, "audiowave_http_requests_total", endpoint="/v1/analyze/{job_id}", method="GET", status="404")
                == 1
            )
            assert value(m, "audiowave_http_request_duration_seconds_count", endpoint="/v1/analyze", method="POST") == 2
            assert value(m, "audiowave_jobs_finished_total", kind="analysis", status="done") == 1
            assert value(m, "audiowave_stage_seconds_count", stage="loudness") == 1
            assert value(m, "audiowave_job_processing_seconds_count", kind="analysis") == 1
            assert value(m, "audiowave_job_wait_seconds_count", kind="analysis") == 1
            assert 0 < value(m, "audiowave_cost_dollars_total", kind="analysis") < 0.01
            assert value(m, "audiowave_jobs", status="done") == 1 and value(m, "audiowave_queue_pending") == 0
            inf = value(m, "audiowave_job_processing_seconds_bucket", kind="analysis", le="+Inf")
            assert inf == 1


def test_redis_outage_does_not_fail_the_request_being_measured(tmp_path, clean_redis):
    services = make_services(tmp_path, clean_redis)
    down = make_services(tmp_path, "redis://127.0.0.1:1/0")
    down.metrics.inc("audiowave_http_requests", {"endpoint": "/x", "method": "GET", "status": "200"})  # no raise
    with live_server(create_app(down)) as url:
        assert httpx.get(f"{url}/healthz").status_code == 200
        scraped = httpx.get(f"{url}/metrics")
        assert scraped.status_code == 503 and scraped.headers["retry-after"]
    assert services.metrics.r.hgetall("aw:metrics") == {}


def test_worker_logs_are_json_lines_carrying_the_job_id(tmp_path, clean_redis):
    services = make_services(tmp_path, clean_redis)
    user, _ = new_user(services, "ada")
    from audiowave.service.jobs import JobService

    good = JobService(services).submit(user, "take.flac", EXAMPLE, ["loudness"], "normal")
    (tmp_path / "bad.wav").write_bytes(b"RIFF, but not audio")
    bad = JobService(services).submit(user, "bad.wav", tmp_path / "bad.wav", ["loudness"], "normal")
    stream = io.StringIO()
    handler = configure_logging("json", stream=stream)
    try:
        worker = worker_for(services)
        assert {worker.run_once(block_ms=0), worker.run_once(block_ms=0)} == {good.id, bad.id}
    finally:
        logger = logging.getLogger("audiowave")
        logger.removeHandler(handler)
        logger.propagate = True
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert {"time", "level", "name", "message", "job_id"} <= set(lines[0])
    done = [x for x in lines if x["message"].startswith("job done")]
    assert [x["job_id"] for x in done] == [good.id] and done[0]["kind"] == "analysis" and done[0]["cost"] > 0
    failed = [x for x in lines if x["message"].startswith("job failed")]
    assert [x["job_id"] for x in failed] == [bad.id]
