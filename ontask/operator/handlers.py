"""kopf handlers for TaskClassifier: validate the spec, then apply the reconcile plan: create
(or adopt) the children it names, read their state back, and write the status and an Event
for every phase transition. The children (Jobs, PyTorchJobs, InferenceServices labelled as
ontask's) are watched into kopf indexes, so the reconcile timer reads them from memory: an idle
classifier costs the API server no request. A restarted operator resumes from what exists."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import kopf
from pydantic import ValidationError

from ontask.operator.conditions import set_condition
from ontask.operator.settings import OperatorSettings
from ontask.spec import GROUP, PLURAL, VERSION, TaskClassifierSpec, TaskClassifierStatus

log = logging.getLogger("ontask.operator")


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    """Operator settings: our own finalizer name, status stored in annotations not in status."""
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
    # How long a silent replica counts as alive (kopf's default 60 s; tests shorten it).
    settings.peering.lifetime = int(os.environ.get("ONTASK_PEERING_LIFETIME", "60"))


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
        current.conditions = set_condition(
            current.conditions, "Ready", "False", "Pending", "accepted; waiting to start"
        )
    current.observed_generation = generation
    return current.wire(), problems


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL, field="spec")
def reconcile(
    spec: kopf.Spec, status: kopf.Status, meta: kopf.Meta, patch: kopf.Patch, body: kopf.Body, **kwargs: Any
) -> None:
    """Validate the spec and record the result in status (and as an Event when it is unusable);
    a runnable spec then moves along its life (children, status, events)."""
    new_status, problems = _validate(dict(spec), dict(status), int(meta.get("generation") or 0))
    if problems:
        patch.status.update(new_status)
        kopf.warn(body, reason="InvalidSpec", message="; ".join(problems))
        log.warning("classifier %s/%s is not runnable: %s", meta.get("namespace"), meta.get("name"), problems)
        return
    kopf.info(body, reason="Accepted", message="spec accepted")
    _advance(spec, new_status, meta, patch, body, kwargs)


MANAGED = {"app.kubernetes.io/managed-by": "ontask"}


def _child(namespace: str, name: str, body: kopf.Body) -> dict:
    from ontask.operator.children import plain

    return {(namespace, name): plain(body)}


# The children, kept current by kopf's watch streams; kopf lists them all before any handler runs.
@kopf.index("batch", "v1", "jobs", labels=MANAGED)
def ontask_jobs(namespace: str, name: str, body: kopf.Body, **_: Any) -> dict:
    return _child(namespace, name, body)


@kopf.index("kubeflow.org", "v1", "pytorchjobs", labels=MANAGED)
def ontask_pytorchjobs(namespace: str, name: str, body: kopf.Body, **_: Any) -> dict:
    return _child(namespace, name, body)


@kopf.index("serving.kserve.io", "v1beta1", "inferenceservices", labels=MANAGED)
def ontask_inferenceservices(namespace: str, name: str, body: kopf.Body, **_: Any) -> dict:
    return _child(namespace, name, body)


@kopf.timer(GROUP, VERSION, PLURAL, interval=3.0, initial_delay=3.0)
def progress(
    spec: kopf.Spec, status: kopf.Status, meta: kopf.Meta, patch: kopf.Patch, body: kopf.Body, **kwargs: Any
) -> None:
    """Level-triggered: look at the children again (in memory) and move the status along."""
    if (status or {}).get("phase") == "Failed" and _validate(dict(spec), dict(status), 0)[1]:
        return
    _advance(spec, dict(status or {}), meta, patch, body, kwargs)


def _indexes(kwargs: dict[str, Any]):
    from ontask.operator.children import ChildIndexes

    if not OperatorSettings.from_env().watch_children:
        return None
    return ChildIndexes(kwargs["ontask_jobs"], kwargs["ontask_pytorchjobs"], kwargs["ontask_inferenceservices"])


def _advance(spec, status: dict[str, Any], meta, patch: kopf.Patch, body, kwargs: dict[str, Any]) -> None:
    from ontask.operator.children import KubeChildren, context_for
    from ontask.operator.reconcile import plan

    parsed = TaskClassifierSpec.model_validate(dict(spec))
    ctx = context_for(meta, parsed)
    children = KubeChildren(ctx, _indexes(kwargs))
    current = TaskClassifierStatus.model_validate(status)
    observed = children.observe(current)
    decided = plan(parsed, current, observed)
    for role in decided.ensure:
        children.ensure(role, decided.status, observed)
    # With the unset fields as null: a merge patch removes a field (a decided candidateVersion)
    # only when it says null.
    new = decided.status.model_dump(by_alias=True, mode="json")
    if new != TaskClassifierStatus.model_validate(status).model_dump(by_alias=True, mode="json"):
        patch.status.update(new)
    for kind, reason, message in decided.events:
        (kopf.warn if kind == "Warning" else kopf.info)(body, reason=reason, message=message)


@kopf.daemon(
    GROUP,
    VERSION,
    PLURAL,
    cancellation_timeout=10.0,
    when=lambda spec, **_: bool(OperatorSettings.from_env().kafka_bootstrap),
)
def feedback(spec: kopf.Spec, status: kopf.Status, meta: kopf.Meta, stopped: kopf.DaemonStopped, **_: Any) -> None:
    """The classifier's feedback daemon: its collector consumes corrections into the buffer, and
    while the classifier serves with no cycle in flight, writes the next cycle's data when due
    (the reconcile timer then sees the cycle's marker and launches its PyTorchJob)."""
    from ontask.feedback.collector import Collector
    from ontask.store import open_store

    try:
        parsed = TaskClassifierSpec.model_validate(dict(spec))
    except ValidationError:
        return  # the reconcile handler reports it
    settings = OperatorSettings.from_env()
    store = open_store(settings.store_for(parsed.storage.bucket))
    collector = Collector(
        meta["name"],
        parsed.feedback,
        store,
        settings.kafka_bootstrap,
        group_id=f"ontask-feedback-{meta['namespace']}-{meta['name']}",
    )

    def after_batch(c: Collector) -> None:
        if status.get("phase") == "Serving" and not status.get("candidateVersion"):
            marker = c.maybe_cycle(replay_dataset=meta["name"])
            if marker:
                log.info(
                    "classifier %s: cycle %s data ready (%s %s)",
                    meta["name"],
                    marker["cycle"],
                    marker["dataset"],
                    marker["version"],
                )

    stop = threading.Event()
    watcher = threading.Thread(target=lambda: (stopped.wait(), stop.set()), daemon=True)
    watcher.start()
    collector.run(stop, on_batch=after_batch)
