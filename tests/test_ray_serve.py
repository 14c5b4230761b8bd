"""The Ray Serve application on a real local Ray cluster with one logical GPU.

Proves: fractional GPU placement (0.5 separation + 0.25 tagging leaves 0.25), jobs submitted over
HTTP finish through the deployments, a JobRunner or model replica (Separator, Tagger) killed mid-job does not
lose the job, and the job runners scale out with the queue depth.
"""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest
import ray
from cli_runner import cli
from ray import serve
from sample_library import write_library, write_track

from audiowave.config import Settings
from audiowave.model_import import import_weights
from audiowave.ray_apps.launch import read_serve_config, start_app, stop_app
from audiowave.service.services import Services
from audiowave.service.settings import ServiceSettings

from models_fixtures import save_random_cnn14
from servers import free_port, redis_server, service_args
from service_fixtures import new_user
from signals import EXAMPLE

pytestmark = pytest.mark.ray
ROOT = EXAMPLE.parents[3]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    # A random-init CNN14 installed like a real checkpoint: the Tagger deployment then runs (and batches).
    save_random_cnn14(home / "download")
    import_weights(home / "download", Settings(home=home))
    # A small sample library indexed by the real CLI job, served by two shard actors.
    write_library(home / "lib")
    indexed = cli("index", str(home / "lib"), "--index", str(home / "index"), "--no-db")
    assert indexed.returncode == 0, indexed.stderr
    with redis_server() as redis_url:
        args = service_args(home, redis_url, claim_idle_s=4.0)
        env = {"AUDIOWAVE_HOME": str(home), "AUDIOWAVE_SAMPLE_SHARDS": "2"}
        url = start_app(
            args,
            read_serve_config(),
            free_port(),
            num_gpus=1,
            num_cpus=8,
            env=env,
        )
        services = Services.from_settings(ServiceSettings(**args))
        try:
            yield services, url
        finally:
            stop_app()


def wait_for(client, job_id, key, statuses=("done", "failed", "dead"), timeout=240):
    deadline = time.monotonic() + timeout
    job = {"status": "not polled"}
    while time.monotonic() < deadline:
        r = client.get(f"/v1/analyze/{job_id}", headers={"X-API-Key": key})
        if r.status_code in (429, 503):  # a poller over the key's rate limit, or a replica being replaced
            time.sleep(float(r.headers.get("Retry-After", 1)))
            continue
        assert r.status_code == 200, r.text
        job = r.json()
        if job["status"] in statuses:
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s")


def submit(client, key, stages, path=EXAMPLE):
    with path.open("rb") as fh:
        r = client.post(
            "/v1/analyze", headers={"X-API-Key": key}, files={"file": (path.name, fh)}, data={"stages": stages}
        )
    assert r.status_code == 202, r.text
    return r.json()["job_id"]


def test_fractional_gpu_placement(cluster):
    assert ray.cluster_resources()["GPU"] == 1.0
    assert ray.available_resources().get("GPU", 0.0) == pytest.approx(0.25)
    sep = serve.get_deployment_handle("Separator", app_name="audiowave").info.remote().result()
    tag = serve.get_deployment_handle("Tagger", app_name="audiowave").info.remote().result()
    assert sep["gpu_ids"] and tag["gpu_ids"]  # each replica was handed (a share of) the GPU
    assert sep["backend"]["name"] == "hpss-bands" and sep["backend"]["fallback"]
    assert tag["ready"] is True and tag["backend"]["name"] == "panns-cnn14"


def test_job_over_http_runs_through_the_deployments(cluster):
    services, url = cluster
    _, key = new_user(services, "ada")
    with httpx.Client(base_url=url, timeout=30) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        job_id = submit(client, key, "separation,rhythm,tonal,tagging")
        job = wait_for(client, job_id, key)
    assert job["status"] == "done", job["error"]
    result = job["result"]
    assert result["backends"]["separation"]["name"] == "hpss-bands"
    assert abs(result["tempo_bpm"] - 120) < 2 and result["key"]["label"] == "A minor"
    assert result["tagging"]["status"] == "ran" and result["backends"]["tagging"]["name"] == "panns-cnn14"
    handle = serve.get_deployment_handle("Tagger", app_name="audiowave")
    noise = np.random.default_rng(0).standard_normal(32000).astype(np.float32) * 0.1
    pending = [handle.tag.remote(noise, 16000, f"source{i}") for i in range(6)]
    assert all(isinstance(p.result(), list) for p in pending)
    assert max(handle.info.remote().result()["batch_sizes"]) > 1  # requests arriving together share a batch
    assert "stems/bass.flac" in job["links"]


