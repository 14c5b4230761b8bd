"""The deployable configuration stays consistent: Ray cluster launcher config, KubeRay RayService/RayJob,
Dockerfile, serve_config.yaml, Prometheus rules (unit-tested with promtool) and the Grafana dashboard."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest
import ray
import yaml

from audiowave.config import Settings
from audiowave.service.metrics import SPECS
from audiowave.service.settings import ServiceSettings

from signals import EXAMPLE

ROOT = EXAMPLE.parents[3]
CLUSTER = ROOT / "cluster"
MONITORING = CLUSTER / "monitoring"


def load(path):
    return yaml.safe_load(path.read_text())


def serve_config() -> dict:
    return load(ROOT / "serve_config.yaml")


def deployment_demand(app: dict) -> dict[str, dict[str, float]]:
    """Per resource, the least and most the app's deployments ask for (min/max replicas x per-replica need)."""
    demand = {"CPU": {"min": 0.0, "max": 0.0}, "GPU": {"min": 0.0, "max": 0.0}}
    for d in app["deployments"]:
        scaling = d.get("autoscaling_config") or {}
        low = scaling.get("min_replicas", d.get("num_replicas", 1))
        high = scaling.get("max_replicas", d.get("num_replicas", 1))
        opts = d.get("ray_actor_options") or {}
        for resource, key in (("CPU", "num_cpus"), ("GPU", "num_gpus")):
            demand[resource]["min"] += low * opts.get(key, 1.0 if resource == "CPU" else 0.0)
            demand[resource]["max"] += high * opts.get(key, 1.0 if resource == "CPU" else 0.0)
    demand["GPU"]["min"] += 0.25  # ReportWriter with vLLM (AUDIOWAVE_LLM_ENGINE=vllm) when enabled
    demand["GPU"]["max"] += 0.25
    return demand


