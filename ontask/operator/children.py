"""A classifier's children in the cluster: create-or-adopt by deterministic name, and their
state read back for the reconcile plan."""

from __future__ import annotations

import logging
import os
from typing import Any, Optional

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from ontask.operator.manifests import Context, child_name, data_job, inference_service, training_job
from ontask.operator.reconcile import FIRST_VERSION, JobState, Observed, candidate_version
from ontask.spec import GROUP, TaskClassifierSpec, TaskClassifierStatus

log = logging.getLogger("ontask.operator")
PYTORCHJOB = ("kubeflow.org", "v1", "pytorchjobs")
ISVC = ("serving.kserve.io", "v1beta1", "inferenceservices")
_api: Optional[k8s.ApiClient] = None


def api_client() -> k8s.ApiClient:
    global _api
    if _api is None:
        try:
            k8s_config.load_incluster_config()
        except k8s_config.ConfigException:
            k8s_config.load_kube_config()
        _api = k8s.ApiClient()
    return _api


def context_for(meta, spec: TaskClassifierSpec) -> Context:
    """The classifier's context, with the installation's settings from the operator's env
    (the chart sets them from values.yaml)."""
    env = {k: v for k, v in os.environ.items() if k.startswith("ONTASK_CHILD_")}
    return Context(name=meta["name"], namespace=meta["namespace"], uid=meta["uid"], spec=spec,
                   image=os.environ.get("ONTASK_IMAGE", "ghcr.io/ontask/ontask:0.1.0"),
                   store_uri=os.environ.get("ONTASK_STORE", f"s3://{spec.storage.bucket}"),
                   s3_secret=os.environ.get("ONTASK_S3_SECRET"),
                   kafka_bootstrap=os.environ.get("ONTASK_KAFKA_BOOTSTRAP"),
                   env={k[len("ONTASK_CHILD_"):]: v for k, v in env.items()})


def _condition_state(conditions: list[dict[str, Any]]) -> tuple[JobState, str]:
    for c in conditions or []:
        if c.get("status") == "True" and c.get("type") in ("Succeeded", "Complete"):
            return "Succeeded", c.get("message", "")
        if c.get("status") == "True" and c.get("type") == "Failed":
            return "Failed", c.get("message", "") or c.get("reason", "")
    return "Running", ""


class KubeChildren:
    """Children of one classifier through the Kubernetes API."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.custom = k8s.CustomObjectsApi(api_client())
        self.batch = k8s.BatchV1Api(api_client())

    def _get(self, kind: tuple[str, str, str], name: str) -> Optional[dict[str, Any]]:
        try:
            return self.custom.get_namespaced_custom_object(*kind[:2], self.ctx.namespace, kind[2], name)
        except ApiException as e:
            if e.status == 404:
                return None
            raise

    def _store(self):
        from ontask.store import open_store

        return open_store(self.ctx.store_uri)

    def _observe_feedback(self, obs: Observed, cycle: int) -> None:
        """The collector's counts, the next cycle's marker and, once written, its evaluation."""
        import json

        from ontask.feedback.cycle import read_marker
        from ontask.store import StoreError

        store = self._store()
        try:
            state = json.loads(store.get_bytes(f"{self.ctx.prefix}/feedback/state.json"))
            obs.feedback = {**state["counts"], "pending": state["cycle"]["new"]}
        except StoreError:
            pass
        obs.cycle_marker = read_marker(store, self.ctx.prefix, cycle + 1)
        if obs.cycle_marker is None:
            return
        job = self._get(PYTORCHJOB, child_name(self.ctx.name, "cycle", cycle + 1))
        if job is not None:
            obs.cycle_job, msg = _condition_state((job.get("status") or {}).get("conditions"))
            if obs.cycle_job == "Failed":
                obs.messages["cycle"] = msg or "the cycle PyTorchJob failed"
        try:
            obs.evaluation = json.loads(store.get_bytes(
                f"{self.ctx.prefix}/evaluations/{candidate_version(cycle + 1)}.json"))
        except StoreError:
            pass

    def observe(self, status: TaskClassifierStatus) -> Observed:
        model_version = status.model_version
        obs = Observed()
        if model_version is not None:
            self._observe_feedback(obs, status.cycle)
        try:
            job = self.batch.read_namespaced_job(child_name(self.ctx.name, "data"), self.ctx.namespace)
            conds = [{"type": c.type, "status": c.status, "message": c.message} for c in (job.status.conditions or [])]
            obs.data, msg = _condition_state(conds)
            if obs.data == "Running" and (job.status.succeeded or 0) > 0:
                obs.data = "Succeeded"
            if msg and obs.data == "Failed":
                obs.messages["data"] = msg
        except ApiException as e:
            if e.status != 404:
                raise
        train = self._get(PYTORCHJOB, child_name(self.ctx.name, "train"))
        if train is not None:
            obs.train, msg = _condition_state((train.get("status") or {}).get("conditions"))
            if obs.train == "Failed":
                obs.messages["train"] = msg or "the PyTorchJob failed"
        for role in ("judge", "student"):
            isvc = self._get(ISVC, child_name(self.ctx.name, role))
            if isvc is None:
                continue
            ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                        for c in (isvc.get("status") or {}).get("conditions") or [])
            if role == "judge":
                obs.judge_ready = ready
            else:
                obs.student_ready = ready
                obs.student_version = ((isvc.get("metadata") or {}).get("annotations") or {}).get(
                    f"{GROUP}/model-version")
        return obs

    def model_uri(self, version: str) -> str:
        return f"{self.ctx.store_uri.rstrip('/')}/{self.ctx.prefix}/models/{version}"

    def manifest(self, role: str, status: TaskClassifierStatus, obs: Observed) -> dict[str, Any]:
        ctx = self.ctx
        model_version = status.model_version
        if role == "cycle":
            marker = obs.cycle_marker
            serving = self.model_uri(model_version)
            return training_job(ctx, marker["dataset"], marker["version"], candidate_version(marker["cycle"]),
                                serving, cycle=marker["cycle"], compare_with=serving)
        if role == "data":
            return data_job(ctx, ctx.name)
        if role == "train":
            return training_job(ctx, ctx.name, "v1", FIRST_VERSION, ctx.spec.student.model,
                                warm_start_steps=int(ctx.env.get("WARM_START_STEPS", "0")))
        if role == "judge":
            return inference_service(ctx, "judge", ctx.spec.judge.model, "judge")
        assert model_version is not None
        return inference_service(ctx, "student", self.model_uri(model_version), model_version)

    def ensure(self, role: str, status: TaskClassifierStatus, obs: Observed) -> None:
        """Create the child, or adopt the one that exists (a restarted operator); a student
        serving an older version is moved to the new one."""
        model_version = status.model_version
        body = self.manifest(role, status, obs)
        name = body["metadata"]["name"]
        try:
            if role == "data":
                self.batch.create_namespaced_job(self.ctx.namespace, body)
            else:
                kind = PYTORCHJOB if role in ("train", "cycle") else ISVC
                self.custom.create_namespaced_custom_object(*kind[:2], self.ctx.namespace, kind[2], body)
            log.info("created %s %s", role, name)
        except ApiException as e:
            if e.status != 409:
                raise
            if role == "student":
                current = self._get(ISVC, name) or {}
                have = ((current.get("metadata") or {}).get("annotations") or {}).get(f"{GROUP}/model-version")
                if have != model_version:
                    self.custom.patch_namespaced_custom_object(*ISVC[:2], self.ctx.namespace, ISVC[2], name,
                                                               {"metadata": body["metadata"], "spec": body["spec"]})
