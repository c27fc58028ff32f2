"""The two training backends behind one interface (ontask/operator/training.py): which one an
installation uses, what a TrainJob carries of the training run that a PyTorchJob describes, and
how a classifier reads Running / Succeeded / Failed (with the controller's message) from either.
The conditions below are those Kubeflow Trainer v2.1 writes (copied from its JobSet's:
pkg/runtime/framework/plugins/jobset) and the training operator v1.9 writes."""

from __future__ import annotations

import pytest
from kubernetes import client as k8s

from ontask.api import TaskClassifierSpec, TaskClassifierStatus
from ontask.operator import kube_children
from ontask.operator.child_state import condition_state
from ontask.operator.children import Children
from ontask.operator.context import Context
from ontask.operator.kube_children import ChildIndexes, KubeChildren, context_for
from ontask.operator.manifests import training_job
from ontask.operator.reconcile import Observed
from ontask.operator.settings import OperatorSettings
from ontask.operator.training import BackendResolver, as_trainjob, choose_backend, training_runtime

SPEC = {
    "data": {"source": "synthetic"},
    "student": {"model": "pvc://weights/qwen-3b", "gpus": 2, "resources": {"cpu": "8", "memory": "64Gi"}},
    "training": {"workers": 3},
    "scheduling": {
        "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H200"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    },
    "storage": {"secretRef": "s3-creds"},
}

# What Trainer v2.1 writes on a TrainJob as its JobSet runs, finishes and fails.
TRAINJOB_RUNNING: list = []
TRAINJOB_SUSPENDED = [
    {"type": "Suspended", "status": "True", "reason": "Suspended", "message": "TrainJob is suspended"}
]
TRAINJOB_COMPLETE = [
    {"type": "Complete", "status": "True", "reason": "AllJobsCompleted", "message": "jobset completed successfully"}
]
TRAINJOB_FAILED = [
    {
        "type": "Failed",
        "status": "True",
        "reason": "FailedJobs",
        "message": "jobset failed due to one or more job failures",
    }
]
TRAINJOB_UNSUPPORTED = [
    {
        "type": "Failed",
        "status": "True",
        "reason": "TrainingRuntimeNotSupported",
        "message": "Specified runtime is not supported: ontask-grpo",
    }
]


def _ctx(backend: str = "TrainJob", **spec) -> Context:
    return Context(
        "desk", "team", "uid-1", TaskClassifierSpec.model_validate({**SPEC, **spec}), training_backend=backend
    )


@pytest.mark.parametrize(
    "conditions, state",
    [
        (TRAINJOB_RUNNING, ("Running", "")),
        (TRAINJOB_SUSPENDED, ("Running", "")),  # queued by Kueue: not failed, not done
        (TRAINJOB_COMPLETE, ("Succeeded", "jobset completed successfully")),
        (TRAINJOB_FAILED, ("Failed", "jobset failed due to one or more job failures")),
        (TRAINJOB_UNSUPPORTED, ("Failed", "Specified runtime is not supported: ontask-grpo")),
        ([{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}], ("Failed", "BackoffLimitExceeded")),
        ([{"type": "Failed", "status": "False", "reason": "x"}], ("Running", "")),
    ],
)
def test_a_trainjobs_conditions_read_as_a_pytorchjobs_do(conditions, state):
    assert condition_state(conditions) == state


def test_auto_picks_what_the_cluster_serves_and_keeps_pytorchjob_where_it_serves_both():
    assert choose_backend("auto", {"TrainJob"}) == "TrainJob"
    assert choose_backend("auto", {"PyTorchJob"}) == "PyTorchJob"
    assert choose_backend("auto", {"PyTorchJob", "TrainJob"}) == "PyTorchJob"
    assert choose_backend("TrainJob", {"PyTorchJob"}) == "TrainJob"  # said, then CRDMissing says what to install


