"""kopf handlers for TaskClassifier. One reconcile loop per classifier validates its spec, then
applies the reconcile plan: create (or adopt) the children it names, read their state back, and
write the status and an Event for every phase transition. The children (Jobs, PyTorchJobs or
TrainJobs, InferenceServices labelled as ontask's) are watched into kopf indexes: the loop reads them from
memory, and their events wake it, as do feedback batches and spec edits; it looks again on its
own only every resyncSeconds. An idle classifier costs the API server no request. A restarted
operator resumes from what exists."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Optional

import kopf
from pydantic import ValidationError

from ontask.api import GROUP, PLURAL, VERSION, TaskClassifierSpec, TaskClassifierStatus
from ontask.operator import metrics
from ontask.operator.conditions import set_condition
from ontask.operator.settings import OperatorSettings
from ontask.operator.wakeups import Wakeups

log = logging.getLogger("ontask.operator")


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    """Operator settings: our own finalizer name, status stored in annotations not in status."""
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
    # Kafka settings that cannot work stop the operator here, with the reason, not in each collector.
    from ontask.feedback.kafka_security import KafkaSecurity

    KafkaSecurity.from_env()


def model_uri_problems(spec: TaskClassifierSpec, namespace: str, name: str, settings: OperatorSettings) -> list[str]:
    """The model URIs and the data source this classifier's author may not have the operator read
    (another tenant's models, corrections or datasets): see store_paths.model_uri_problem and
    data_source_problem. Its own folder is the one in its namespace's (a classifier from before
    namespaces, whose artifacts stay at the store's top, names its own models there only where the
    installation allows the prefix: the check needs no store). The installation may allow more
    prefixes (settings.model_uri_prefixes, settings.source_uri_prefixes)."""
    from ontask.store_paths import classifier_prefix, data_source_problem, model_uri_problem, namespace_folder

    # The classifier's bucket is the store its children write: the installation's, else its own.
    top = settings.store_for(spec.storage.bucket)
    if not top.startswith("s3://"):
        return []  # a local folder (the embedded mode): one user, nothing to confine
    bucket = top[5:].split("/", 1)[0]
    own = f"{namespace_folder(namespace)}/{classifier_prefix(name or '')}"
    out = []
    for field, uri in (("student.model", spec.student.model), ("judge.model", spec.judge.model)):
        if field == "judge.model" and (not spec.judge.enabled or spec.judge.ref):
            continue  # no judge of its own is deployed from it
        if problem := model_uri_problem(uri, bucket, own, settings.model_uri_prefixes):
            out.append(f"spec.{field}: {problem}")
    own_keys = spec.storage.secret_ref is not None
    if problem := data_source_problem(spec.data.source, bucket, own, settings.source_uri_prefixes, own_keys):
        out.append(f"spec.data.source: {problem}")
    return out


def _validate(
    spec: dict[str, Any],
    status: dict[str, Any],
    generation: int,
    meta: dict[str, Any],
    settings: OperatorSettings,
) -> tuple[dict[str, Any], list[str]]:
    """The status to write for this spec, and the problems found (empty when it is runnable)."""
    from ontask.operator.names import name_problems

    current = TaskClassifierStatus.model_validate(status or {})
    try:
        parsed = TaskClassifierSpec.model_validate(spec)
        name = meta.get("name") or ""
        problems = (name_problems(name) if name else []) + parsed.consistency_problems()
        problems += model_uri_problems(parsed, meta.get("namespace") or "", name, settings)
    except ValidationError as e:
        problems = [f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()]
    if problems:
        current.phase = "Failed"
        current.conditions = set_condition(
            current.conditions, "Ready", "False", "InvalidSpec", "; ".join(problems), observed_generation=generation
        )
    else:
        if current.phase == "Failed":
            current.phase = "Pending"
        current.conditions = set_condition(
            current.conditions,
            "Ready",
            "False",
            "Pending",
            "accepted; waiting to start",
            observed_generation=generation,
        )
    current.observed_generation = generation
    return current.wire(), problems


def _reconcile_once(
    spec: dict[str, Any],
    status: dict[str, Any],
    meta: dict[str, Any],
    indexes,
    revalidate: bool,
    settings: OperatorSettings,
) -> tuple[Optional[dict[str, Any]], list[tuple[str, str, str]], Optional[float]]:
    """One pass over a classifier: validate a new spec (and on the operator's start), then apply
    the reconcile plan: create (or adopt) the children it names. Returns the status to write
    (None when unchanged), the events to post, and when to look again with no event (None: only
    an event can change anything)."""
    from ontask.operator.child_errors import ChildRefused
    from ontask.operator.kube_children import KubeChildren, context_for
    from ontask.operator.reconcile import plan, with_child_errors

    generation = int(meta.get("generation") or 0)
    events: list[tuple[str, str, str]] = []
    base = status
    if revalidate or status.get("observedGeneration") != generation:
        base, problems = _validate(spec, status, generation, meta, settings)
        if problems:
            log.warning("classifier %s/%s is not runnable: %s", meta.get("namespace"), meta.get("name"), problems)
            return (base if base != status else None), [("Warning", "InvalidSpec", "; ".join(problems))], None
        events.append(("Normal", "Accepted", "spec accepted"))
    elif status.get("phase") == "Failed" and _validate(spec, status, generation, meta, settings)[1]:
        return None, [], None
    parsed = TaskClassifierSpec.model_validate(spec)
    current = TaskClassifierStatus.model_validate(base)
    top = settings.store_for(parsed.storage.bucket)
    try:
        current.store_uri = _classifier_store(top, meta, current.store_uri)
    except Exception as e:  # noqa: BLE001 - any failure to reach the store (DNS, TLS, keys) is said the same way
        log.exception("classifier %s/%s: the store cannot be read", meta.get("namespace"), meta.get("name"))
        return _store_unreachable(current, status, top, e)
    children = KubeChildren(context_for(meta, parsed, settings, current.store_uri), indexes)
    observed = children.observe(current)
    decided = plan(parsed, current, observed)
    # Every child but the judge writes under the classifier's prefix, the collector too: claimed first.
    collects = bool(children.ctx.kafka_bootstrap)
    try:
        taken = _claim(children) if collects or any(role != "judge" for role in decided.ensure) else None
    except Exception as e:  # noqa: BLE001 - any failure to reach the store (DNS, TLS, keys) is said the same way
        log.exception("classifier %s/%s: the store cannot be claimed", meta.get("namespace"), meta.get("name"))
        return _store_unreachable(current, status, children.ctx.store_uri, e)
    if taken is not None:
        current.phase = "Failed"
        current.conditions = set_condition(
            current.conditions, "Ready", "False", "PrefixTaken", taken, observed_generation=current.observed_generation
        )
        new = current.wire()
        return (new, [("Warning", "PrefixTaken", taken)], None) if new != status else (None, [], None)
    # A child the API server refuses (its CRD missing, a quota, a webhook) is said in the status,
    # and the others are still made: the classifier never waits in silence.
    refused = []
    for role in decided.ensure:
        try:
            children.ensure(role, decided.status, observed)
        except ChildRefused as e:
            refused.append(e.error)
    if collects:
        try:
            children.ensure_collector()
        except ChildRefused as e:
            refused.append(e.error)
    for error in refused:
        log.warning("classifier %s/%s: %s", meta.get("namespace"), meta.get("name"), error.message)
    decided = with_child_errors(decided, current, refused)
    recheck = decided.recheck_after
    if collects:
        # The collector runs in its own Deployment and writes its counts and cycle markers to the
        # store, which sends no event: look at them again this often.
        recheck = min(recheck if recheck is not None else FEEDBACK_RECHECK_SECONDS, FEEDBACK_RECHECK_SECONDS)
    if decided.prune_through:
        # Finished cycle jobs past spec.feedback.keepCycleJobs (their cycles are decided).
        children.prune_cycle_jobs(decided.prune_cycles, decided.prune_through)
    children.record_decisions(current.cycle, decided.status)
    # With the unset fields as null: a merge patch removes a field (a decided candidateVersion)
    # only when it says null.
    new = decided.status.model_dump(by_alias=True, mode="json")
    changed = new != TaskClassifierStatus.model_validate(status).model_dump(by_alias=True, mode="json")
    return (new if changed else None), events + decided.events, recheck


def _store_unreachable(
    current: TaskClassifierStatus, status: dict[str, Any], store_uri: str, error: Exception
) -> tuple[Optional[dict[str, Any]], list[tuple[str, str, str]], Optional[float]]:
    """The pass's result when the store where the classifier claims its prefix cannot be reached:
    nothing is created (every child but the judge writes there), Ready says why, once as an
    event, and the store is tried again soon (its return sends no event)."""
    from ontask.operator.reconcile import CHILD_RETRY_SECONDS
    from ontask.store import s3_endpoint_from_env

    endpoint = s3_endpoint_from_env() if store_uri.startswith("s3://") else None
    # Without the object addresses some client errors carry, so the same failure is the same words.
    why = re.sub(r" object at 0x[0-9a-f]+", "", str(error))
    message = f"the store {store_uri}" + (f" at {endpoint}" if endpoint else "") + f" cannot be reached: {why}"
    before = next((c for c in current.conditions if c.type == "Ready"), None)
    current.conditions = set_condition(current.conditions, "Ready", "False", "StoreUnavailable", message)
    events = [] if before is not None and before.message == message else [("Warning", "StoreUnavailable", message)]
    new = current.wire()
    return (new if new != status else None), events, CHILD_RETRY_SECONDS


# How soon the operator reads a classifier's feedback state and cycle markers again.
FEEDBACK_RECHECK_SECONDS = 10.0

# (store, prefix, uid) this process has claimed (ontask.operator.ownership): asked once, not per pass.
_CLAIMED: set[tuple[str, str, str]] = set()


def _classifier_store(top: str, meta: dict[str, Any], recorded: Optional[str], create_bucket: bool = True) -> str:
    """The store URI the classifier's children use: the one its status records (status.storeUri,
    written on its first pass), when it is one of the two a classifier may have; else resolved
    from the store (ontask.operator.ownership.classifier_store), which reads it."""
    from ontask.operator.ownership import classifier_store
    from ontask.store import open_store
    from ontask.store_paths import namespace_store

    if recorded in (top, namespace_store(top, meta["namespace"])):
        return recorded
    return classifier_store(open_store(top, create_bucket=create_bucket), top, meta["namespace"], meta["name"])


def _claim(children) -> Optional[str]:
    """None when the classifier's prefix in its store is its own, else why not."""
    from ontask.operator.ownership import claim_prefix

    ctx = children.ctx
    key = (ctx.store_uri, ctx.prefix, ctx.uid)
    if key in _CLAIMED:
        return None
    problem = claim_prefix(children.store(), ctx.prefix, ctx.namespace, ctx.name, ctx.uid)
    if problem is None:
        _CLAIMED.add(key)
    return problem


