"""A classifier's children in the cluster: created or adopted by deterministic name through the
Kubernetes API, and their state read back for the reconcile plan (from kopf's indexes while the
operator watches them)."""

from __future__ import annotations

import logging
from typing import Any, ClassVar, Mapping, Optional

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from ontask.api import GROUP, TaskClassifierSpec
from ontask.operator.child_errors import ChildRefused, api_message, child_error
from ontask.operator.child_state import condition_state, contains, mode_changed, rolled_out
from ontask.operator.children import Children
from ontask.operator.context import Context
from ontask.operator.manifests import MODE_ANNOTATION, feedback_collector
from ontask.operator.names import child_name, predictor_deployment
from ontask.operator.reconcile import JobState
from ontask.operator.settings import OperatorSettings
from ontask.operator.training import (
    CLUSTER_RUNTIME,
    PYTORCHJOB,
    RESOURCES,
    TRAINJOB,
    BackendResolver,
    served_backends,
    training_runtime,
)
from ontask.store_paths import namespace_store

log = logging.getLogger("ontask.operator")
ISVC = ("serving.kserve.io", "v1beta1", "inferenceservices")
_api: Optional[k8s.ApiClient] = None
# The custom kinds of children, as kopf's indexes name them.
_KIND_OF = {PYTORCHJOB: "PyTorchJob", TRAINJOB: "TrainJob", ISVC: "InferenceService"}
# The training backend `auto` resolves to, asked of the cluster once per operator.
_BACKEND = BackendResolver(lambda: served_backends(api_client()))


def api_client() -> k8s.ApiClient:
    """The operator's Kubernetes client: the in-cluster configuration, else the kubeconfig."""
    global _api
    if _api is None:
        try:
            k8s_config.load_incluster_config()
        except k8s_config.ConfigException:
            k8s_config.load_kube_config()
        _api = k8s.ApiClient()
    return _api


def context_for(meta, spec: TaskClassifierSpec, settings: OperatorSettings, store_uri: Optional[str] = None) -> Context:
    """The classifier's context, with the installation's settings (the chart's, which the
    operator read from its environment once, at start). `store_uri` is the store its children
    use (ontask.operator.ownership.classifier_store); its namespace's folder when not given."""
    return Context(
        name=meta["name"],
        namespace=meta["namespace"],
        uid=meta["uid"],
        spec=spec,
        image=settings.image,
        store_uri=store_uri or namespace_store(settings.store_for(spec.storage.bucket), meta["namespace"]),
        s3_secret=settings.s3_secret,
        s3_read_only_secret=settings.s3_read_only_secret,
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
                    return condition_state((job.get("status") or {}).get("conditions"))
            return None
        job = self._job(name)
        if job is None:
            return None
        status = job.get("status") or {}
        state, msg = condition_state(status.get("conditions"))
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
            if mine and not contains(current.get("spec") or {}, body["spec"]):
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
        if not contains(current.get("spec") or {}, body["spec"]):
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
        if mode_changed(current, body):
            self._replace_for_mode(body, current)
            return
        if not contains(
            current.get("metadata", {}).get("annotations") or {}, body["metadata"]["annotations"]
        ) or not contains(current.get("spec") or {}, body["spec"]):
            self.custom.patch_namespaced_custom_object(
                *ISVC[:2],
                self.ctx.namespace,
                ISVC[2],
                body["metadata"]["name"],
                {"metadata": body["metadata"], "spec": body["spec"]},
            )