def test_auto_asks_again_while_the_cluster_serves_neither_then_keeps_its_choice():
    answers = [set(), {"TrainJob"}, {"PyTorchJob"}]
    asked = []

    def discover():
        asked.append(1)
        return answers[len(asked) - 1]

    resolve = BackendResolver(discover, retry=0.0)
    assert resolve("auto") == "PyTorchJob"  # nothing served yet: the default, asked again later
    assert resolve("auto") == "TrainJob"  # Trainer v2 installed since
    assert resolve("auto") == "TrainJob" and len(asked) == 2  # chosen: not asked again
    assert resolve("PyTorchJob") == "PyTorchJob"


def test_discovery_that_fails_does_not_stop_reconciling():
    def discover():
        raise k8s.ApiException(status=503, reason="Service Unavailable")

    assert BackendResolver(discover, retry=0.0)("auto") == "PyTorchJob"


def test_the_chart_value_reaches_the_context(monkeypatch):
    monkeypatch.setattr(kube_children, "_BACKEND", BackendResolver(lambda: {"PyTorchJob"}))
    meta = {"name": "desk", "namespace": "team", "uid": "u"}
    spec = TaskClassifierSpec.model_validate(SPEC)
    settings = OperatorSettings.from_env({"ONTASK_TRAINING_BACKEND": "TrainJob", "ONTASK_TRAINING_RUNTIME": "gpu-rt"})
    ctx = context_for(meta, spec, settings)
    assert (ctx.training_backend, ctx.training_runtime) == ("TrainJob", "gpu-rt")
    assert context_for(meta, spec, OperatorSettings.from_env({})).training_backend == "PyTorchJob"  # auto


def test_a_trainjob_runs_what_the_pytorchjob_describes():
    ctx = _ctx()
    pytorchjob = training_job(ctx, "desk", "v1", "v1", ctx.spec.student.model)
    job = as_trainjob(pytorchjob, "ontask-grpo")
    master = pytorchjob["spec"]["pytorchReplicaSpecs"]["Master"]["template"]
    container = master["spec"]["containers"][0]
    trainer = job["spec"]["trainer"]
    assert job["kind"] == "TrainJob" and job["metadata"] == pytorchjob["metadata"]  # name, labels, owner
    assert job["spec"]["runtimeRef"] == {
        "name": "ontask-grpo",
        "apiGroup": "trainer.kubeflow.org",
        "kind": "ClusterTrainingRuntime",
    }
    # Master + 2 Workers are 3 nodes; 2 GPUs each are 2 torchrun processes per node.
    assert (trainer["numNodes"], trainer["numProcPerNode"]) == (3, 2)
    assert trainer["command"] == ["torchrun"] and trainer["args"][:3] == ["--module", "ontask.cli", "train"]
    assert trainer["args"][2:] == container["args"][2:]  # already under torchrun in the PyTorchJob
    assert trainer["env"] == container["env"] and trainer["resourcesPerNode"] == container["resources"]
    assert trainer["resourcesPerNode"]["limits"]["nvidia.com/gpu"] == "2"
    (override,) = job["spec"]["podTemplateOverrides"]
    assert override["targetJobs"] == [{"name": "node"}]
    pod = override["spec"]
    assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H200"}
    assert pod["tolerations"] == master["spec"]["tolerations"]
    # The checkpoint's claim and /dev/shm, mounted where the PyTorchJob mounts them.
    assert pod["volumes"] == master["spec"]["volumes"]
    assert pod["containers"] == [{"name": "node", "volumeMounts": container["volumeMounts"]}]


