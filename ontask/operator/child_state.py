"""Children as the API server returns them, read: a job's state from its conditions, whether a
predictor Deployment has rolled a version out, whether a body already holds what the operator
wants (fields the server added aside), and whether KServe's deployment mode must change. Pure."""

from __future__ import annotations

from typing import Any, Optional

from ontask.api import GROUP
from ontask.operator.manifests import MODE_ANNOTATION
from ontask.operator.reconcile import JobState


def condition_state(conditions: list[dict[str, Any]]) -> tuple[JobState, str]:
    """(state, failure message) of a job from its conditions: Succeeded (or Complete), Failed, else
    Running."""
    for c in conditions or []:
        if c.get("status") == "True" and c.get("type") in ("Succeeded", "Complete"):
            return "Succeeded", c.get("message", "")
        if c.get("status") == "True" and c.get("type") == "Failed":
            return "Failed", c.get("message", "") or c.get("reason", "")
    return "Running", ""


# KServe (v0.15 on) renamed the deployment modes, and its webhook rewrites the old names in place:
# the same mode under either name is no difference, or the operator would patch it back forever.
_SAME_MODE = {"RawDeployment": "Standard", "Serverless": "Knative"}


def contains(have: Any, want: Any) -> bool:
    """Whether `have` has every field of `want` with the same value (fields a server added, such as
    defaults, do not count as a difference).

    Example:
        >>> contains({"mode": "Standard", "x": 1}, {"mode": "RawDeployment"})
        True
        >>> contains({"c": [{"name": "a", "imagePullPolicy": "Always"}]}, {"c": [{"name": "a"}]})
        True
    """
    if isinstance(want, dict):
        return isinstance(have, dict) and all(contains(have.get(k), v) for k, v in want.items())
    if isinstance(want, list):  # the API server defaults fields inside list items (containers, ports)
        return isinstance(have, list) and len(have) == len(want) and all(map(contains, have, want))
    return have == want or (isinstance(want, str) and _SAME_MODE.get(want) == have)


def mode_changed(current: dict[str, Any], body: dict[str, Any]) -> bool:
    """Whether an existing InferenceService runs in another KServe deployment mode than the one
    wanted (the chart's kserve.deploymentMode changed): KServe's webhook refuses that on update.

    Example:
        >>> want = {"metadata": {"annotations": {MODE_ANNOTATION: "Serverless"}}}
        >>> mode_changed({"status": {"deploymentMode": "Standard"}}, want)
        True
        >>> mode_changed({"status": {"deploymentMode": "Knative"}}, want)
        False
        >>> mode_changed({}, want)  # KServe has not reconciled it yet: an update is allowed
        False
    """
    had = (current.get("status") or {}).get("deploymentMode")
    want = (body["metadata"].get("annotations") or {}).get(MODE_ANNOTATION)
    return bool(had and want) and had != want and _SAME_MODE.get(want, want) != _SAME_MODE.get(had, had)


def rolled_out(deployment: dict[str, Any], model_version: Optional[str]) -> bool:
    """Whether a predictor Deployment serves `model_version` on every replica: its pod template
    carries that version (KServe copies the InferenceService's annotations there) and it passes
    `kubectl rollout status`'s rule (observed its generation, every replica updated, none of
    the old left, every updated one available).

    >>> d = {"metadata": {"generation": 2}, "spec": {"replicas": 1, "template": {"metadata":
    ...      {"annotations": {"ontask.dev/model-version": "v2"}}}}, "status": {"observedGeneration": 2,
    ...      "replicas": 2, "updatedReplicas": 1, "availableReplicas": 1}}
    >>> rolled_out(d, "v2")  # an old pod is still there
    False
    >>> d["status"]["replicas"] = 1
    >>> rolled_out(d, "v2"), rolled_out(d, "v3")
    (True, False)
    """
    meta, spec, status = (deployment.get(k) or {} for k in ("metadata", "spec", "status"))
    template = ((spec.get("template") or {}).get("metadata") or {}).get("annotations") or {}
    if template.get(f"{GROUP}/model-version") != model_version:
        return False
    if (status.get("observedGeneration") or 0) < (meta.get("generation") or 0):
        return False
    updated = status.get("updatedReplicas") or 0
    return (
        updated >= spec.get("replicas", 1)
        and (status.get("replicas") or 0) <= updated
        and (status.get("availableReplicas") or 0) >= updated
    )
