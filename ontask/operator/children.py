"""A classifier's children in the cluster: create-or-adopt by deterministic name, and their
state read back for the reconcile plan."""

from __future__ import annotations

import functools
import logging
from typing import Any, ClassVar, Mapping, Optional

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from ontask.api import GROUP, JudgeRuntime, TaskClassifierSpec, TaskClassifierStatus
from ontask.evaluation.gate import read_evaluation
from ontask.operator.manifests import (
    JUDGE_MODEL_NAME,
    MODE_ANNOTATION,
    Context,
    child_name,
    data_job,
    feedback_collector,
    inference_service,
    model_storage_uri,
    predictor_deployment,
    training_job,
    vllm_judge_service,
)
from ontask.operator.reconcile import (
    CHILD_RETRY_SECONDS,
    FIRST_VERSION,
    ChildError,
    JobState,
    Observed,
    candidate_version,
)
from ontask.operator.settings import OperatorSettings
from ontask.operator.training import (
    CLUSTER_RUNTIME,
    PYTORCHJOB,
    RESOURCES,
    TRAINJOB,
    BackendResolver,
    as_trainjob,
    served_backends,
    training_runtime,
)
from ontask.store_paths import feedback_state_key, model_key

log = logging.getLogger("ontask.operator")
ISVC = ("serving.kserve.io", "v1beta1", "inferenceservices")
_api: Optional[k8s.ApiClient] = None
# The custom kinds of children, as kopf's indexes name them.
_KIND_OF = {PYTORCHJOB: "PyTorchJob", TRAINJOB: "TrainJob", ISVC: "InferenceService"}
# The training backend `auto` resolves to, asked of the cluster once per operator.
_BACKEND = BackendResolver(lambda: served_backends(api_client()))


def api_client() -> k8s.ApiClient:
    global _api
    if _api is None:
        try:
            k8s_config.load_incluster_config()
        except k8s_config.ConfigException:
            k8s_config.load_kube_config()
        _api = k8s.ApiClient()
    return _api


def context_for(meta, spec: TaskClassifierSpec, settings: Optional[OperatorSettings] = None) -> Context:
    """The classifier's context, with the installation's settings (the chart's, from the
    operator's environment)."""
    settings = settings or OperatorSettings.from_env()
    return Context(
        name=meta["name"],
        namespace=meta["namespace"],
        uid=meta["uid"],
        spec=spec,
        image=settings.image,
        store_uri=settings.store_for(spec.storage.bucket),
        s3_secret=settings.s3_secret,
        kafka_bootstrap=settings.kafka_bootstrap,
        kafka_security_protocol=settings.kafka_security_protocol,
        kafka_sasl_mechanism=settings.kafka_sasl_mechanism,
        kafka_secret=settings.kafka_secret,
        kafka_ca_secret=settings.kafka_ca_secret,
        kserve_mode=settings.kserve_mode,
        prometheus_scraping=settings.prometheus_scraping,
        env=settings.child_env(),
        training_backend=_BACKEND(settings.training_backend),
        training_runtime=settings.training_runtime,
    )


def _condition_state(conditions: list[dict[str, Any]]) -> tuple[JobState, str]:
    for c in conditions or []:
        if c.get("status") == "True" and c.get("type") in ("Succeeded", "Complete"):
            return "Succeeded", c.get("message", "")
        if c.get("status") == "True" and c.get("type") == "Failed":
            return "Failed", c.get("message", "") or c.get("reason", "")
    return "Running", ""


@functools.lru_cache(maxsize=16)
def _open_store(uri: str):
    """One store client per URI for the operator's life: every reconcile pass reads the store, and
    opening an S3 store checks its bucket."""
    from ontask.store import open_store

    return open_store(uri)


# KServe (v0.15 on) renamed the deployment modes, and its webhook rewrites the old names in place:
# the same mode under either name is no difference, or the operator would patch it back forever.
_SAME_MODE = {"RawDeployment": "Standard", "Serverless": "Knative"}


