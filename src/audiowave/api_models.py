"""Request and response models of the HTTP API, shared by the server (``service/api.py``) and the SDK
(``audiowave.client``); pydantic only, so a client needs neither FastAPI nor the service."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from audiowave.recipes.result import Recipe
from audiowave.schema import AnalysisResult

FINAL_STATUSES = ("done", "failed", "dead")
FEEDBACK_FIELDS = (
    "one of tempo, key, meter, chords, structure, recipe, instrument:<label>[@<source>], "
    "effect:<effect>[@<source>], sample:<name>"
)


class JobView(BaseModel):
    job_id: str
    kind: Literal["analysis", "recipe"] = "analysis"
    source_job: str = Field("", description="for a recipe made from an analysis: that analysis' job id")
    status: str = Field(description="queued, running, retrying, done, failed (bad input) or dead (gave up)")
    stage: str
    percent: float
    priority: str
    attempts: int
    filename: str
    error: str = ""
    created_at: str
    finished_at: str | None = None
    links: dict[str, str] = Field(default_factory=dict)
    result: dict | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINAL_STATUSES

    def analysis(self) -> AnalysisResult:
        """The typed analysis result of a finished analysis job."""
        if self.kind != "analysis" or self.result is None:
            raise ValueError(f"job {self.job_id} has no analysis result ({self.kind}, {self.status})")
        return AnalysisResult.model_validate(self.result)

    def recipe(self) -> Recipe:
        """The typed recipe of a finished recipe job."""
        if self.kind != "recipe" or self.result is None:
            raise ValueError(f"job {self.job_id} has no recipe ({self.kind}, {self.status})")
        return Recipe.model_validate(self.result)


class FeedbackIn(BaseModel):
    job_id: str
    field: str = Field(min_length=1, max_length=100, description=FEEDBACK_FIELDS)
    verdict: Literal["correct", "wrong", "missing", "rating"]
    value: dict = Field(default_factory=dict, description="the corrected value, e.g. {'bpm': 128}")
    comment: str = Field("", max_length=2000)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"


class KeyInfo(BaseModel):
    prefix: str
    created_at: str
    revoked: bool


class AccountView(BaseModel):
    user_id: str
    name: str
    created_at: str
    contribute_to_library: bool = Field(description="uploads may be added to shared sample libraries (opt-in)")
    contribute_since: str | None = None
    jobs: int
    keys: list[KeyInfo]


class ConsentIn(BaseModel):
    contribute_to_library: bool


class ErasureView(BaseModel):
    erased: str
    jobs: int
    objects_removed: int
    objects_left: int = Field(description="objects still listed under the user's prefix afterwards (0)")
