"""What a classifier's status says when the API server would not take one of its children."""

from __future__ import annotations

import json
from typing import Any

from kubernetes.client.exceptions import ApiException

from ontask.operator.reconcile import CHILD_RETRY_SECONDS, ChildError

# What serves each child's kind, for the message when the cluster does not serve it.
PROVIDERS = {
    "PyTorchJob": "the Kubeflow training operator",
    "TrainJob": "Kubeflow Trainer v2 (and JobSet)",
    "ClusterTrainingRuntime": "Kubeflow Trainer v2 (and JobSet)",
    "InferenceService": "KServe",
}


class ChildRefused(Exception):
    """The API server would not take a child; `error` says why, for the classifier's status."""

    def __init__(self, error: ChildError):
        super().__init__(error.message)
        self.error = error


def child_error(role: str, body: dict[str, Any], status: int, message: str) -> ChildError:
    """What a classifier says when the API server answered `status` (`message`, its own words) to
    writing its `role` child `body`.

    >>> child_error("train", {"kind": "PyTorchJob", "apiVersion": "kubeflow.org/v1"}, 404, "the server "
    ...     "could not find the requested resource").reason
    'CRDMissing'
    >>> child_error("judge", {"kind": "InferenceService", "apiVersion": "v"}, 403, "exceeded quota").reason
    'Forbidden'
    """
    kind, version = body.get("kind", "?"), body.get("apiVersion", "?")
    name = (body.get("metadata") or {}).get("name", "")
    if status == 404:
        # A create in the classifier's own namespace finds no such resource: the kind is not served.
        provider = PROVIDERS.get(kind)
        return ChildError(
            role,
            kind,
            "CRDMissing",
            f"the cluster does not serve {kind} ({version}), which the {role} runs as: install "
            + (f"{provider} (its CRD)" if provider else "its CRD")
            + f"; tried again every {CHILD_RETRY_SECONDS:.0f} s",
        )
    reason = {403: "Forbidden", 400: "Invalid", 422: "Invalid"}.get(status, "APIError")
    return ChildError(role, kind, reason, f"{kind} {name}: the API server answered {status}: {message}")


def api_message(e: ApiException) -> str:
    """The API server's own message in an error (its Status body), else the HTTP reason."""
    try:
        return json.loads(e.body)["message"]
    except (TypeError, ValueError, KeyError):
        return str(e.reason)