def _contains(have: Any, want: Any) -> bool:
    """Whether `have` has every field of `want` with the same value (fields a server added, such as
    defaults, do not count as a difference).

    Example:
        >>> _contains({"mode": "Standard", "x": 1}, {"mode": "RawDeployment"})
        True
        >>> _contains({"c": [{"name": "a", "imagePullPolicy": "Always"}]}, {"c": [{"name": "a"}]})
        True
    """
    if isinstance(want, dict):
        return isinstance(have, dict) and all(_contains(have.get(k), v) for k, v in want.items())
    if isinstance(want, list):  # the API server defaults fields inside list items (containers, ports)
        return isinstance(have, list) and len(have) == len(want) and all(map(_contains, have, want))
    return have == want or (isinstance(want, str) and _SAME_MODE.get(want) == have)


def _mode_changed(current: dict[str, Any], body: dict[str, Any]) -> bool:
    """Whether an existing InferenceService runs in another KServe deployment mode than the one
    wanted (the chart's kserve.deploymentMode changed): KServe's webhook refuses that on update.

    Example:
        >>> want = {"metadata": {"annotations": {MODE_ANNOTATION: "Serverless"}}}
        >>> _mode_changed({"status": {"deploymentMode": "Standard"}}, want)
        True
        >>> _mode_changed({"status": {"deploymentMode": "Knative"}}, want)
        False
        >>> _mode_changed({}, want)  # KServe has not reconciled it yet: an update is allowed
        False
    """
    had = (current.get("status") or {}).get("deploymentMode")
    want = (body["metadata"].get("annotations") or {}).get(MODE_ANNOTATION)
    return bool(had and want) and had != want and _SAME_MODE.get(want, want) != _SAME_MODE.get(had, had)


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
    import json

    try:
        return json.loads(e.body)["message"]
    except (TypeError, ValueError, KeyError):
        return str(e.reason)