def test_sample_matches_over_http_come_from_the_shard_actors(cluster, tmp_path):
    services, url = cluster
    _, key = new_user(services, "dee")
    write_track(tmp_path / "track.wav", [1.0, 3.0, 4.5])
    with httpx.Client(base_url=url, timeout=30) as client:
        job = wait_for(client, submit(client, key, "separation,samples", tmp_path / "track.wav"), key)
        assert job["status"] == "done", job["error"]
        section = job["result"]["samples"]
        assert section["status"] == "ran" and "2 shard actors" in section["index"]
        [m] = [m for m in section["matches"] if m["path"] == "kit_a/hit1.wav"]
        assert m["pitch_semitones"] == -1 and [round(o["start_s"], 1) for o in m["occurrences"]] == [1.0, 3.0, 4.5]
        picture = client.get(job["links"][m["proof"]["picture"]], headers={"X-API-Key": key})
        assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")
        assert m["proof"]["track_audio"] in job["links"] and m["proof"]["sample_audio"] in job["links"]
    info = serve.get_deployment_handle("SampleMatcher", app_name="audiowave").info.remote().result()
    assert info["ready"] and len(info["shard_sizes"]) == 2 and sum(info["shard_sizes"]) == 4


def kill_replicas(deployment: str) -> int:
    """Kill every replica actor of ``deployment`` (Serve starts new ones); returns how many were killed."""
    actors = [a for a in ray.util.list_named_actors(all_namespaces=True) if deployment in a["name"]]
    for actor in actors:
        ray.kill(ray.get_actor(actor["name"], namespace=actor["namespace"]), no_restart=False)
    return len(actors)


def test_killed_job_runner_does_not_lose_the_job(cluster):
    services, url = cluster
    _, key = new_user(services, "bob")
    with httpx.Client(base_url=url, timeout=30) as client:
        job_id = submit(client, key, "separation,rhythm,tonal,notes,pitch")
        wait_for(client, job_id, key, statuses=("running",), timeout=60)
        assert kill_replicas("JobRunner")
        job = wait_for(client, job_id, key)
    assert job["status"] == "done" and job["attempts"] >= 2


def test_killed_model_replica_mid_job_is_replaced_and_the_job_finishes(cluster):
    services, url = cluster
    _, key = new_user(services, "eve")
    with httpx.Client(base_url=url, timeout=60) as client:
        job_id = submit(client, key, "separation,rhythm,tonal,tagging,notes")
        wait_for(client, job_id, key, statuses=("running",), timeout=60)
        assert kill_replicas("Separator") and kill_replicas("Tagger")
        job = wait_for(client, job_id, key)
    assert job["status"] == "done", job["error"]
    assert job["result"]["backends"]["tagging"]["name"] == "panns-cnn14"  # the replacement Tagger answered
    sep = serve.get_deployment_handle("Separator", app_name="audiowave").info.remote().result()
    assert sep["gpu_ids"]  # a new replica holds the GPU share again


def test_job_runners_scale_out_with_queue_depth(cluster):
    services, url = cluster
    _, key = new_user(services, "cy")
    with httpx.Client(base_url=url, timeout=30) as client:
        ids = [submit(client, key, "separation,rhythm,tonal,notes,pitch") for _ in range(8)]
        peak = 1
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and peak < 2:
            status = serve.status().applications["audiowave"].deployments["JobRunner"]
            peak = max(peak, sum(status.replica_states.values()))
            time.sleep(1)
        assert peak >= 2
        for job_id in ids:
            client.delete(f"/v1/analyze/{job_id}", headers={"X-API-Key": key})
