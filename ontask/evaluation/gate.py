"""The promotion gate: a cycle's candidate against the serving model on the same dataset version,
and the typed decision that the cycle job stores and the operator reads back."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from ontask.store import NotFound, Store
from ontask.store_paths import evaluation_key

# Slices whose rows the gate pools: the held-out rows and the corrected edge cases.
GATED_SLICES = ("val", "corrections")


class Decision(BaseModel):
    """Promote or keep, and why."""

    model_config = ConfigDict(extra="forbid")

    promote: bool
    gain: float = Field(description="Candidate's pooled accuracy minus the serving model's, each as served.")
    candidate_accuracy: float
    serving_accuracy: float
    min_gain: float = Field(description="spec.serving.promoteIfGain when decided.")
    reason: str

    def overruled(self, reason: str) -> "Decision":
        """The same figures, not promoted, for a reason found after the gate (a failed canary)."""
        return self.model_copy(update={"promote": False, "reason": reason})


class Evaluation(BaseModel):
    """What `classifiers/<c>/evaluations/<version>.json` holds: each model's metrics per slice
    (ontask.evaluation.metrics.summary) and the decision."""

    model_config = ConfigDict(extra="forbid")

    candidate: dict[str, Any]
    serving: dict[str, Any]
    decision: Decision

    def edge_case_accuracy(self) -> Optional[float]:
        """The candidate's accuracy on the corrected edge cases, when the dataset had any."""
        corrections = self.candidate.get("corrections")
        return corrections["accuracy"] if corrections else None


def pooled_accuracy(metrics: dict[str, Any]) -> float:
    """Accuracy over the gated slices together, weighted by their rows.

    >>> pooled_accuracy({"val": {"accuracy": 0.9, "n": 90}, "corrections": {"accuracy": 0.5, "n": 10}})
    0.86
    """
    parts = [metrics[s] for s in GATED_SLICES if s in metrics]
    n = sum(p["n"] for p in parts)
    return round(sum(p["accuracy"] * p["n"] for p in parts) / n, 12) if n else 0.0


def decide(candidate: dict[str, Any], serving: dict[str, Any], min_gain: float) -> Decision:
    """Promote when the candidate's pooled accuracy beats the serving model's by at least
    min_gain (spec.serving.promoteIfGain). Both are evaluations of the answers as served
    (ontask.evaluation.evaluate): a student's hybrid with the verifier where it has one, so a
    candidate whose student gained nothing that its hybrid keeps is not promoted."""
    c, s = pooled_accuracy(candidate), pooled_accuracy(serving)
    gain = c - s
    promote = gain >= min_gain
    reason = f"accuracy {c:.3f} vs {s:.3f} (gain {gain:+.3f} {'>=' if promote else '<'} promoteIfGain {min_gain:+.3f})"
    return Decision(
        promote=promote, gain=gain, candidate_accuracy=c, serving_accuracy=s, min_gain=min_gain, reason=reason
    )


def write_evaluation(store: Store, prefix: str, version: str, evaluation: Evaluation) -> str:
    """Store the evaluation beside the classifier's models; returns its key."""
    key = evaluation_key(prefix, version)
    store.put_bytes(key, evaluation.model_dump_json(indent=1).encode(), "application/json")
    return key


def read_evaluation(store: Store, prefix: str, version: str) -> Optional[Evaluation]:
    """The stored evaluation of a version; None until its job wrote it."""
    try:
        return Evaluation.model_validate_json(store.get_bytes(evaluation_key(prefix, version)))
    except NotFound:
        return None
