"""KServe predictors of the one-pass student (ontask.models.classifier), the judge, and the
disagreement loop.

Names are imported on first use: the request schema is light (the capture agent uses it on a
user's desktop), the predictors pull in torch and transformers."""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "DisagreementLoop": "disagreement",
    "judge_correction": "disagreement",
    "Instance": "schema",
    "Prediction": "schema",
    "RequestError": "schema",
    "instances_from_v1": "schema",
    "instances_from_v2": "schema",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'ontask.serving' has no attribute {name!r}")
    return getattr(importlib.import_module(f"ontask.serving.{_HOMES[name]}"), name)
