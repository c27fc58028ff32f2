"""ontask's PyTorchJobs under the Kubeflow training operator's real controller
(realservers/training_operator.py), whose pods the kubelet stand-in runs: what a cluster does with
a training job that keeps failing, and what the classifier then reads from it."""

from __future__ import annotations

import uuid

import pytest
from kubernetes import client as k8s

from ontask.api import TaskClassifierSpec
from ontask.operator.child_state import condition_state
from ontask.operator.context import Context
from ontask.operator.manifests import training_job
from ontask.operator.training import PYTORCHJOB
from tests.conftest import wait_for
from tests.kubelet_standin import JOB_LABEL, KubeletStandIn

NS = "training-operator-jobs"
pytestmark = pytest.mark.slow


def test_a_training_job_that_keeps_failing_restarts_to_its_backoff_limit_then_fails_and_frees_its_pods(
    admin_api, training_operator, tmp_path
):
    core, custom = k8s.CoreV1Api(admin_api), k8s.CustomObjectsApi(admin_api)
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=NS)))
    spec = TaskClassifierSpec.model_validate({"data": {"source": "synthetic"}, "student": {"gpus": 0}})
    # No such base model here, so `ontask train` exits with an error every time it starts.
    ctx = Context("doomed", NS, str(uuid.uuid4()), spec, store_uri=str(tmp_path / "store"))
    job = training_job(ctx, "doomed-data", "d1", "v1", str(tmp_path / "no-such-model"))
    job["metadata"].pop("ownerReferences")  # no TaskClassifier owns it here
    name = job["metadata"]["name"]
    standin = KubeletStandIn(admin_api, NS, tmp_path / "kubelet", {}).start()
    try:
        custom.create_namespaced_custom_object(*PYTORCHJOB[:2], NS, PYTORCHJOB[2], job)

        def state():
            got = custom.get_namespaced_custom_object(*PYTORCHJOB[:2], NS, PYTORCHJOB[2], name)
            s = condition_state((got.get("status") or {}).get("conditions") or [])
            return s if s[0] == "Failed" else None

        outcome = wait_for(state, 240, "the PyTorchJob to fail", lambda: standin.log_tail(f"{name}-master-0"))
        # Master and Worker restarted in place until their restarts together reached
        # runPolicy.backoffLimit (3).
        assert set(standin.starts) == {f"{name}-master-0", f"{name}-worker-0"}
        assert sum(standin.starts.values()) - len(standin.starts) == 3, standin.starts
        assert "reached the specified backoff limit" in outcome[1]
        assert "ontask train: error:" in standin.log_tail(f"{name}-master-0")  # what each run said
        # cleanPodPolicy Running: the crash-looping pod is deleted, so a failed job holds no GPU.
        wait_for(
            lambda: not core.list_namespaced_pod(NS, label_selector=f"{JOB_LABEL}={name}").items,
            60,
            "the failed job's pods to be deleted",
        )
    finally:
        standin.stop()
