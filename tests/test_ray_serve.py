"""The Ray Serve application on a real local Ray cluster with one logical GPU.

Proves: fractional GPU placement (0.5 separation + 0.25 tagging leaves 0.25), jobs submitted over
HTTP finish through the deployments, a JobRunner replica killed mid-job does not lose the job, and
the job runners scale out with the queue depth.
"""

from __future__ import annotations

import time

import httpx
import pytest
import ray
from ray import serve

from audiowave.config import Settings
from audiowave.model_import import import_weights
from audiowave.ray_apps.launch import read_serve_config, start_app, stop_app
from audiowave.service.services import Services
from audiowave.service.settings import ServiceSettings

from models_fixtures import save_random_cnn14
from servers import free_port, redis_server
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
    with redis_server() as redis_url:
        args = {
            "redis_url": redis_url,
            "database_url": f"sqlite:///{home / 'aw.db'}",
            "storage_url": str(home / "objects"),
            "jwt_secret": "ray-test-secret-" + "y" * 32,
            "claim_idle_s": 4.0,
        }
        url = start_app(
            args, read_serve_config(), free_port(), num_gpus=1, num_cpus=8, env={"AUDIOWAVE_HOME": str(home)}
        )
        services = Services.from_settings(ServiceSettings(**args))
        try:
            yield services, url
        finally:
            stop_app()


def wait_for(client, job_id, key, statuses=("done", "failed", "dead"), timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/analyze/{job_id}", headers={"X-API-Key": key}).json()
        if job["status"] in statuses:
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s")


def submit(client, key, stages):
    with EXAMPLE.open("rb") as fh:
        r = client.post(
            "/v1/analyze", headers={"X-API-Key": key}, files={"file": ("example.flac", fh)}, data={"stages": stages}
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
    tag = serve.get_deployment_handle("Tagger", app_name="audiowave").info.remote().result()
    assert max(tag["batch_sizes"]) > 1  # the mix and the four stems were tagged in shared batches
    assert "stems/bass.flac" in job["links"]


def test_killed_job_runner_does_not_lose_the_job(cluster):
    services, url = cluster
    _, key = new_user(services, "bob")
    with httpx.Client(base_url=url, timeout=30) as client:
        job_id = submit(client, key, "separation,rhythm,tonal,notes,pitch")
        wait_for(client, job_id, key, statuses=("running",), timeout=60)
        runners = [a for a in ray.util.list_named_actors(all_namespaces=True) if "JobRunner" in a["name"]]
        assert runners
        for actor in runners:
            ray.kill(ray.get_actor(actor["name"], namespace=actor["namespace"]), no_restart=False)
        job = wait_for(client, job_id, key)
    assert job["status"] == "done" and job["attempts"] >= 2


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