def promtool(*args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("promtool")
    assert binary, "promtool not found: `make system-deps` installs Debian's prometheus package"
    return subprocess.run([binary, *args], capture_output=True, text=True, cwd=MONITORING, timeout=120)


def test_alert_rules_are_valid_and_fire_on_their_thresholds():
    checked = promtool("check", "rules", "alerts.yaml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", "alerts.test.yaml")
    assert tested.returncode == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr
    config = promtool("check", "config", "--syntax-only", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr
    alerts = {r["alert"] for g in load(MONITORING / "alerts.yaml")["groups"] for r in g["rules"] if "alert" in r}
    design = {"AudiowaveSlowProcessing", "AudiowaveHighHttpErrorRate", "AudiowaveQueueBacklog", "AudiowaveDailyCost"}
    assert design <= alerts
    tested_names = {
        t["alertname"] for case in load(MONITORING / "alerts.test.yaml")["tests"] for t in case["alert_rule_test"]
    }
    assert tested_names == alerts  # every alert has a promtool case


def test_every_metric_the_rules_and_dashboard_read_exists():
    rules = load(MONITORING / "alerts.yaml")["groups"][0]["rules"]
    recorded = {r["record"] for r in rules if "record" in r}
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    exprs = [r["expr"] for r in rules] + [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    ours = {
        f"{name}{suffix}"
        for name, spec in SPECS.items()
        for suffix in (("_total",) if spec.kind == "counter" else ("_bucket", "_sum", "_count"))
    }
    ours |= {
        "audiowave_queue_depth",
        "audiowave_queue_pending",
        "audiowave_queue_oldest_age_seconds",
        "audiowave_dead_letters",
        "audiowave_jobs",
    }
    used = {m for e in exprs for m in re.findall(r"\b(?:audiowave|ray)[a-z0-9_:]*\b", e)} - {"audiowave"}
    for metric in used:
        if metric.startswith("audiowave:"):
            assert metric in recorded, metric
        elif metric.startswith("audiowave_"):
            assert metric in ours, metric
        else:
            assert ray_exports(metric.removeprefix("ray_")), metric
    assert len(dashboard["panels"]) >= 10 and len(
        {p["gridPos"]["y"] * 100 + p["gridPos"]["x"] for p in dashboard["panels"]}
    ) == len(dashboard["panels"])


def ray_exports(name: str) -> bool:
    """Whether the installed Ray defines a metric ``name`` (its exporter adds the ``ray_`` prefix)."""
    package = ray.__file__.rsplit("/", 1)[0]
    found = subprocess.run(["grep", "-rlq", "--include=*.py", f'"{name}"', package], timeout=60)
    return found.returncode == 0


def test_cluster_launcher_config_is_valid_and_has_room_for_the_app():
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = load(CLUSTER / "ray-cluster.yaml")
    validate_config(prepare_config(config))  # what `ray up` does before launching
    nodes = config["available_node_types"]
    demand = deployment_demand(serve_config()["applications"][0])
    for resource in ("CPU", "GPU"):
        least = sum(
            n["resources"].get(resource, 0) * (n["min_workers"] if k != "head" else 1) for k, n in nodes.items()
        )
        most = sum(n["resources"].get(resource, 0) * (n["max_workers"] if k != "head" else 1) for k, n in nodes.items())
        assert least >= demand[resource]["min"] and most >= demand[resource]["max"], (resource, least, most, demand)
    assert ray.__version__ in (CLUSTER / "Dockerfile").read_text().splitlines()[3]


def test_rayservice_matches_serve_config_and_its_worker_groups_fit_the_deployments():
    service = load(CLUSTER / "kuberay" / "rayservice.yaml")
    assert yaml.safe_load(service["spec"]["serveConfigV2"]) == serve_config()
    spec = service["spec"]["rayClusterConfig"]
    assert spec["rayVersion"] == ray.__version__
    groups = [spec["headGroupSpec"] | {"minReplicas": 1, "maxReplicas": 1}, *spec["workerGroupSpecs"]]
    demand = deployment_demand(serve_config()["applications"][0])
    for resource, param, limit in (("CPU", "num-cpus", "cpu"), ("GPU", "num-gpus", "nvidia.com/gpu")):
        least = most = 0.0
        for group in groups:
            per_pod = float(group["rayStartParams"].get(param, 0))
            [container] = group["template"]["spec"]["containers"]
            assert per_pod == float(container["resources"]["limits"].get(limit, 0)), (group.get("groupName"), param)
            least += per_pod * group["minReplicas"]
            most += per_pod * group["maxReplicas"]
        assert least >= demand[resource]["min"] and most >= demand[resource]["max"], (resource, least, most)
    env_names = {f"AUDIOWAVE_{name.upper()}" for name in {*ServiceSettings.model_fields, *Settings.model_fields}}
    documented = set(re.findall(r"AUDIOWAVE_[A-Z_]+", (CLUSTER / "kuberay" / "rayservice.yaml").read_text()))
    assert documented <= env_names, documented - env_names


def test_rayjob_runs_the_indexing_entrypoint_that_exists():
    job = load(CLUSTER / "kuberay" / "rayjob-index.yaml")
    argv = shlex.split(job["spec"]["entrypoint"])
    assert argv[:3] == ["python", "-m", "audiowave.datasets.index_library"]
    assert job["spec"]["rayClusterSpec"]["rayVersion"] == ray.__version__
    helped = subprocess.run([sys.executable, "-m", argv[2], "--help"], capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0 and "--licence" in helped.stdout
    options = {a.split("=")[0] for a in argv[3:] if a.startswith("--")}
    assert options <= set(re.findall(r"--[a-z-]+", helped.stdout))


@pytest.mark.parametrize("doc", ["OPERATIONS.md", "README.md"])
def test_operations_docs_name_real_commands_and_files(doc):
    text = (CLUSTER / doc).read_text()
    for path in re.findall(r"`((?:cluster|bench|tests)/[\w./-]+)`", text):
        assert (ROOT / path).exists(), path
    for command in re.findall(r"`audiowave ([a-z-]+)", text):
        helped = subprocess.run(
            [sys.executable, "-m", "audiowave", command, "--help"], capture_output=True, timeout=120
        )
        assert helped.returncode == 0, command


def test_gpu_worker_groups_carry_the_label_that_cpu_deployments_avoid():
    avoided = {
        key: value.removeprefix("!")
        for d in serve_config()["applications"][0]["deployments"]
        for key, value in ((d.get("ray_actor_options") or {}).get("label_selector") or {}).items()
    }
    assert avoided == {"audiowave.io/pool": "gpu"}
    cpu_only = [
        d["name"]
        for d in serve_config()["applications"][0]["deployments"]
        if not d["ray_actor_options"].get("num_gpus")
    ]
    assert all(
        "label_selector" in d["ray_actor_options"]
        for d in serve_config()["applications"][0]["deployments"]
        if d["name"] in cpu_only
    )
    launcher = load(CLUSTER / "ray-cluster.yaml")["available_node_types"]
    assert [k for k, n in launcher.items() if n.get("labels") == avoided] == [
        k for k, n in launcher.items() if n["resources"].get("GPU")
    ]
    groups = load(CLUSTER / "kuberay" / "rayservice.yaml")["spec"]["rayClusterConfig"]["workerGroupSpecs"]
    labelled = [g["groupName"] for g in groups if g["rayStartParams"].get("labels") == "audiowave.io/pool=gpu"]
    assert labelled == [g["groupName"] for g in groups if g["rayStartParams"].get("num-gpus")]


def pod_templates(path):
    spec = load(path)["spec"]
    cluster = spec.get("rayClusterConfig") or spec["rayClusterSpec"]
    return [cluster["headGroupSpec"]["template"], *(g["template"] for g in cluster["workerGroupSpecs"])]


@pytest.mark.parametrize("manifest", ["rayservice.yaml", "rayjob-index.yaml"])
def test_every_kuberay_pod_compiles_the_numba_cache_before_ray_starts(manifest, tmp_path):
    """Many Ray workers importing librosa at once on an empty numba cache can break it (numba#10128; see
    jit_cache.py); the image's cache was compiled on another CPU. Each pod fills a cache of its own first."""
    for template in pod_templates(CLUSTER / "kuberay" / manifest):
        spec = template["spec"]
        [init], [ray_container] = spec["initContainers"], spec["containers"]
        assert init["command"] == ["python", "-m", "audiowave.jit_cache"] and init["image"] == ray_container["image"]
        env = {e["name"]: e["value"] for e in init["env"]}
        assert {e["name"]: e["value"] for e in ray_container["env"]} == env
        mounts = [{m["name"]: m["mountPath"] for m in c["volumeMounts"]} for c in (init, ray_container)]
        [volume] = [v for v in spec["volumes"] if v["name"] == "numba-cache"]
        assert "emptyDir" in volume and mounts[0]["numba-cache"] == mounts[1]["numba-cache"] == env["NUMBA_CACHE_DIR"]


def test_the_init_containers_command_fills_the_cache_that_numba_cache_dir_names(tmp_path):
    run = [sys.executable, "-m", "audiowave.jit_cache"]
    first = subprocess.run(run, env={**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}, capture_output=True, text=True)
    assert first.returncode == 0 and "numba cache: ready" in first.stdout, first.stderr
    assert list(tmp_path.rglob("*.nbi")) and list(tmp_path.rglob("*.nbc"))
