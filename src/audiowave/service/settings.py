"""Service configuration (environment prefix ``AUDIOWAVE_``), with local single-machine defaults."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from audiowave.config import get_settings
from audiowave.service.crypto import Keyring


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUDIOWAVE_", extra="ignore")

    database_url: str = Field("", description="SQLAlchemy URL; default: SQLite file under AUDIOWAVE_HOME")
    redis_url: str = Field("", description="Redis for the job queue and rate limits; `audiowave serve` starts one")
    storage_url: str = Field("", description="fsspec URL for objects: a directory (default) or s3://bucket/prefix")
    s3_endpoint_url: str = Field("", description="S3-compatible endpoint (R2, MinIO...), empty for AWS")
    jwt_secret: str = Field("", description="HS256 secret for bearer tokens; generated per home if empty")
    max_upload_mb: float = 200.0
    max_duration_s: float = 900.0
    rate_limit: str = Field("60/minute", description="Per-key request limit (limits syntax)")
    submit_rate_limit: str = Field("20/minute", description="Per-key limit on new jobs")
    max_attempts: int = Field(3, ge=1, description="Tries before a job goes to the dead-letter queue")
    retry_base_s: float = Field(2.0, gt=0, description="Backoff: base * 2**(attempt-1) seconds")
    claim_idle_s: float = Field(60.0, gt=0, description="A job unacknowledged this long is re-delivered")
    max_pending_jobs: int = Field(100, ge=1, description="Backpressure: above this, submissions get 503")
    retention_days: float = 7.0
    encrypt_at_rest: bool = Field(True, description="Encrypt stored uploads and derived files (AES-256-GCM)")
    encryption_keys: str = Field(
        "", description="Keys from configuration, 'id:base64[,id:base64...]', the first active; else keyring_file"
    )
    keyring_file: str = Field("", description="Key file {active, keys}; default <home>/keyring.json, made if absent")
    cost_cpu_hour: float = Field(0.048, ge=0, description="Price of one CPU core-hour, for the cost metrics")
    cost_gpu_hour: float = Field(2.5, ge=0, description="Price of one GPU-hour (0 on CPU-only deployments)")
    log_format: Literal["json", "text"] = Field("json", description="Service logs: JSON lines with job ids, or text")
    public_url: str = Field("", description="Base URL put in links; default: relative links")
    llm_engine: Literal["none", "openai", "vllm"] = Field(
        "none", description="Report prose: none, an OpenAI-compatible server (llm_url) or vLLM on a GPU (llm_model)"
    )
    llm_url: str = Field("", description="OpenAI-compatible base URL (llama.cpp's llama-server, vLLM's server, ...)")
    llm_model: str = Field("", description="Model name at llm_url, or the local model directory for vLLM")
    llm_api_key: str = Field("", description="Bearer key for llm_url, if it wants one")

    @property
    def home(self) -> Path:
        return get_settings().home

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'audiowave.db'}"

    def resolved_storage_url(self) -> str:
        return self.storage_url or str(self.home / "objects")

    def resolved_keyring_file(self) -> Path:
        return Path(self.keyring_file) if self.keyring_file else self.home / "keyring.json"

    def keyring(self) -> Keyring | None:
        """The keys for encryption at rest (None when it is switched off)."""
        if not self.encrypt_at_rest:
            return None
        if self.encryption_keys:
            return Keyring.parse(self.encryption_keys)
        return Keyring.load_or_create(self.resolved_keyring_file())


@lru_cache(maxsize=1)
def get_service_settings() -> ServiceSettings:
    return ServiceSettings()