class Children:
    """What every backend shares: the manifests, and reading the feedback state from the store.
    Backends say how to create a child and how to read a job's or a server's state."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    # --- backend interface
    def job_state(self, kind: str, name: str) -> Optional[tuple[JobState, str]]:
        """(state, failure message) of a Job ("job") or a training job ("training": a PyTorchJob or
        a TrainJob, whichever exists), or None when it does not exist."""
        raise NotImplementedError

    def server_state(self, name: str, shared: bool = False) -> Optional[tuple[bool, Optional[str]]]:
        """(ready, model version) of an InferenceService, or None when it does not exist; shared:
        one this classifier does not own (`judge.ref`), so not among its watched children."""
        raise NotImplementedError

    def create(self, role: str, body: dict[str, Any], model_version: Optional[str]) -> None:
        """Create the child, or adopt the one with its name (moving a student to model_version)."""
        raise NotImplementedError

    def canary_state(self, name: str, candidate: str) -> tuple[Optional[str], str]:
        """(None | Pending | Ready | Failed, message) of a candidate's canary revision."""
        return None, ""

    def prune_cycle_jobs(self, cycles: list[int], through: int) -> list[str]:
        """Delete the PyTorchJobs of these decided cycles (and any of this classifier's older than
        `through` that the backend can see); the names deleted. Local backends keep nothing."""
        return []

    # --- shared
    def store(self):
        return _open_store(self.ctx.store_uri)

    def record_decisions(self, previous_cycle: int, status: TaskClassifierStatus) -> None:
        """Write the operator's word for each cycle that a reconcile decided (those past
        `previous_cycle` up to `status.cycle`), the Trained condition's reason as its outcome.
        Called before the status that records them is written: the collector writes the next
        cycle's data only once this says the cycle is decided (written again, harmlessly, after a
        crash in between)."""
        from ontask.feedback.cycle import write_decision

        outcome = next((c.reason for c in status.conditions if c.type == "Trained"), "decided")
        for number in range(previous_cycle + 1, status.cycle + 1):
            write_decision(self.store(), self.ctx.prefix, number, outcome)

    def model_uri(self, version: str) -> str:
        return f"{self.ctx.store_uri.rstrip('/')}/{model_key(self.ctx.prefix, version)}"

    def _observe_feedback(self, obs: Observed, cycle: int) -> None:
        """The collector's counts, the next cycle's marker and, once written, its evaluation."""
        from ontask.store import StoreError

        try:
            self._read_feedback(obs, cycle)
        except StoreError as e:  # not "no such key": those are read as absent below
            obs.store_error = f"{self.ctx.store_uri}: {e}"
            obs.cycle_marker = obs.evaluation = None  # decide nothing on a partial read

    def _read_feedback(self, obs: Observed, cycle: int) -> None:
        from ontask.feedback.cycle import read_marker
        from ontask.feedback.state import State
        from ontask.store import NotFound

        store = self.store()
        try:
            state = State.from_json(
                store.get_bytes(feedback_state_key(self.ctx.prefix)), self.ctx.spec.feedback.buffer_size
            )
            obs.feedback = state.observed_counts()
        except NotFound:
            pass  # no correction yet
        obs.cycle_marker = read_marker(store, self.ctx.prefix, cycle + 1)
        if obs.cycle_marker is None:
            return
        found = self.job_state("training", child_name(self.ctx.name, "cycle", cycle + 1))
        if found is not None:
            obs.cycle_job, msg = found
            if obs.cycle_job == "Failed":
                obs.messages["cycle"] = msg or f"the cycle {self.ctx.training_backend} failed"
        obs.evaluation = read_evaluation(store, self.ctx.prefix, candidate_version(cycle + 1))

    def observe(self, status: TaskClassifierStatus) -> Observed:
        import time

        obs = Observed(now=time.time())
        if status.model_version is not None:
            self._observe_feedback(obs, status.cycle)
        for kind, role in (("job", "data"), ("training", "train")):
            found = self.job_state(kind, child_name(self.ctx.name, role))
            if found is not None:
                state, msg = found
                setattr(obs, role, state)
                if state == "Failed":
                    obs.messages[role] = msg or f"the {role} job failed"
        for role in ("judge", "student"):
            shared = self.ctx.spec.judge.ref if role == "judge" else None
            found = self.server_state(shared or child_name(self.ctx.name, role), shared=shared is not None)
            if found is None:
                continue
            if role == "judge":
                obs.judge_ready = found[0]
            else:
                obs.student_ready, obs.student_version = found
        obs.serverless = self.ctx.kserve_mode == "Serverless"
        if obs.serverless and status.candidate_version:
            obs.canary, msg = self.canary_state(child_name(self.ctx.name, "student"), status.candidate_version)
            if obs.canary == "Failed":
                obs.messages["canary"] = msg
        return obs

    def manifest(self, role: str, status: TaskClassifierStatus, obs: Observed) -> dict[str, Any]:
        ctx = self.ctx
        model_version = status.model_version
        if role == "cycle":
            marker = obs.cycle_marker
            serving = self.model_uri(model_version)
            return self.training(
                training_job(
                    ctx,
                    marker["dataset"],
                    marker["version"],
                    candidate_version(marker["cycle"]),
                    serving,
                    cycle=marker["cycle"],
                    compare_with=serving,
                )
            )
        if role == "canary":
            candidate = candidate_version(obs.cycle_marker["cycle"])
            return inference_service(
                ctx, "student", self.model_uri(candidate), candidate, canary_percent=ctx.spec.serving.canary_percent
            )
        if role == "data":
            return data_job(ctx, ctx.name)
        if role == "train":
            return self.training(training_job(ctx, ctx.name, "v1", FIRST_VERSION, ctx.spec.student.model))
        if role == "judge":
            if ctx.spec.judge.runtime == JudgeRuntime.vllm:
                return vllm_judge_service(ctx)
            return inference_service(ctx, "judge", model_storage_uri(ctx.spec.judge.model), JUDGE_MODEL_NAME)
        assert model_version is not None
        return inference_service(ctx, "student", self.model_uri(model_version), model_version)

    def training(self, pytorchjob: dict[str, Any]) -> dict[str, Any]:
        """A training run as the installation's backend runs it: the PyTorchJob, or the TrainJob
        translated from it."""
        if self.ctx.training_backend == "TrainJob":
            return as_trainjob(pytorchjob, self.ctx.training_runtime)
        return pytorchjob

    def ensure(self, role: str, status: TaskClassifierStatus, obs: Observed) -> None:
        self.create(role, self.manifest(role, status, obs), status.model_version)


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


