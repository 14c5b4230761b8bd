"""The Ray Serve application: HTTP ingress, job runners, and model deployments on fractional GPUs.

    Ingress (FastAPI, CPU) ── Redis queue ──► JobRunner (CPU, autoscaled on queue depth)
                                                 ├─► Separator (HT-Demucs / fallback, 0.5 GPU)
                                                 ├─► Tagger (PANNs CNN14, 0.25 GPU)
                                                 ├─► SampleMatcher ─► SampleShard actors (CPU, index in memory)
                                                 └─► rhythm, key, chords, notes, pitch in-replica (CPU)
    Ingress ─► ReportWriter (vLLM on 0.25 GPU, or an OpenAI-compatible server; only when llm_engine is set)

Everything here is wiring: the work is done by the Ray-free ``audiowave`` package. Resources,
replicas and autoscaling come from ``serve_config.yaml`` (``serve run serve_config.yaml``), or from
:func:`build_app` defaults when started by ``audiowave serve``.
"""

from __future__ import annotations

import logging
import os
import threading

import numpy as np
import ray
from ray import serve
from ray.serve.handle import DeploymentHandle

from audiowave.actors.sample_shards import ShardedSampleMatcher
from audiowave.audio_io import AudioClip
from audiowave.config import Settings, get_settings
from audiowave.errors import ModelUnavailableError
from audiowave.pipeline import Pipeline
from audiowave.progress import ProgressFn, no_progress
from audiowave.report.engines import load_prose_writer
from audiowave.samples.identify import BACKEND as SAMPLE_BACKEND
from audiowave.samples.identify import missing_index
from audiowave.samples.index_store import index_version
from audiowave.schema import BackendInfo, Instrument
from audiowave.service.api import create_app
from audiowave.service.logs import configure_logging
from audiowave.service.services import Services
from audiowave.service.settings import ServiceSettings
from audiowave.service.worker import JobWorker, run_forever
from audiowave.stages.separation import Separation, load_separator
from audiowave.stages.tagger_choice import load_tagger

log = logging.getLogger("audiowave.ray")


def _device() -> str:
    """'cuda' when this replica was given a real GPU, else 'cpu' (a logical GPU on a CPU box)."""
    import torch

    return "cuda" if ray.get_gpu_ids() and torch.cuda.is_available() else "cpu"


@serve.deployment(name="Separator", ray_actor_options={"num_gpus": 0.5}, max_ongoing_requests=2)
class SeparatorDeployment:
    """Hosts the separation model once per replica (HT-Demucs when its weights are installed)."""

    def __init__(self) -> None:
        settings = get_settings().model_copy(update={"device": _device()})
        self.separator, self.warning = load_separator(settings)

    def separate(self, samples: np.ndarray, sample_rate: int) -> dict:
        clip = AudioClip(samples, sample_rate, sample_rate, samples.shape[0], "remote", "array")
        sep = self.separator.separate(clip)
        return {"stems": sep.stems, "backend": sep.backend.model_dump(), "warning": self.warning}

    def info(self) -> dict:
        return {
            "backend": self.separator.backend.model_dump(),
            "warning": self.warning,
            "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
            "device": _device(),
        }


@serve.deployment(name="Tagger", ray_actor_options={"num_gpus": 0.25}, max_ongoing_requests=4)
class TaggerDeployment:
    """Hosts the tagger: PANNs CNN14 when its checkpoint is installed, else the packaged offline recogniser."""

    def __init__(self) -> None:
        self.batch_sizes: list[int] = []
        self.tagger, self.reason = load_tagger(get_settings().model_copy(update={"device": _device()}))

    async def tag(self, mono: np.ndarray, sample_rate: int, source: str) -> list[dict]:
        if self.tagger is None:
            raise ModelUnavailableError(self.reason or "no tagger")
        return await self._tag_batch((mono, sample_rate, source))

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.05)
    async def _tag_batch(self, requests: list[tuple[np.ndarray, int, str]]) -> list[list[dict]]:
        """Requests arriving together (the mix and stems of a job, several jobs) share one forward pass."""
        self.batch_sizes.append(len(requests))
        return [[i.model_dump() for i in found] for found in self.tagger.tag_many(requests)]

    def info(self) -> dict:
        backend = self.tagger.backend.model_dump() if self.tagger else None
        return {
            "ready": self.tagger is not None,
            "reason": self.reason,  # why PANNs was skipped, or why there is no tagger
            "backend": backend,
            "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
            "batch_sizes": self.batch_sizes[-100:],
        }


