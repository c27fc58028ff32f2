"""The hybrid a served model answers with: P = w * P_student + (1 - w) * P_verifier, with the
student's weight w recorded beside the model (HybridFit, in ontask-hybrid.json) when `ontask
train` fitted it (ontask.evaluation.hybrid fits it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Sequence

from pydantic import BaseModel, Field

# Beside config.json in every model folder that `ontask train` writes.
HYBRID_FILE = "ontask-hybrid.json"


def mix(p_student: Sequence[float], p_verifier: Sequence[float], w: float) -> list[float]:
    return [w * s + (1 - w) * v for s, v in zip(p_student, p_verifier)]


class HybridFit(BaseModel):
    """The student's weight in the served answer, fitted after training on held-out rows."""

    student_weight: float = Field(ge=0.0, le=1.0)
    fitted_on: str = Field(description="the rows the weight was fitted on (dataset, version, split)")
    rows: int = Field(ge=0)
    accuracy: dict[str, float] = Field(description="student, verifier and hybrid on those rows")

    def combine(self, p_student: float, p_verifier: Optional[float]) -> float:
        """The served P(on-task): the student alone where the verifier had no evidence."""
        if p_verifier is None:
            return p_student
        return self.student_weight * p_student + (1 - self.student_weight) * p_verifier

    def write(self, folder: Path) -> None:
        (Path(folder) / HYBRID_FILE).write_text(self.model_dump_json(indent=1))

    @classmethod
    def read(cls, folder: Path) -> Optional["HybridFit"]:
        """The model's fit, or None for a model trained before hybrids were recorded (student alone)."""
        path = Path(folder) / HYBRID_FILE
        return cls.model_validate(json.loads(path.read_text())) if path.is_file() else None
