"""kopf handlers for TaskClassifier.

For now the operator validates each classifier and records what it found in the status;
launching jobs and InferenceServices builds on this (see the open issues).
"""

from __future__ import annotations

import logging
from typing import Any

import kopf
from pydantic import ValidationError

from ontask.operator.conditions import set_condition
from ontask.spec import GROUP, PLURAL, VERSION, TaskClassifierSpec, TaskClassifierStatus

log = logging.getLogger("ontask.operator")


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    """Operator settings: our own finalizer name, status stored in annotations not in status."""
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)


def _validate(spec: dict[str, Any], status: dict[str, Any], generation: int) -> tuple[dict[str, Any], list[str]]:
    """The status to write for this spec, and the problems found (empty when it is runnable)."""
    current = TaskClassifierStatus.model_validate(status or {})
    try:
        parsed = TaskClassifierSpec.model_validate(spec)
        problems = parsed.consistency_problems()
    except ValidationError as e:
        problems = [f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()]
    if problems:
        current.phase = "Failed"
        current.conditions = set_condition(current.conditions, "Ready", "False", "InvalidSpec", "; ".join(problems))
    else:
        if current.phase == "Failed":
            current.phase = "Pending"
        current.conditions = set_condition(current.conditions, "Ready", "False", "Pending", "accepted; waiting to start")
    current.observed_generation = generation
    return current.wire(), problems


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL, field="spec")
def reconcile(spec: kopf.Spec, status: kopf.Status, meta: kopf.Meta, patch: kopf.Patch, body: kopf.Body, **_: Any) -> None:
    """Validate the spec and record the result in status (and as an Event when it is unusable)."""
    new_status, problems = _validate(dict(spec), dict(status), int(meta.get("generation") or 0))
    patch.status.update(new_status)
    if problems:
        kopf.warn(body, reason="InvalidSpec", message="; ".join(problems))
        log.warning("classifier %s/%s is not runnable: %s", meta.get("namespace"), meta.get("name"), problems)
    else:
        kopf.info(body, reason="Accepted", message="spec accepted")