MANAGED = {"app.kubernetes.io/managed-by": "ontask"}
CLASSIFIER_LABEL = f"{GROUP}/classifier"
# Each classifier's reconcile loop sleeps until one of these pokes it.
WAKEUPS = Wakeups()
# After a poke, the loop waits this long so that a burst of events (a child created, then its
# status, then a feedback batch) becomes one pass.
SETTLE_SECONDS = 0.5


def _child(namespace: str, name: str, body: kopf.Body, labels: kopf.Labels) -> dict:
    """A child's index entry. Every watch event of the child passes here, so this is also where
    its classifier's loop is woken: the loop settles SETTLE_SECONDS before it reads the index,
    which kopf updates as soon as this returns."""
    from ontask.operator.kube_children import plain

    owner = labels.get(CLASSIFIER_LABEL)
    if owner:
        WAKEUPS.poke((namespace, owner))
    return {(namespace, name): plain(body)}


# The children, kept current by kopf's watch streams; kopf lists them all before any handler runs.
@kopf.index("batch", "v1", "jobs", labels=MANAGED)
def ontask_jobs(namespace: str, name: str, body: kopf.Body, labels: kopf.Labels, **_: Any) -> dict:
    return _child(namespace, name, body, labels)


@kopf.index("kubeflow.org", "v1", "pytorchjobs", labels=MANAGED)
def ontask_pytorchjobs(namespace: str, name: str, body: kopf.Body, labels: kopf.Labels, **_: Any) -> dict:
    return _child(namespace, name, body, labels)