def plain(value: Any) -> Any:
    """A kopf body (mappings and sequences views) as plain dicts and lists."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


class ChildIndexes:
    """The operator's children as kopf's indexes hold them (kept current by the watch streams;
    kopf fills them before any handler runs), so that a reconcile reads its children from memory
    instead of asking the API server."""

    def __init__(
        self,
        jobs: Mapping,
        pytorchjobs: Mapping,
        inferenceservices: Mapping,
        deployments: Mapping,
        trainjobs: Optional[Mapping] = None,
    ):
        self.by_kind = {
            "Job": jobs,
            "PyTorchJob": pytorchjobs,
            "TrainJob": trainjobs if trainjobs is not None else {},
            "InferenceService": inferenceservices,
            "Deployment": deployments,
        }

    def get(self, kind: str, namespace: str, name: str) -> Optional[dict[str, Any]]:
        found = list(self.by_kind[kind].get((namespace, name), []))
        return found[0] if found else None


class KubeChildren(Children):
    """Children of one classifier through the Kubernetes API; read from kopf's indexes when given
    (no API request while nothing changes), else with a GET each."""

    def __init__(self, ctx: Context, indexes: Optional[ChildIndexes] = None):
        super().__init__(ctx)
        self.custom = k8s.CustomObjectsApi(api_client())
        self.batch = k8s.BatchV1Api(api_client())
        self.apps = k8s.AppsV1Api(api_client())
        self.indexes = indexes

    def _get(self, kind: tuple[str, str, str], name: str, indexed: bool = True) -> Optional[dict[str, Any]]:
        if self.indexes is not None and indexed:
            return self.indexes.get(_KIND_OF[kind], self.ctx.namespace, name)
        try:
            return self.custom.get_namespaced_custom_object(*kind[:2], self.ctx.namespace, kind[2], name)
        except ApiException as e:
            if e.status == 404:
                return None
            raise

    def _indexed_or_read(self, kind: str, name: str, read) -> Optional[dict[str, Any]]:
        """A built-in child (Job, Deployment) from kopf's index, else with `read`'s GET; None when
        it does not exist."""
        if self.indexes is not None:
            return self.indexes.get(kind, self.ctx.namespace, name)
        try:
            return self.batch.api_client.sanitize_for_serialization(read(name, self.ctx.namespace))
        except ApiException as e:
            if e.status == 404:
                return None
            raise

    def _job(self, name: str) -> Optional[dict[str, Any]]:
        return self._indexed_or_read("Job", name, self.batch.read_namespaced_job)

    def job_state(self, kind: str, name: str) -> Optional[tuple[JobState, str]]:
        if kind == "training":
            # The backend's kind first; the other one too, so that a job made before the backend
            # changed (Trainer v2 installed beside the training operator) is seen, not made twice.
            chosen = self.ctx.training_backend
            for backend in (chosen, *(b for b in RESOURCES if b != chosen)):
                job = self._get(RESOURCES[backend], name)  # None also where the kind is not served
                if job is not None:
                    return _condition_state((job.get("status") or {}).get("conditions"))
            return None
        job = self._job(name)
        if job is None:
            return None
        status = job.get("status") or {}
        state, msg = _condition_state(status.get("conditions"))
        if state == "Running" and (status.get("succeeded") or 0) > 0:
            state = "Succeeded"
        return state, msg

    def server_state(self, name: str, shared: bool = False) -> Optional[tuple[bool, Optional[str]]]:
        isvc = self._get(ISVC, name, indexed=not shared)
        if isvc is None:
            return None
        status = isvc.get("status") or {}
        version = ((isvc.get("metadata") or {}).get("annotations") or {}).get(f"{GROUP}/model-version")
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        if ready and not shared:
            # In Standard mode KServe's Ready follows the Deployment's Available, which the old
            # pods keep through a rollout: the version is served once the Deployment rolled out.
            # (status.observedGeneration is the Deployment's, not the InferenceService's.)
            deployment = self._indexed_or_read(
                "Deployment", predictor_deployment(name), self.apps.read_namespaced_deployment
            )
            if deployment is not None:
                ready = rolled_out(deployment, version)
        return ready, version

    def canary_state(self, name: str, candidate: str) -> tuple[Optional[str], str]:
        isvc = self._get(ISVC, name) or {}
        if ((isvc.get("metadata") or {}).get("annotations") or {}).get(f"{GROUP}/model-version") != candidate:
            return None, ""
        status = isvc.get("status") or {}
        for c in status.get("conditions") or []:
            if c.get("status") == "False" and "fail" in (c.get("reason") or "").lower():
                return "Failed", c.get("message") or c["reason"]
        predictor = (status.get("components") or {}).get("predictor") or {}
        created = predictor.get("latestCreatedRevision")
        if (
            created
            and created == predictor.get("latestReadyRevision")
            and any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        ):
            return "Ready", ""
        return "Pending", ""

    def prune_cycle_jobs(self, cycles: list[int], through: int) -> list[str]:
        """By name for the cycles the plan moved out of the window (no list: the operator may not be
        allowed to list its children), plus, from kopf's index when there is one, any older cycle
        job of this classifier left behind (keepCycleJobs lowered, an earlier delete failed). The
        pods go with their job (background propagation)."""
        names = {child_name(self.ctx.name, "cycle", n) for n in cycles}
        if self.indexes is not None and through > 0:
            for (namespace, name), bodies in self.indexes.by_kind["PyTorchJob"].items():
                for body in bodies:
                    labels = (body.get("metadata") or {}).get("labels") or {}
                    if (
                        namespace == self.ctx.namespace
                        and labels.get(f"{GROUP}/classifier") == self.ctx.name
                        and labels.get(f"{GROUP}/role") == "cycle"
                        and (labels.get(f"{GROUP}/cycle") or "").isdigit()
                        and int(labels[f"{GROUP}/cycle"]) <= through
                    ):
                        names.add(name)
        deleted = []
        for name in sorted(names):
            try:
                self.custom.delete_namespaced_custom_object(
                    *PYTORCHJOB[:2], self.ctx.namespace, PYTORCHJOB[2], name, propagation_policy="Background"
                )
                deleted.append(name)
                log.info("deleted finished cycle job %s", name)
            except ApiException as e:
                if e.status != 404:
                    raise
        return deleted

    def create(self, role: str, body: dict[str, Any], model_version: Optional[str]) -> None:
        try:
            self._create(role, body)
        except ApiException as e:
            raise ChildRefused(child_error(role, body, e.status, api_message(e))) from e

    def _create(self, role: str, body: dict[str, Any]) -> None:
        name = body["metadata"]["name"]
        kind = {v: k for k, v in _KIND_OF.items()}.get(body["kind"], ISVC)
        if self.indexes is not None:
            current = self.indexes.get(body["kind"], self.ctx.namespace, name)
            if current is not None:
                self._bring_to_spec(body, current)
                return
        try:
            if body["kind"] == "Job":
                self.batch.create_namespaced_job(self.ctx.namespace, body)
            else:
                if body["kind"] == "TrainJob":
                    self._ensure_runtime(body["spec"]["runtimeRef"]["name"])
                self.custom.create_namespaced_custom_object(*kind[:2], self.ctx.namespace, kind[2], body)
            log.info("created %s %s", role, name)
        except ApiException as e:
            if e.status != 409:
                raise
            self._bring_to_spec(body, self._get(ISVC, name) if body["kind"] == "InferenceService" else None)

    # ClusterTrainingRuntimes known to exist, for the operator's life: one GET per runtime, not per TrainJob.
    _runtimes_seen: ClassVar[set[str]] = set()

    def _ensure_runtime(self, name: str) -> None:
        """The ClusterTrainingRuntime a TrainJob names: created when absent (ontask's own, from
        `training_runtime`), brought to ontask's template when ontask made it, and left as it is
        when someone else did (a platform team's runtime, named by the chart's training.runtime)."""
        if name in self._runtimes_seen:
            return
        body = training_runtime(name, self.ctx.image)
        try:
            current = self.custom.get_cluster_custom_object(*CLUSTER_RUNTIME, name)
        except ApiException as e:
            if e.status != 404:
                raise
            try:  # a 404 here (Trainer v2 not installed) is said as the TrainJob's CRDMissing
                self.custom.create_cluster_custom_object(*CLUSTER_RUNTIME, body)
                log.info("created ClusterTrainingRuntime %s", name)
            except ApiException as e:
                if e.status != 409:  # made meanwhile by another replica
                    raise
        else:
            mine = (current.get("metadata", {}).get("labels") or {}).get("app.kubernetes.io/managed-by") == "ontask"
            if mine and not _contains(current.get("spec") or {}, body["spec"]):
                self.custom.patch_cluster_custom_object(*CLUSTER_RUNTIME, name, {"spec": body["spec"]})
        KubeChildren._runtimes_seen.add(name)

    def ensure_collector(self) -> None:
        """The classifier's feedback collector Deployment: created, or patched when its spec
        (the classifier's spec it carries, the installation's Kafka settings) changed."""
        body = feedback_collector(self.ctx)
        try:
            self._ensure_collector(body)
        except ApiException as e:
            raise ChildRefused(child_error("collector", body, e.status, api_message(e))) from e

    def _ensure_collector(self, body: dict[str, Any]) -> None:
        name = body["metadata"]["name"]
        current = self._indexed_or_read("Deployment", name, self.apps.read_namespaced_deployment)
        if current is None:
            try:
                self.apps.create_namespaced_deployment(self.ctx.namespace, body)
                log.info("created feedback %s", name)
                return
            except ApiException as e:
                if e.status != 409:
                    raise
                current = {}
        if not _contains(current.get("spec") or {}, body["spec"]):
            self.apps.patch_namespaced_deployment(name, self.ctx.namespace, {"spec": body["spec"]})

    def _replace_for_mode(self, body: dict[str, Any], current: dict[str, Any]) -> None:
        """Delete an InferenceService whose deployment mode must change; the next pass, once KServe
        has let it go, creates it in the new mode (its clients see no predictor meanwhile)."""
        name = body["metadata"]["name"]
        if current.get("metadata", {}).get("deletionTimestamp"):
            return  # going already
        log.warning(
            "InferenceService %s runs in KServe mode %s, %s wanted: KServe cannot change it in place, replacing it",
            name,
            current["status"]["deploymentMode"],
            body["metadata"]["annotations"][MODE_ANNOTATION],
        )
        try:
            self.custom.delete_namespaced_custom_object(*ISVC[:2], self.ctx.namespace, ISVC[2], name)
        except ApiException as e:
            if e.status != 404:
                raise

    def _bring_to_spec(self, body: dict[str, Any], current: Optional[dict[str, Any]]) -> None:
        """An existing InferenceService is adopted and patched to the wanted spec (a new model
        version, new replica bounds) when it differs; jobs are left as they run."""
        if body["kind"] != "InferenceService":
            return
        current = current or {}
        if _mode_changed(current, body):
            self._replace_for_mode(body, current)
            return
        if not _contains(
            current.get("metadata", {}).get("annotations") or {}, body["metadata"]["annotations"]
        ) or not _contains(current.get("spec") or {}, body["spec"]):
            self.custom.patch_namespaced_custom_object(
                *ISVC[:2],
                self.ctx.namespace,
                ISVC[2],
                body["metadata"]["name"],
                {"metadata": body["metadata"], "spec": body["spec"]},
            )
