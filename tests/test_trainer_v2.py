"""ontask's training under Kubeflow Trainer v2: the TrainJobs and the ClusterTrainingRuntime the
operator writes, checked by the real API server against the upstream CRDs with strict field
validation and by Trainer v2's own validating webhook; then a classifier whose installation
chose the TrainJob backend bootstraps, trains and serves, its TrainJob run by the real Trainer v2
and JobSet controllers (realservers/trainer.py) through the Job controller's pods, which the
kubelet stand-in runs (KServe is played by the stand-in here: tests/test_operator_e2e.py runs
its real controller)."""

from __future__ import annotations

import uuid

import pytest
from kubernetes import client as k8s

from ontask.api import TaskClassifierSpec
from ontask.operator.child_state import condition_state
from ontask.operator.context import Context
from ontask.operator.manifests import training_job
from ontask.operator.training import CLUSTER_RUNTIME, TRAINJOB, as_trainjob, training_runtime
from tests.conftest import run_cli, wait_for
from tests.kubelet_standin import JOBSET_LABEL, KubeletStandIn
from tests.operator_env import Operator, classifier_status, manifest, prepare_namespace

pytestmark = pytest.mark.slow
NS = "trainer-v2"
RUNTIME = "ontask-grpo-schemas"
JOBSET = ("jobset.x-k8s.io", "v1alpha2", "jobsets")


def _missing(sent, stored, path: str = "spec") -> list[str]:
    """Paths of `sent` that `stored` lacks (what the schema pruned)."""
    if isinstance(sent, dict):
        if not isinstance(stored, dict):
            return [path]
        return [m for k, v in sent.items() for m in _missing(v, stored.get(k), f"{path}.{k}")]
    if isinstance(sent, list):
        if not isinstance(stored, list) or len(stored) != len(sent):
            return [path]
        return [m for i, (a, b) in enumerate(zip(sent, stored)) for m in _missing(a, b, f"{path}[{i}]")]
    return [] if sent == stored or str(sent) == str(stored) else [path]


@pytest.fixture(scope="module")
def api(admin_api, trainer_v2) -> k8s.CustomObjectsApi:
    try:
        k8s.CoreV1Api(admin_api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=NS)))
    except k8s.ApiException as e:
        if e.status != 409:
            raise
    return k8s.CustomObjectsApi(admin_api)


def _strict_create(api: k8s.CustomObjectsApi, kind, body: dict, namespaced: bool = True, dry_run: bool = True):
    """Create as kubectl does by default (unknown fields refused), and return what was stored."""
    extra = {"dry_run": "All"} if dry_run else {}
    if namespaced:
        return api.create_namespaced_custom_object(*kind[:2], NS, kind[2], body, field_validation="Strict", **extra)
    return api.create_cluster_custom_object(*kind, body, field_validation="Strict", **extra)


def test_the_runtime_and_every_trainjob_ontask_writes_are_accepted_whole(api):
    runtime = training_runtime(RUNTIME, "ghcr.io/ontask/ontask:0.1.0")
    try:
        stored = _strict_create(api, CLUSTER_RUNTIME, runtime, namespaced=False, dry_run=False)
    except k8s.ApiException as e:
        if e.status != 409:
            raise
        stored = api.get_cluster_custom_object(*CLUSTER_RUNTIME, RUNTIME)
    assert _missing(runtime["spec"], stored["spec"]) == []
    spec = TaskClassifierSpec.model_validate(
        {
            "data": {"source": "s3://bucket/shots/"},
            "student": {"model": "pvc://weights/qwen", "gpus": 2, "resources": {"cpu": "8", "memory": "64Gi"}},
            "training": {"workers": 2},
            "scheduling": {
                "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H200"},
                "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            },
            "storage": {"secretRef": "s3-creds"},
        }
    )
    ctx = Context("c", NS, "0b6f5e1c-0000-4000-8000-000000000001", spec)
    jobs = [
        training_job(ctx, "c", "v1", "v1", spec.student.model),
        training_job(ctx, "c-feedback", "v3", "v2", "s3://b/m/v1", cycle=2, compare_with="s3://b/m/v1"),
    ]
    for pytorchjob in jobs:
        body = as_trainjob(pytorchjob, RUNTIME)
        body["metadata"].pop("ownerReferences")  # no TaskClassifier owns it here
        stored = _strict_create(api, TRAINJOB, body)  # through Trainer v2's validating webhook too
        assert _missing(body["spec"], stored["spec"]) == [], "pruned by the upstream schema"