# Kubeflow Trainer v2's training jobs (the TrainJob backend); kopf watches them where served.
@kopf.index("trainer.kubeflow.org", "v1alpha1", "trainjobs", labels=MANAGED)
def ontask_trainjobs(namespace: str, name: str, body: kopf.Body, labels: kopf.Labels, **_: Any) -> dict:
    return _child(namespace, name, body, labels)


@kopf.index("serving.kserve.io", "v1beta1", "inferenceservices", labels=MANAGED)
def ontask_inferenceservices(namespace: str, name: str, body: kopf.Body, labels: kopf.Labels, **_: Any) -> dict:
    return _child(namespace, name, body, labels)


@kopf.index("apps", "v1", "deployments", labels=MANAGED)
def ontask_deployments(namespace: str, name: str, body: kopf.Body, labels: kopf.Labels, **_: Any) -> dict:
    return _child(namespace, name, body, labels)


@kopf.on.update(GROUP, VERSION, PLURAL, field="spec")
def spec_changed(namespace: str, name: str, **_: Any) -> None:
    """A spec edit wakes the classifier's loop (which validates it and writes the status)."""
    WAKEUPS.poke((namespace, name))


def _indexes(kwargs: dict[str, Any], settings: OperatorSettings):
    from ontask.operator.kube_children import ChildIndexes

    if not settings.watch_children:
        return None
    return ChildIndexes(
        kwargs["ontask_jobs"],
        kwargs["ontask_pytorchjobs"],
        kwargs["ontask_inferenceservices"],
        kwargs["ontask_deployments"],
        kwargs["ontask_trainjobs"],
    )