@serve.deployment(name="SampleMatcher", ray_actor_options={"num_cpus": 0.25}, max_ongoing_requests=8)
class SampleMatcherDeployment:
    """Owns the shard actors of the sample index (``actors/sample_shards.py``); reloads when it changes."""

    def __init__(self) -> None:
        self.settings = Settings()
        self.matcher: ShardedSampleMatcher | None = None
        self.reason: str | None = None
        self._load()

    def _load(self) -> None:
        index_dir = self.settings.resolved_sample_index
        if reason := missing_index(index_dir):
            self.matcher, self.reason = None, reason
            return
        self.matcher, self.reason = ShardedSampleMatcher(index_dir, self.settings.sample_shards), None

    def find(self, sources: list[tuple[str, np.ndarray]], sample_rate: int, threshold: float) -> tuple:
        if self.matcher is None or self.matcher.version != index_version(self.settings.resolved_sample_index):
            self._load()
        if self.matcher is None:
            raise ModelUnavailableError(self.reason or "no sample index")
        return self.matcher.find(sources, sample_rate, threshold)

    def info(self) -> dict:
        if self.matcher is None:
            self._load()
        m = self.matcher
        return {
            "ready": m is not None,
            "reason": self.reason,
            "description": m.description if m else "",
            "version": m.version if m else "",
            "shard_sizes": m.shard_sizes if m else [],
        }


class RemoteSeparator:
    """Separator protocol over a DeploymentHandle."""

    def __init__(self, handle: DeploymentHandle, backend: BackendInfo) -> None:
        self.handle, self.backend = handle, backend

    def separate(self, clip: AudioClip, progress: ProgressFn = no_progress) -> Separation:
        out = self.handle.separate.remote(clip.samples, clip.sample_rate).result()
        progress(1.0)
        return Separation(out["stems"], BackendInfo(**out["backend"]))


class RemoteTagger:
    """Tagger protocol over a DeploymentHandle."""

    def __init__(self, handle: DeploymentHandle, backend: BackendInfo) -> None:
        self.handle, self.backend = handle, backend

    def tag(self, mono: np.ndarray, sr: int, source: str = "mix") -> list[Instrument]:
        return self.tag_many([(mono, sr, source)])[0]

    def tag_many(self, requests: list[tuple[np.ndarray, int, str]]) -> list[list[Instrument]]:
        """Send every request at once, so the deployment's @serve.batch can group them."""
        pending = [self.handle.tag.remote(mono, sr, source) for mono, sr, source in requests]
        return [[Instrument(**i) for i in response.result()] for response in pending]


class RemoteSampleMatcher:
    """SampleMatcher protocol over a DeploymentHandle."""

    backend = SAMPLE_BACKEND

    def __init__(self, handle: DeploymentHandle, description: str, version: str) -> None:
        self.handle, self.description, self.version = handle, description, version

    def find(self, sources: list[tuple[str, np.ndarray]], sample_rate: int, threshold: float) -> tuple:
        return self.handle.find.remote(sources, sample_rate, threshold).result()


@serve.deployment(name="JobRunner", max_ongoing_requests=1)
class JobRunner:
    """Consumes the Redis queue in a background thread; reports queue depth for autoscaling."""

    def __init__(
        self,
        service_config: dict,
        separator: DeploymentHandle,
        tagger: DeploymentHandle,
        sample_matcher: DeploymentHandle,
    ) -> None:
        self.services = Services.from_settings(ServiceSettings(**service_config), run_migrations=False)
        configure_logging(self.services.settings.log_format)
        self.separator, self.tagger, self.sample_matcher = separator, tagger, sample_matcher
        consumer = f"{serve.get_replica_context().replica_id.unique_id}-{os.getpid()}"
        self.worker = JobWorker(self.services, self._analyze, consumer)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=run_forever, args=(self.worker, self._stop.is_set), daemon=True)
        self._thread.start()

    def _analyze(self, path, stages, observer):
        sep_info = self.separator.info.remote().result()
        tag_info = self.tagger.info.remote().result()
        separator = (RemoteSeparator(self.separator, BackendInfo(**sep_info["backend"])), sep_info["warning"])
        tagger = (
            (RemoteTagger(self.tagger, BackendInfo(**tag_info["backend"])), tag_info["reason"])
            if tag_info["ready"]
            else (None, tag_info["reason"])
        )
        match_info = self.sample_matcher.info.remote().result()
        sample_matcher = (
            (RemoteSampleMatcher(self.sample_matcher, match_info["description"], match_info["version"]), None)
            if match_info["ready"]
            else (None, match_info["reason"])
        )
        pipeline = Pipeline(
            Settings(), stages or None, separator=separator, tagger=tagger, sample_matcher=sample_matcher
        )
        return pipeline.analyze(path, observer)

    def record_autoscaling_stats(self) -> dict[str, float]:
        """Custom metric read by :func:`audiowave.ray_apps.autoscaling.queue_depth_policy`."""
        return {"queue_depth": float(self.services.queue.stats()["depth"])}

    def check_health(self) -> None:
        if not self._thread.is_alive():
            raise RuntimeError("job loop stopped")

    def stats(self) -> dict:
        return {"consumer": self.worker.consumer, "alive": self._thread.is_alive()}

    def __del__(self) -> None:
        self._stop.set()