def test_trainer_v2s_webhook_refuses_a_trainjob_on_a_runtime_that_does_not_exist(api):
    """What a classifier says when the runtime it names is missing: the webhook's own words."""
    ctx = Context("c", NS, "u", TaskClassifierSpec.model_validate({"data": {"source": "synthetic"}}))
    body = as_trainjob(training_job(ctx, "c", "v1", "v1", "s3://b/m"), "no-such-runtime")
    body["metadata"].pop("ownerReferences")
    with pytest.raises(k8s.ApiException) as refused:
        _strict_create(api, TRAINJOB, body)
    assert refused.value.status in (400, 403, 422), refused.value
    assert "no-such-runtime" in refused.value.body


def _runtime(api: k8s.CustomObjectsApi) -> None:
    try:
        _strict_create(api, CLUSTER_RUNTIME, training_runtime(RUNTIME), namespaced=False, dry_run=False)
    except k8s.ApiException as e:
        if e.status != 409:
            raise


def test_a_trainjob_that_keeps_failing_restarts_to_its_backoff_limit_then_fails_with_jobsets_message(
    api, admin_api, trainer_v2, tmp_path
):
    """What a cluster does with a TrainJob whose training keeps failing, and what the classifier
    reads from it: the node restarts in place until the Job's backoffLimit (3, from ontask's
    runtime), then the Job, its JobSet and the TrainJob fail, with JobSet's words."""
    _runtime(api)
    spec = TaskClassifierSpec.model_validate(
        {"data": {"source": "synthetic"}, "student": {"gpus": 0}, "training": {"workers": 2}}
    )
    ctx = Context("doomed", NS, str(uuid.uuid4()), spec, store_uri=str(tmp_path / "store"))
    # No store and no such base model here, so `ontask train` exits with an error every time it starts.
    body = as_trainjob(training_job(ctx, "doomed-data", "d1", "v1", str(tmp_path / "no-such-model")), RUNTIME)
    body["metadata"].pop("ownerReferences")
    name = body["metadata"]["name"]
    standin = KubeletStandIn(admin_api, NS, tmp_path / "kubelet", {}).start()
    try:
        _strict_create(api, TRAINJOB, body, dry_run=False)

        def state():
            got = api.get_namespaced_custom_object(*TRAINJOB[:2], NS, TRAINJOB[2], name)
            s = condition_state((got.get("status") or {}).get("conditions") or [])
            return s if s[0] == "Failed" else None

        pod = f"{name}-node-0-0"
        diagnose = lambda: f"{standin.starts}\n{trainer_v2.tail(10)}"  # noqa: E731
        outcome = wait_for(state, 240, "the TrainJob to fail", diagnose)
        # Two nodes (training.workers: 2) are the two pods of one indexed Job, whose backoffLimit
        # counts their restarts together, as a PyTorchJob's runPolicy does: failed at the third
        # (the other node may be restarting already when the Job controller decides).
        assert sorted(p.rsplit("-", 1)[0] for p in standin.starts) == [pod, f"{name}-node-0-1"], standin.starts
        assert 3 <= sum(standin.starts.values()) - len(standin.starts) <= 4, standin.starts
        # JobSet's words, which Trainer v2 copies onto the TrainJob and the classifier then shows.
        assert outcome == (
            "Failed",
            f"jobset failed due to one or more job failures (first failed job: {name}-node-0)",
        )
        # The node's own words (torchrun's report of the failed process follows them in the log).
        assert "see `ontask train --help`" in standin.log_tail(next(p for p in standin.starts if p.startswith(pod)))
    finally:
        standin.stop()


