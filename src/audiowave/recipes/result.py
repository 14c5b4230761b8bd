"""The recipe document returned by ``audiowave suggest`` and ``POST /v1/suggest`` (``recipe.json``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from audiowave.recipes.distance import Scores
from audiowave.recipes.patch import Patch, SampleSource
from audiowave.schema import BackendInfo

RECIPE_SCHEMA_VERSION = "1.2.0"  # 1.1: sample candidates name their sample; SampleSource.relation; 1.2: Patch.noise


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecipeScores(_Model):
    """Distances to the original span, taken at the search rate (22.05 kHz: content up to 11 kHz)."""

    spectral: float = Field(description="multi-resolution log-spectral distance + spectral convergence (0 = same)")
    envelope: float = Field(description="mean loudness-contour difference in dB / 60 (0 = same)")
    pitch_cents: float | None = Field(None, description="mean f0 difference where both are pitched")
    similarity: float = Field(ge=0, le=1, description="exp(-(spectral + envelope)); 1 = indistinguishable")

    @classmethod
    def of(cls, s: Scores) -> RecipeScores:
        return cls(spectral=s.spectral, envelope=s.envelope, pitch_cents=s.pitch_cents, similarity=s.similarity)


class Candidate(_Model):
    source: str
    loss: float = Field(description="spectral + envelope distance of the first guess (lower is better)")
    refined_loss: float | None = None
    sample: SampleSource | None = Field(None, description="for a sample candidate: the library sample it plays")


class SearchInfo(_Model):
    method: str = "CMA-ES (cma package) over the patch's continuous settings"
    evaluations: int
    seconds: float
    budget_s: float


class Span(_Model):
    start_s: float
    end_s: float
    stem: str = ""


class Recipe(_Model):
    schema_version: str = RECIPE_SCHEMA_VERSION
    backend: BackendInfo
    span: Span
    patch: Patch
    steps: list[str]
    initial: RecipeScores = Field(description="the best first guess, before the search")
    refined: RecipeScores = Field(description="the returned patch")
    candidates: list[Candidate]
    search: SearchInfo
    level_dbfs: float = Field(description="RMS level of the original span; renderings are matched to it")
    files: dict[str, str] = Field(default_factory=dict, description="preview, original, picture, vital preset")
    exports: dict[str, str] = Field(default_factory=dict, description="synth name -> what the export holds")
    warnings: list[str] = Field(default_factory=list)
