"""The TaskClassifier's student InferenceService (spec.serving): replicas, promotion of
candidates, and what a predictor accepts."""

from __future__ import annotations

from typing import ClassVar, Optional

from pydantic import Field, model_validator

from ontask.api.wire import Model, ObjectName

# The environment variable that carries the predictors' bearer token (spec.serving.tokenSecretRef's
# key `token`) into every process that serves or calls them: the operator sets it, the predictors,
# the data Job's and the student's judge clients and `ontask agent` read it.
PREDICT_TOKEN_ENV = "ONTASK_PREDICT_TOKEN"


class ServingSpec(Model):
    """The student InferenceService and promotion of candidates."""

    cel_rules: ClassVar[list[dict[str, str]]] = [
        {
            "rule": "self.maxReplicas >= self.minReplicas",
            "message": "maxReplicas must be >= minReplicas",
            "fieldPath": ".maxReplicas",
        }
    ]

    min_replicas: int = Field(1, ge=0, le=1000, description="Minimum predictor replicas.")
    max_replicas: int = Field(4, ge=1, le=1000, description="Maximum predictor replicas.")
    canary_percent: int = Field(10, ge=0, le=100, description="Traffic share of a candidate in canary.")
    promote_if_gain: float = Field(
        0.01,
        ge=-1.0,
        le=1.0,
        description="Minimum accuracy gain over the serving version on the cycle's held-out corrections (whole "
        "corrections never trained on, with their variants) for promotion.",
    )
    max_regression: float = Field(
        0.02,
        ge=0.0,
        le=1.0,
        description="Largest accuracy loss on the regression set (the classifier's own validation rows) that a "
        "promoted candidate may have against the serving version; a candidate significantly worse there by a "
        "paired test on the same rows is refused too. 1.0 turns the check off.",
    )
    canary_minutes: float = Field(
        10.0,
        ge=0.0,
        le=10080.0,
        description="How long a ready canary serves its share (Serverless mode) before it replaces the serving "
        "version.",
    )
    judge_below_confidence: float = Field(
        0.7,
        ge=0.5,
        le=1.0,
        description="Predictions less confident than this are checked by the judge in the background.",
    )
    correction_min_confidence: float = Field(
        0.8,
        ge=0.5,
        le=1.0,
        description="A judge that disagrees at least this confidently publishes a correction (source judge).",
    )
    max_image_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024, description="Largest screenshot a predictor accepts, in bytes."
    )
    max_image_pixels: int = Field(
        40_000_000,
        ge=1024,
        le=268_435_456,
        description="Largest screenshot a predictor accepts, in pixels (width x height).",
    )
    max_request_pixels: int = Field(
        64_000_000,
        ge=1024,
        le=1_073_741_824,
        description="Pixels a predictor decodes for one request, all its screenshots together; a request "
        "over it is refused with 400 (about 190 MB of decoded RGB at the default).",
    )
    max_concurrent_requests: int = Field(
        4, ge=1, le=1024, description="Requests a predictor replica decodes and scores at once."
    )
    max_queued_requests: int = Field(
        32,
        ge=0,
        le=100_000,
        description="Requests waiting beyond maxConcurrentRequests; more are answered 429 with Retry-After.",
    )
    max_queue_seconds: float = Field(
        10.0,
        gt=0.0,
        le=3600.0,
        description="How long a request waits for one of the maxConcurrentRequests slots; one that waited "
        "longer is answered 503 with Retry-After instead of holding its client.",
    )
    token_secret_ref: Optional[ObjectName] = Field(
        None,
        description="Secret in the classifier's namespace whose key `token` is a bearer token: the predictors "
        "then refuse (401) every request but a health probe without `Authorization: Bearer <token>`; the student's "
        "judge client and `ontask agent` send it from ONTASK_PREDICT_TOKEN. Unset: no authentication (reach is "
        "then the chart's NetworkPolicy's to limit).",
    )
    model_max_pixels: Optional[int] = Field(
        None,
        ge=3136,
        le=12_845_056,
        description="Pixels the student sees (the processor's max_pixels); unset keeps the model's own setting. "
        "About 600000 keeps a 3B student under 100 ms on one GPU.",
    )

    @model_validator(mode="after")
    def _replica_bounds(self) -> "ServingSpec":
        if self.max_replicas < self.min_replicas:
            raise ValueError("maxReplicas must be >= minReplicas")
        return self
