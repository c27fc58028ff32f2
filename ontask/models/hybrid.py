"""The hybrid a served model answers with: P = w * P_student' + (1 - w) * P_verifier, where
P_student' is the student's probability temperature-scaled (calibrated), with the student's
temperature and weight recorded beside the model (HybridFit, in ontask-hybrid.json) when `ontask
train` fitted them (ontask.evaluation.hybrid fits them)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, Field

# Beside config.json in every model folder that `ontask train` writes.
HYBRID_FILE = "ontask-hybrid.json"


def calibrated(p: float, temperature: float) -> float:
    """P(on-task) with its logit divided by `temperature` (above 1 softens an overconfident model).

    >>> round(calibrated(0.9, 2.0), 3), calibrated(0.9, 1.0)
    (0.75, 0.9)
    """
    if temperature == 1.0:
        return p
    q = min(max(p, 1e-6), 1 - 1e-6)
    return 1.0 / (1.0 + math.exp(-math.log(q / (1 - q)) / temperature))


def mix(p_a: float, p_b: float, w: float) -> float:
    """Two probabilities weighted: `w` of the first, the rest of the second (the hybrid's
    student and verifier, the bootstrap labeller's judge and verifier).

    >>> mix(0.9, 0.5, 0.25)
    0.6
    """
    return w * p_a + (1 - w) * p_b


class HybridFit(BaseModel):
    """The student's weight in the served answer, fitted after training on held-out rows."""

    student_weight: float = Field(ge=0.0, le=1.0)
    student_temperature: float = Field(
        1.0, gt=0.0, description="the student's logit is divided by this before the mix (fitted by log-loss)"
    )
    fitted_on: str = Field(description="the rows the weight was fitted on (dataset, version, split)")
    rows: int = Field(ge=0)
    accuracy: dict[str, float] = Field(description="student, verifier and hybrid on those rows")

    def combine(self, p_student: float, p_verifier: Optional[float]) -> float:
        """The served P(on-task): the calibrated student alone where the verifier had no evidence."""
        p = calibrated(p_student, self.student_temperature)
        if p_verifier is None:
            return p
        return mix(p, p_verifier, self.student_weight)

    def write(self, folder: Path) -> None:
        (Path(folder) / HYBRID_FILE).write_text(self.model_dump_json(indent=1))

    @classmethod
    def read(cls, folder: Path) -> Optional["HybridFit"]:
        """The model's fit, or None for a model trained before hybrids were recorded (student alone)."""
        path = Path(folder) / HYBRID_FILE
        return cls.model_validate(json.loads(path.read_text())) if path.is_file() else None