def test_a_one_gpu_training_runs_under_torchrun_with_one_process():
    ctx = _ctx(student={"model": "s3://b/base", "gpus": 1}, training={"workers": 1}, scheduling={})
    pytorchjob = training_job(ctx, "desk", "v1", "v1", ctx.spec.student.model)
    trainer = as_trainjob(pytorchjob)["spec"]["trainer"]
    container = pytorchjob["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]
    assert container.get("command") is None  # `ontask train` itself under the training operator
    assert trainer["args"] == ["--module", "ontask.cli", *container["args"]]
    assert (trainer["numNodes"], trainer["numProcPerNode"]) == (1, 1)


def test_the_runtime_gives_every_pod_the_restricted_shape_of_a_pytorchjobs_pods():
    ctx = _ctx()
    pod_of_pytorchjob = training_job(ctx, "d", "v1", "v1", "s3://b/m")["spec"]["pytorchReplicaSpecs"]["Master"]
    runtime = training_runtime("ontask-grpo", ctx.image)
    (job,) = runtime["spec"]["template"]["spec"]["replicatedJobs"]
    assert job["name"] == "node"
    assert job["template"]["metadata"]["labels"] == {"trainer.kubeflow.org/trainjob-ancestor-step": "trainer"}
    assert job["template"]["spec"]["backoffLimit"] == 3
    pod = job["template"]["spec"]["template"]["spec"]
    theirs = pod_of_pytorchjob["template"]["spec"]
    assert pod["securityContext"] == theirs["securityContext"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["restartPolicy"] == pod_of_pytorchjob["restartPolicy"] == "OnFailure"
    assert pod["containers"][0]["name"] == "node"
    assert pod["containers"][0]["securityContext"] == theirs["containers"][0]["securityContext"]


def _kube(monkeypatch, ctx: Context, pytorchjobs=None, trainjobs=None) -> KubeChildren:
    monkeypatch.setattr(kube_children, "api_client", lambda: k8s.ApiClient())
    return KubeChildren(ctx, ChildIndexes({}, pytorchjobs or {}, {}, {}, trainjobs or {}))


def test_the_classifier_reads_its_training_from_a_trainjob(monkeypatch):
    ctx = _ctx()
    job = as_trainjob(training_job(ctx, "desk", "v1", "v1", "s3://b/m"))
    trainjobs = {("team", "desk-train"): [job]}
    kube = _kube(monkeypatch, ctx, trainjobs=trainjobs)
    assert kube.job_state("training", "desk-train") == ("Running", "")
    job["status"] = {"conditions": TRAINJOB_FAILED}
    assert kube.job_state("training", "desk-train") == ("Failed", "jobset failed due to one or more job failures")
    obs = kube.observe(TaskClassifierStatus())
    assert obs.train == "Failed" and obs.messages["train"] == "jobset failed due to one or more job failures"
    job["status"] = {"conditions": TRAINJOB_COMPLETE}
    assert kube.observe(TaskClassifierStatus()).train == "Succeeded"


def test_a_pytorchjob_made_before_the_backend_changed_is_still_read_not_made_twice(monkeypatch):
    """Trainer v2 installed (and chosen) while a classifier trains under the training operator:
    its PyTorchJob is what the classifier reads, so no TrainJob of the same run is made."""
    ctx = _ctx()
    old = training_job(ctx, "desk", "v1", "v1", "s3://b/m")
    old["status"] = {"conditions": [{"type": "Succeeded", "status": "True", "reason": "PyTorchJobSucceeded"}]}
    kube = _kube(monkeypatch, ctx, pytorchjobs={("team", "desk-train"): [old]})
    assert kube.observe(TaskClassifierStatus()).train == "Succeeded"


def test_the_backend_builds_the_train_and_cycle_children(monkeypatch):
    status = TaskClassifierStatus()
    for backend, kind in (("TrainJob", "TrainJob"), ("PyTorchJob", "PyTorchJob")):
        body = Children(_ctx(backend)).manifest("train", status, Observed(now=0.0))
        assert body["kind"] == kind and body["metadata"]["name"] == "desk-train"


def test_a_refused_trainjob_says_what_to_install():
    from ontask.operator.child_errors import child_error

    body = {"kind": "TrainJob", "apiVersion": "trainer.kubeflow.org/v1alpha1", "metadata": {"name": "desk-train"}}
    error = child_error("train", body, 404, "the server could not find the requested resource")
    assert error.reason == "CRDMissing"
    assert "Kubeflow Trainer v2 (and JobSet)" in error.message