E2E_NS = "trainer-v2-e2e"
NAME = "focus"
BUCKET = f"tv2-{uuid.uuid4().hex[:6]}"
TOPIC = f"tv2-corrections-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def cluster(kube, admin_api, crd_installed, trainer_v2, s3, s3_config, kafka_bootstrap, tmp_path_factory, tiny_vlm):
    work = tmp_path_factory.mktemp("trainer-v2-e2e")
    store, standin = prepare_namespace(kube, admin_api, s3, s3_config, tiny_vlm, work, E2E_NS, BUCKET)
    # The installation chose Trainer v2 (the chart's operator.trainingBackend).
    extra = {"ONTASK_TRAINING_BACKEND": "TrainJob"}
    operator = Operator(kube, s3, kafka_bootstrap, work, E2E_NS, BUCKET, extra_env=extra).start()
    yield operator, standin, store
    operator.stop()
    standin.stop()


def test_a_classifier_trains_through_a_trainjob_under_trainer_v2_and_serves_it(cluster, kube, admin_api, trainer_v2):
    operator, standin, store = cluster
    custom = k8s.CustomObjectsApi(admin_api)
    status = lambda: classifier_status(admin_api, E2E_NS, NAME)  # noqa: E731
    diagnose = lambda: (  # noqa: E731
        f"status: {status()}\noperator: {operator.tail()}\nkubelet: {standin.runs}\n{trainer_v2.tail(15)}"
    )
    out = run_cli(
        "kubectl",
        "apply",
        "-f",
        "-",
        kubeconfig=kube.admin_kubeconfig,
        input=manifest(NAME, E2E_NS, BUCKET, TOPIC),
    )
    assert out.returncode == 0, out.stderr

    def trainjob():
        try:
            return custom.get_namespaced_custom_object(*TRAINJOB[:2], E2E_NS, TRAINJOB[2], f"{NAME}-train")
        except k8s.ApiException as e:
            if e.status == 404:
                return None
            raise

    job = wait_for(trainjob, 240, "the training TrainJob", diagnose)
    assert job["metadata"]["ownerReferences"][0]["name"] == NAME
    assert job["spec"]["runtimeRef"]["name"] == "ontask-grpo"
    args = job["spec"]["trainer"]["args"]
    assert args[:3] == ["--module", "ontask.cli", "train"] and args[args.index("--model-version") + 1] == "v1"
    # The operator made its runtime (none existed), which Trainer v2's webhook accepted.
    runtime = custom.get_cluster_custom_object(*CLUSTER_RUNTIME, "ontask-grpo")
    assert runtime["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "ontask"
    # Trainer v2 made a JobSet of it, JobSet a Job, the Job controller a pod with torchrun's rendezvous.
    jobset = wait_for(
        lambda: custom.list_namespaced_custom_object(*JOBSET[:2], E2E_NS, JOBSET[2])["items"],
        60,
        "the JobSet",
        diagnose,
    )
    assert [j["metadata"]["ownerReferences"][0]["kind"] for j in jobset] == ["TrainJob"]
    core = k8s.CoreV1Api(admin_api)
    pods = wait_for(
        lambda: core.list_namespaced_pod(E2E_NS, label_selector=f"{JOBSET_LABEL}={NAME}-train").items,
        60,
        "the TrainJob's pod",
        diagnose,
    )
    env = {e.name: e.value for e in pods[0].spec.containers[0].env}
    assert env["PET_NNODES"] == "1" and env["PET_NPROC_PER_NODE"] == "1"
    assert env["PET_MASTER_ADDR"] == f"{NAME}-train-node-0-0.{NAME}-train"
    assert pods[0].spec.security_context.run_as_non_root is True  # the runtime's pod shape

    wait_for(
        lambda: status().get("modelVersion") == "v1" and status().get("phase") == "Serving",
        480,
        "Serving v1 trained by the TrainJob",
        diagnose,
    )
    done = trainjob()
    assert any(c["type"] == "Complete" and c["status"] == "True" for c in done["status"]["conditions"]), done
    assert list(store.list(f"namespaces/{E2E_NS}/classifiers/{NAME}/models/v1/")), "the TrainJob wrote no model"