class _StatusWriter:
    """Writes one classifier's status, and reads the classifier back with a GET when the watch
    has not yet shown its last write (so that a pass never plans from a status it replaced)."""

    def __init__(self, namespace: str, name: str):
        from kubernetes import client as k8s

        from ontask.operator.kube_children import api_client

        self.namespace, self.name = namespace, name
        self.api = k8s.CustomObjectsApi(api_client())
        self.written_rv: Optional[str] = None

    def current(self, body: kopf.Body) -> dict[str, Any]:
        from ontask.operator.kube_children import plain

        live = plain(body)
        if self.written_rv is not None and live["metadata"].get("resourceVersion") != self.written_rv:
            live = self.api.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, self.name)
        self.written_rv = None
        return live

    def write(self, status: dict[str, Any]) -> None:
        written = self.api.patch_namespaced_custom_object_status(
            GROUP, VERSION, self.namespace, PLURAL, self.name, {"status": status}
        )
        self.written_rv = written["metadata"]["resourceVersion"]


# kopf stops an async daemon by cancelling it (at its next await) once it is signalled to stop.
@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=5.0)
async def reconcile(meta: kopf.Meta, body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    """A classifier's reconcile loop, from its creation (or the operator's start) to its deletion:
    a pass whenever a child, its feedback or its spec changes, when a canary's time is up, and
    every resyncSeconds as a safety net. It is the only writer of the classifier's status. kopf
    cancels it on deletion, on the operator's exit and while another replica leads."""
    key = (meta["namespace"], meta["name"])
    settings: OperatorSettings = memo.settings
    writer = _StatusWriter(*key)
    WAKEUPS.register(key)
    first, backoff = True, 0.0
    try:
        while True:
            timeout = settings.reconcile_interval()
            try:
                live = await asyncio.to_thread(writer.current, body)
                new, events, recheck = await asyncio.to_thread(
                    _reconcile_once,
                    live.get("spec") or {},
                    live.get("status") or {},
                    live["metadata"],
                    _indexes(kwargs, settings),
                    first,
                    settings,
                )
                if new is not None:
                    await asyncio.to_thread(writer.write, new)
                metrics.RECONCILES.labels("ok").inc()
                metrics.observe(*key, new if new is not None else live.get("status"))
                for kind, reason, message in events:
                    (kopf.warn if kind == "Warning" else kopf.info)(body, reason=reason, message=message)
                first, backoff = False, 0.0
                if recheck is not None:
                    timeout = min(timeout, recheck + 1.0)
            except Exception:  # an API or store outage: try again soon, and back off while it lasts
                metrics.RECONCILES.labels("error").inc()
                backoff = min(60.0, max(3.0, backoff * 2))
                timeout = min(timeout, backoff)
                log.exception("classifier %s/%s: reconcile failed; again in %.0f s", *key, timeout)
            await WAKEUPS.wait(key, timeout, settle=SETTLE_SECONDS)
    finally:
        WAKEUPS.forget(key)


@kopf.on.delete(GROUP, VERSION, PLURAL)
def released(spec: kopf.Spec, meta: kopf.Meta, status: kopf.Status, memo: kopf.Memo, **_: Any) -> None:
    """A deleted classifier's children go with it (their ownerReferences); its artifacts in the
    store stay unless storage.retainArtifacts is false, and only if the prefix is its own."""
    from ontask.operator.ownership import release_prefix
    from ontask.store import open_store
    from ontask.store_paths import classifier_prefix

    metrics.forget(meta["namespace"], meta["name"])
    try:
        parsed = TaskClassifierSpec.model_validate(dict(spec))
    except ValidationError:
        return  # never ran: nothing of it in the store
    if parsed.storage.retain_artifacts:
        return
    top = memo.settings.store_for(parsed.storage.bucket)
    uri = _classifier_store(top, dict(meta), (status or {}).get("storeUri"), create_bucket=False)
    store = open_store(uri, create_bucket=False)
    removed = release_prefix(store, classifier_prefix(meta["name"]), meta["name"], meta["uid"], retain=False)
    log.info("classifier %s/%s deleted with its %d artifacts", meta["namespace"], meta["name"], removed)
