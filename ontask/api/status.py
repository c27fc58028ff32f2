"""Observed state of a TaskClassifier, written by the operator: phase, versions, counts,
metrics and conditions."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from ontask.api.wire import Model

Phase = Literal["Pending", "Bootstrapping", "Training", "Serving", "Syncing", "Failed"]
ConditionType = Literal["Ready", "JudgeServing", "StudentServing", "Trained", "FeedbackConnected"]


class Condition(Model):
    """A condition shaped as Kubernetes' metav1.Condition (its fields, required ones and rules), so
    kubectl wait, kstatus and GitOps tools read it as they read any other."""

    type: ConditionType = Field(..., description="Condition type.")
    status: Literal["True", "False", "Unknown"] = Field(..., description="True, False or Unknown.")
    observed_generation: Optional[int] = Field(
        None, ge=0, description="metadata.generation of the spec the condition was set from."
    )
    last_transition_time: str = Field(
        ...,
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$",
        description="RFC 3339 time the status last changed.",
    )
    reason: str = Field(
        ...,
        min_length=1,
        max_length=1024,
        pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
        description="CamelCase reason of the condition's last change, for programs.",
    )
    message: str = Field("", max_length=32768, description="Human-readable detail (may be empty).")

    @model_validator(mode="before")
    @classmethod
    def _fill_what_older_writers_left_out(cls, data: Any) -> Any:
        """A condition read back that lacks a required field (written by hand, or by an older
        operator) is read, not refused: a status the operator cannot parse would stop its
        classifier. What it writes always has every field."""
        if isinstance(data, dict):
            data = dict(data)
            if not data.get("lastTransitionTime") and not data.get("last_transition_time"):
                data["lastTransitionTime"] = "1970-01-01T00:00:00Z"
            if not data.get("reason"):
                data["reason"] = "Unknown"
        return data


class FeedbackCounts(Model):
    """Corrections seen by the feedback daemon."""

    received: int = Field(0, ge=0, description="Valid corrections received.")
    pending: int = Field(0, ge=0, description="Corrections waiting for the next cycle.")
    rejected: int = Field(0, ge=0, description="Corrections sent to the dead-letter topic.")


class Metrics(Model):
    """Evaluation of the serving version."""

    accuracy: Optional[float] = Field(
        None, ge=0.0, le=1.0, description="The serving version's accuracy on the regression set (held-out rows)."
    )
    edge_case_accuracy: Optional[float] = Field(
        None,
        ge=0.0,
        le=1.0,
        description="The last cycle's candidate on its held-out corrections (whole corrections never trained on).",
    )
    p50_latency_ms: Optional[float] = Field(
        None,
        ge=0.0,
        description="The serving version's median latency of one answer in ms, as the last cycle's evaluation "
        "measured it (one request at a time, on the cycle job's hardware).",
    )


class TaskClassifierStatus(Model):
    """Observed state of a TaskClassifier, written by the operator."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    phase: Phase = Field("Pending", description="Pending|Bootstrapping|Training|Serving|Syncing|Failed.")
    model_version: Optional[str] = Field(None, description="Version the student InferenceService serves.")
    candidate_version: Optional[str] = Field(None, description="Version in canary, if any.")
    canary_since: Optional[str] = Field(None, description="When the candidate's canary revision became ready.")
    cycle: int = Field(0, ge=0, description="Completed feedback sync cycles.")
    feedback: FeedbackCounts = Field(default_factory=FeedbackCounts, description="Correction counts.")
    metrics: Metrics = Field(default_factory=Metrics, description="Evaluation metrics.")
    conditions: list[Condition] = Field(default_factory=list, description="Current conditions.")
    observed_generation: Optional[int] = Field(None, description="Generation of the spec last reconciled.")
    warnings: list[str] = Field(default_factory=list, description="Deprecated spec fields in use.")
    store_uri: Optional[str] = Field(
        None,
        description="Where the classifier's models, datasets and feedback lie: its namespace's folder of the "
        "store (s3://<bucket>/namespaces/<namespace>), or the store's top for a classifier from before namespaces "
        "were in the layout. Set on its first pass, then kept.",
    )
