"""The Serve app on a multi-node Ray cluster on one machine (``ray.cluster_utils.Cluster``): a head node without
work of its own, a GPU worker node (labelled as in cluster/) and two CPU worker nodes.

Proves: the GPU deployments (Separator, Tagger) land on the GPU node and the CPU actors elsewhere; killing the
worker node that runs a job's JobRunner mid-job loses no job and completes it exactly once elsewhere.
"""

from __future__ import annotations

import time

import pytest
import ray
from ray import serve
from ray.cluster_utils import Cluster
from ray.util.state import list_actors

from audiowave.client import Client
from audiowave.ray_apps.app import build_app
from audiowave.ray_apps.launch import read_serve_config
from audiowave.service.services import Services
from audiowave.service.settings import ServiceSettings

from servers import free_port, redis_server, service_args
from service_fixtures import new_user
from signals import EXAMPLE

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def multinode(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    with redis_server() as redis_url:
        args = service_args(home, redis_url, claim_idle_s=4.0)
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
        try:  # a failed start must not leave the cluster up with later tests' drivers joining it
            gpu_node = cluster.add_node(num_cpus=2, num_gpus=1, labels={"audiowave.io/pool": "gpu"})  # as in cluster/
            cpu_nodes = [cluster.add_node(num_cpus=3) for _ in range(2)]
            env = {"env_vars": {"AUDIOWAVE_HOME": str(home)}}
            ray.init(address=cluster.address, log_to_driver=False, runtime_env=env)
            port = free_port()
            serve.start(http_options={"host": "127.0.0.1", "port": port})
            config = read_serve_config()
            serve.run(build_app(args, config["deployments"]), name="audiowave", route_prefix="/")
            yield {
                "services": Services.from_settings(ServiceSettings(**args)),
                "url": f"http://127.0.0.1:{port}",
                "cluster": cluster,
                "gpu": gpu_node.node_id,
                "cpu": {n.node_id for n in cpu_nodes},
            }
        finally:
            if ray.is_initialized():
                serve.shutdown()
                ray.shutdown()
            cluster.shutdown()


def replicas_by_deployment() -> dict[str, set[str]]:
    """Deployment name -> node ids of its live replica actors."""
    placed: dict[str, set[str]] = {}
    for actor in list_actors(filters=[("state", "=", "ALIVE")], limit=1000):
        if actor.class_name.startswith("ServeReplica:audiowave:"):
            placed.setdefault(actor.class_name.rsplit(":", 1)[-1], set()).add(actor.node_id)
    return placed


def test_gpu_deployments_land_on_the_gpu_node_and_cpu_actors_elsewhere(multinode):
    placed = replicas_by_deployment()
    assert placed["Separator"] == {multinode["gpu"]} and placed["Tagger"] == {multinode["gpu"]}
    for name in ("Ingress", "JobRunner", "SampleMatcher"):
        assert placed[name] <= multinode["cpu"], (name, placed)
    gpu_left = {n["NodeID"]: n["Resources"].get("GPU", 0) for n in ray.nodes() if n["Alive"]}
    assert gpu_left[multinode["gpu"]] == 1.0 and ray.available_resources().get("GPU") == pytest.approx(0.25)


def test_killing_the_worker_node_running_a_job_loses_nothing_and_finishes_it_once(multinode):
    services = multinode["services"]
    _, key = new_user(services, "ada")
    with Client(multinode["url"], key) as client:  # the SDK: waits out 429/503 and dropped connections
        job_id = client.analyze(EXAMPLE, stages="separation,rhythm,tonal,notes,pitch").job_id
        deadline = time.monotonic() + 120
        while client.job(job_id).status != "running" and time.monotonic() < deadline:
            time.sleep(1.0)
        [running_on] = replicas_by_deployment()["JobRunner"]
        assert running_on in multinode["cpu"]
        worker = next(n for n in multinode["cluster"].worker_nodes if n.node_id == running_on)
        multinode["cluster"].remove_node(worker)  # the node and every process on it die, mid-job
        job = client.wait(job_id, poll_s=2.0, timeout_s=300)
    assert job.status == "done" and job.attempts >= 2, job
    assert replicas_by_deployment()["JobRunner"] == multinode["cpu"] - {running_on}  # replaced on the other node
    recorded = services.metrics.r.hgetall("aw:metrics")
    done = [float(v) for k, v in recorded.items() if b'"audiowave_jobs_finished"' in k and b'"done"' in k]
    assert done == [1.0]  # completed exactly once
