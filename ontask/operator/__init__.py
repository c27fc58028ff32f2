"""The ontask operator: kopf handlers for TaskClassifier and their helpers."""

from ontask.operator.runner import run_operator

__all__ = ["run_operator"]
