"""Every child the operator writes, checked by the real API server against the real upstream CRDs
(KServe's InferenceService, the training operator's PyTorchJob; see scripts/servers/build.sh)
and, for PyTorchJobs, by the training operator's own validating webhook: accepted, and with
nothing pruned, since a field the schema does not know is dropped silently and a cluster would
then run something else than the operator meant."""

from __future__ import annotations

import pytest
from kubernetes import client as k8s

from ontask.operator.children import ISVC, PYTORCHJOB
from ontask.operator.manifests import (
    Context,
    data_job,
    feedback_collector,
    inference_service,
    training_job,
    vllm_judge_service,
)
from ontask.spec import TaskClassifierSpec

NS = "schemas"


@pytest.fixture(scope="module")
def api(admin_api: k8s.ApiClient, crd_installed, training_operator) -> k8s.CustomObjectsApi:
    try:
        k8s.CoreV1Api(admin_api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=NS)))
    except k8s.ApiException as e:
        if e.status != 409:
            raise
    return k8s.CustomObjectsApi(admin_api)


SCHEDULING = {
    "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H200"},
    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    "priorityClassName": "gpu-training",
}


def _ctx(**spec) -> Context:
    body = {
        "data": {"source": "s3://bucket/shots/"},
        "student": {"gpus": 2, "resources": {"cpu": "8", "memory": "64Gi"}},
        "scheduling": SCHEDULING,
        **spec,
    }
    return Context("c", NS, "0b6f5e1c-0000-4000-8000-000000000001", TaskClassifierSpec.model_validate(body))


def _accepted_whole(api: k8s.CustomObjectsApi, kind: tuple[str, str, str], body: dict) -> None:
    body = {**body, "metadata": {k: v for k, v in body["metadata"].items() if k != "ownerReferences"}}
    stored = api.create_namespaced_custom_object(*kind[:2], NS, kind[2], body, dry_run="All")
    # Defaults the schema adds are fine; a field it dropped is not.
    assert _missing(body["spec"], stored["spec"]) == [], "pruned by the upstream schema"


def _missing(sent, stored, path: str = "spec") -> list[str]:
    if isinstance(sent, dict):
        if not isinstance(stored, dict):
            return [path]
        return [
            p
            for k, v in sent.items()
            for p in (_missing(v, stored[k], f"{path}.{k}") if k in stored else [f"{path}.{k}"])
        ]
    if isinstance(sent, list):
        if not isinstance(stored, list) or len(stored) != len(sent):
            return [path]
        return [p for i, (a, b) in enumerate(zip(sent, stored)) for p in _missing(a, b, f"{path}[{i}]")]
    return [] if sent == stored or str(sent) == str(stored) else [path]


def test_student_and_judge_inference_services_pass_kserves_schema_whole(api):
    ctx = _ctx(judge={"runtime": "transformers", "gpus": 1}, storage={"serviceAccountName": "s3-reader"})
    isvc = inference_service(ctx, "student", "s3://b/classifiers/c/models/v1", "v1")
    assert isvc["spec"]["predictor"]["serviceAccountName"] == "s3-reader"  # KServe's storage credentials
    _accepted_whole(api, ISVC, inference_service(ctx, "student", "s3://b/classifiers/c/models/v1", "v1"))
    _accepted_whole(api, ISVC, inference_service(ctx, "judge", "hf://Qwen/Qwen2.5-VL-72B-Instruct", "judge"))


def test_the_vllm_judge_on_the_huggingface_runtime_passes_kserves_schema_whole(api):
    _accepted_whole(api, ISVC, vllm_judge_service(_ctx(judge={"runtime": "vllm", "gpus": 4})))


def test_a_vllm_judge_is_what_kserves_real_huggingface_runtime_serves(api):
    """Read against the runtime KServe installs (config/runtimes/kserve-huggingfaceserver.yaml,
    applied to the API server): its model format is one the runtime auto-selects for; KServe
    appends the predictor's args to the runtime's, so the judge's model name is the last one
    given; and the runtime's /dev/shm volume and the judge's are one volume after KServe merges
    the pod specs by volume name."""
    runtime = api.get_cluster_custom_object(
        "serving.kserve.io", "v1alpha1", "clusterservingruntimes", "kserve-huggingfaceserver"
    )
    judge = vllm_judge_service(_ctx(judge={"runtime": "vllm", "gpus": 2}))["spec"]["predictor"]
    formats = runtime["spec"]["supportedModelFormats"]
    assert any(f["name"] == judge["model"]["modelFormat"]["name"] and f.get("autoSelect") for f in formats)
    args = runtime["spec"]["containers"][0]["args"] + judge["model"]["args"]
    assert [a for a in args if a.startswith("--model_name=")][-1] == "--model_name=judge"
    shm = {v["name"] for v in runtime["spec"]["volumes"] if v.get("emptyDir", {}).get("medium") == "Memory"}
    assert {v["name"] for v in judge["volumes"]} == shm


def test_a_canary_passes_kserves_schema_whole(api):
    ctx = _ctx()
    ctx.kserve_mode = "Serverless"
    body = inference_service(ctx, "student", "s3://b/classifiers/c/models/v2", "v2", canary_percent=10)
    _accepted_whole(api, ISVC, body)


