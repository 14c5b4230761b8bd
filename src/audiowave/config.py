"""Settings read from the environment (prefix ``AUDIOWAVE_``) with safe local defaults."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path.home() / ".audiowave"


class Settings(BaseSettings):
    """Process-wide configuration; every field can be set as ``AUDIOWAVE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="AUDIOWAVE_", extra="ignore")

    home: Path = Field(default_factory=_default_home, description="Root for models, caches and outputs.")
    models_dir: Path | None = Field(default=None, description="User-supplied weights; default <home>/models.")
    max_duration_s: float = Field(default=900.0, gt=0, description="Longest accepted input, in seconds.")
    min_sample_rate: int = Field(default=8000, description="Lowest accepted native sample rate.")
    max_sample_rate: int = Field(default=384000, description="Highest accepted native sample rate.")
    analysis_sample_rate: int = Field(default=44100, description="Rate every stage works at.")
    separation_chunk_s: float = Field(default=30.0, gt=1, description="Chunk length for model separation.")
    device: str = Field(default="cpu", description="torch device for model-backed stages.")
    tagger: Literal["auto", "panns", "audiowave"] = Field(
        default="auto", description="Instrument tagger: PANNs CNN14 when installed (auto), or one by name."
    )
    sample_index: Path | None = Field(default=None, description="Sample index directory; default <home>/index.")
    sample_threshold: float = Field(default=0.74, ge=0, le=1, description="Least confidence of a sample match.")
    sample_search_stems: bool = Field(
        default=False,
        description="Also search separated stems for samples (off: on the HPSS fallback stems precision fell to 0.38).",
    )
    sample_shards: int = Field(default=1, ge=1, description="Matcher actors the service splits the index over.")

    @property
    def resolved_models_dir(self) -> Path:
        return self.models_dir or (self.home / "models")

    @property
    def calibration_file(self) -> Path:
        """Installed confidence calibration (``audiowave calibrate``); absent = raw confidences."""
        return self.home / "calibration.json"

    @property
    def resolved_sample_index(self) -> Path:
        return self.sample_index or (self.home / "index")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process (cached; call ``get_settings.cache_clear()`` after changing env)."""
    return Settings()