@serve.deployment(name="Ingress", max_ongoing_requests=100)
@serve.ingress()
class Ingress:
    """The public FastAPI app (``audiowave.service.api``)."""

    def __init__(
        self, service_config: dict, job_runner: DeploymentHandle, report_writer: DeploymentHandle | None = None
    ) -> None:
        self.services = Services.from_settings(ServiceSettings(**service_config))  # runs migrations once
        configure_logging(self.services.settings.log_format)
        self.job_runner = job_runner  # bound here so that the application graph deploys the runners
        if report_writer is not None:
            self.services.__dict__["prose_writer"] = RemoteProseWriter(report_writer)

    def __serve_build_asgi_app__(self):
        return create_app(self.services)


@serve.deployment(name="ReportWriter", max_ongoing_requests=8)
class ReportWriterDeployment:
    """Report prose: vLLM on this replica's GPU share (``llm_engine=vllm``, model directory ``llm_model``) or
    a client of an OpenAI-compatible server (``llm_engine=openai``). The ingress checks every claim."""

    def __init__(self, service_config: dict) -> None:
        self.writer = load_prose_writer(ServiceSettings(**service_config))

    def complete(self, messages: list[dict[str, str]]) -> str:
        return self.writer.complete(messages)

    def name(self) -> str:
        return self.writer.name


class RemoteProseWriter:
    """ProseWriter protocol over the ReportWriter deployment."""

    def __init__(self, handle: DeploymentHandle) -> None:
        self.handle = handle
        self.name = "ReportWriter deployment"

    def complete(self, messages: list[dict[str, str]]) -> str:
        return self.handle.complete.remote(messages).result(timeout_s=120)


DEPLOYMENT_OPTIONS = (
    "num_replicas",
    "max_ongoing_requests",
    "max_queued_requests",
    "ray_actor_options",
    "autoscaling_config",
    "health_check_period_s",
    "graceful_shutdown_timeout_s",
)


def build_app(args: dict | None = None, deployments: list[dict] | None = None) -> serve.Application:
    """Application builder (``import_path: audiowave.ray_apps.app:build_app`` in serve_config.yaml).

    ``args`` holds service settings (database_url, redis_url, storage_url, ...); unset ones come from
    the ``AUDIOWAVE_*`` environment of the replicas. ``deployments`` are the per-deployment entries of
    serve_config.yaml, applied here when the app is started from Python (``audiowave serve``);
    ``serve run serve_config.yaml`` applies them itself.
    """
    config = ServiceSettings(**(args or {})).model_dump()
    options = {d["name"]: {k: v for k, v in d.items() if k in DEPLOYMENT_OPTIONS} for d in deployments or []}

    def configured(deployment):
        return deployment.options(**options.get(deployment.name, {}))

    separator = configured(SeparatorDeployment).bind()
    tagger = configured(TaggerDeployment).bind()
    sample_matcher = configured(SampleMatcherDeployment).bind()
    runner = configured(JobRunner).bind(config, separator, tagger, sample_matcher)
    writer = None
    if config["llm_engine"] != "none":  # vLLM takes a quarter GPU; a client of a remote server needs none
        gpus = 0.25 if config["llm_engine"] == "vllm" else 0.0
        writer = ReportWriterDeployment.options(ray_actor_options={"num_gpus": gpus, "num_cpus": 0.25})
        writer = configured(writer).bind(config)
    return configured(Ingress).bind(config, runner, writer)