def test_training_and_cycle_pytorchjobs_pass_the_training_operators_schema_whole(api):
    ctx = _ctx(training={"workers": 3})
    job = training_job(ctx, "c", "v1", "v1", "Qwen/Qwen2.5-VL-3B-Instruct")
    args = job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--base-model") + 1] == "hf://Qwen/Qwen2.5-VL-3B-Instruct"  # a Hub id, fetched as such
    _accepted_whole(api, PYTORCHJOB, job)
    _accepted_whole(
        api, PYTORCHJOB, training_job(ctx, "c-feedback", "v3", "v2", "s3://b/m/v1", cycle=2, compare_with="s3://b/m/v1")
    )


def test_the_training_operators_webhook_judges_pytorchjobs(api):
    """The webhook is live: a PyTorchJob without the `pytorch` container it requires is refused
    with its message, so the jobs accepted above were checked by it too."""
    body = training_job(_ctx(), "c", "v1", "v1", "m")
    body["metadata"].pop("ownerReferences")
    body["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]["name"] = "trainer"
    with pytest.raises(k8s.ApiException) as refused:
        api.create_namespaced_custom_object(*PYTORCHJOB[:2], NS, PYTORCHJOB[2], body, dry_run="All")
    assert "validator.pytorchjob.training-operator.kubeflow.org" in refused.value.body
    assert "must have at least one container with name pytorch" in refused.value.body


def test_the_feedback_collector_is_a_valid_deployment_of_one_replaced_replica(admin_api):
    ctx = _ctx()
    ctx.kafka_bootstrap = "kafka.kafka:9092"
    body = feedback_collector(ctx)
    body["metadata"].pop("ownerReferences")
    stored = k8s.AppsV1Api(admin_api).create_namespaced_deployment(NS, body, dry_run="All")
    assert stored.spec.replicas == 1 and stored.spec.strategy.type == "Recreate"
    args = stored.spec.template.spec.containers[0].args
    assert args[:2] == ["feedback", "collect"] and args[args.index("--config") + 1].startswith("env:")
    env = {e.name for e in stored.spec.template.spec.containers[0].env}
    assert {"ONTASK_KAFKA_BOOTSTRAP", "ONTASK_CLASSIFIER_SPEC"} <= env


def test_the_data_job_is_a_valid_batch_job(api, admin_api):
    body = data_job(_ctx(), "c")
    body["metadata"].pop("ownerReferences")
    stored = k8s.BatchV1Api(admin_api).create_namespaced_job(NS, body, dry_run="All")
    assert stored.spec.template.spec.containers[0].args == body["spec"]["template"]["spec"]["containers"][0]["args"]


def test_gpu_pods_go_where_the_spec_places_them_and_cpu_pods_anywhere():
    ctx = _ctx(judge={"runtime": "vllm", "gpus": 4, "resources": {"memory": "400Gi"}})
    pod = training_job(ctx, "c", "v1", "v1", "m")["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]
    assert pod["nodeSelector"] == SCHEDULING["nodeSelector"] and pod["priorityClassName"] == "gpu-training"
    assert pod["tolerations"] == SCHEDULING["tolerations"]
    assert pod["containers"][0]["resources"]["limits"] == {"cpu": "8", "memory": "64Gi", "nvidia.com/gpu": "2"}
    assert {"name": "devshm", "mountPath": "/dev/shm"} in pod["containers"][0]["volumeMounts"]
    # Two GPUs per worker: two processes under torchrun, which the training operator sizes.
    job = training_job(ctx, "c", "v1", "v1", "m")
    assert job["spec"]["nprocPerNode"] == "2"
    assert pod["containers"][0]["command"] == ["torchrun"] and pod["containers"][0]["args"][:3] == [
        "--module",
        "ontask.cli",
        "train",
    ]
    one = training_job(_ctx(student={"gpus": 1}), "c", "v1", "v1", "m")
    assert "nprocPerNode" not in one["spec"]
    assert "command" not in one["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]
    judge = vllm_judge_service(ctx)["spec"]["predictor"]
    assert judge["nodeSelector"] == SCHEDULING["nodeSelector"]
    assert judge["model"]["resources"]["limits"] == {"cpu": "16", "memory": "400Gi", "nvidia.com/gpu": "4"}
    data = data_job(ctx, "c")["spec"]["template"]["spec"]
    assert "nodeSelector" not in data and "tolerations" not in data  # no GPU: any node
    assert data["containers"][0]["resources"]["limits"] == {"cpu": "2", "memory": "4Gi"}


def test_a_pvc_source_and_a_pvc_student_are_mounted_read_only_and_read_from_there(api, admin_api):
    ctx = _ctx(data={"source": "pvc://team-shots/2026/desk"}, student={"model": "pvc://models/qwen-3b", "gpus": 0})
    job = data_job(ctx, "c")
    pod = job["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    assert args[:3] == ["data", "prepare", "/mnt/pvc/team-shots/2026/desk"]
    [volume] = pod["volumes"]
    assert volume["persistentVolumeClaim"] == {"claimName": "team-shots", "readOnly": True}
    assert pod["containers"][0]["volumeMounts"] == [
        {"name": volume["name"], "mountPath": "/mnt/pvc/team-shots", "readOnly": True}
    ]
    job["metadata"].pop("ownerReferences")
    k8s.BatchV1Api(admin_api).create_namespaced_job(NS, job, dry_run="All")
    train = training_job(ctx, "c", "v1", "v1", ctx.spec.student.model)
    master = train["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]
    args = master["containers"][0]["args"]
    assert args[args.index("--base-model") + 1] == "/mnt/pvc/models/qwen-3b"
    assert master["volumes"][0]["persistentVolumeClaim"]["claimName"] == "models"
    _accepted_whole(api, PYTORCHJOB, train)
