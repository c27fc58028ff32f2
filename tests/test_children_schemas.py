"""Every child the operator writes, checked by the real API server against the real upstream CRDs
(KServe's InferenceService, the training operator's PyTorchJob; see scripts/servers/build.sh)
and, for PyTorchJobs, by the training operator's own validating webhook: accepted, and with
nothing pruned, since a field the schema does not know is dropped silently and a cluster would
then run something else than the operator meant."""

from __future__ import annotations

import pytest
from kubernetes import client as k8s

from ontask.api import TaskClassifierSpec
from ontask.operator.context import Context
from ontask.operator.kube_children import ISVC
from ontask.operator.manifests import data_job, feedback_collector, inference_service, training_job, vllm_judge_service
from ontask.operator.training import PYTORCHJOB

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


PLATFORM = {
    **SCHEDULING,
    "labels": {"team": "vision", "cost-center": "ml-42"},
    "annotations": {"example.com/owner": "vision-team@example.com"},
    "roles": {
        "training": {"labels": {"workload": "training"}, "annotations": {"example.com/budget": "gpu-hours"}},
        "serving": {"labels": {"workload": "serving"}},
    },
    "queueName": "team-a",
    "imagePullSecrets": ["regcred"],
}


def _every_child(ctx: Context) -> dict[str, tuple[dict, dict, dict]]:
    """role -> (child, its pod template's metadata, its pod spec) for every kind of child."""
    out = {}
    for role, job in (
        ("train", training_job(ctx, "c", "v1", "v1", "m")),
        ("cycle", training_job(ctx, "c", "v3", "v2", "s3://b/m/v1", cycle=2)),
    ):
        for replica in job["spec"]["pytorchReplicaSpecs"].values():
            out[role] = (job, replica["template"]["metadata"], replica["template"]["spec"])
    data = data_job(ctx, "c")
    out["data"] = (data, data["spec"]["template"]["metadata"], data["spec"]["template"]["spec"])
    collector = feedback_collector(ctx)
    out["feedback"] = (collector, collector["spec"]["template"]["metadata"], collector["spec"]["template"]["spec"])
    for role, isvc in (
        ("student", inference_service(ctx, "student", "s3://b/m/v1", "v1")),
        ("judge", vllm_judge_service(ctx)),
    ):
        predictor = isvc["spec"]["predictor"]
        meta = {"labels": predictor.get("labels", {}), "annotations": predictor.get("annotations", {})}
        out[role] = (isvc, meta, predictor)
    return out


def test_every_child_and_its_pods_carry_the_users_labels_annotations_and_pull_secrets():
    ctx = _ctx(scheduling=PLATFORM, training={"workers": 2})
    for role, (child, pod_meta, pod) in _every_child(ctx).items():
        labels, annotations = child["metadata"]["labels"], child["metadata"]["annotations"]
        assert {"team": "vision", "cost-center": "ml-42"}.items() <= labels.items(), role
        assert {"team": "vision", "cost-center": "ml-42"}.items() <= pod_meta["labels"].items(), role
        assert annotations["example.com/owner"] == pod_meta["annotations"]["example.com/owner"], role
        assert pod["imagePullSecrets"] == [{"name": "regcred"}], role
        # ontask's own labels stay: the operator finds its children by them.
        assert labels["ontask.dev/classifier"] == "c" and labels["app.kubernetes.io/managed-by"] == "ontask"
        batch, training = role in ("train", "cycle", "data"), role in ("train", "cycle")
        # Kueue admits the batch children against the namespace's LocalQueue.
        assert labels.get("kueue.x-k8s.io/queue-name") == ("team-a" if batch else None), role
        # Batch pods stay out of an Istio mesh (a sidecar would keep them running); servers do not.
        assert pod_meta["labels"].get("sidecar.istio.io/inject") == ("false" if batch else None), role
        assert (labels.get("workload"), pod_meta["labels"].get("workload")) == (
            ("training",) * 2 if training else ("serving",) * 2 if role in ("student", "judge") else (None, None)
        ), role
        assert ("example.com/budget" in annotations) == training, role
    # KServe's own annotations win over a user's of the same key.
    isvc = inference_service(
        _ctx(scheduling={"annotations": {"serving.kserve.io/deploymentMode": "Serverless"}}), "student", "s3://b", "v1"
    )
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"


def test_a_user_label_turns_istio_injection_back_on_and_ontasks_labels_cannot_be_taken():
    ctx = _ctx(scheduling={"labels": {"sidecar.istio.io/inject": "true", "ontask.dev/classifier": "other"}})
    job = training_job(ctx, "c", "v1", "v1", "m")
    pod_labels = job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["metadata"]["labels"]
    assert pod_labels["sidecar.istio.io/inject"] == "true"
    assert job["metadata"]["labels"]["ontask.dev/classifier"] == "c" and pod_labels["ontask.dev/classifier"] == "c"


def test_invalid_labels_are_refused_with_the_field():
    with pytest.raises(ValueError, match="not a label value"):
        TaskClassifierSpec.model_validate({"data": {"source": "synthetic"}, "scheduling": {"labels": {"a": "x y"}}})
    with pytest.raises(ValueError, match="not a Kubernetes qualified name"):
        TaskClassifierSpec.model_validate(
            {"data": {"source": "synthetic"}, "scheduling": {"roles": {"data": {"annotations": {"bad key": "v"}}}}}
        )


def test_children_with_platform_labels_and_pull_secrets_pass_the_upstream_schemas_whole(api, admin_api):
    ctx = _ctx(scheduling=PLATFORM, judge={"runtime": "vllm", "gpus": 2}, training={"workers": 2})
    children = _every_child(ctx)
    _accepted_whole(api, PYTORCHJOB, children["train"][0])
    _accepted_whole(api, PYTORCHJOB, children["cycle"][0])
    _accepted_whole(api, ISVC, children["student"][0])  # KServe keeps the predictor's pod labels
    _accepted_whole(api, ISVC, children["judge"][0])
    for role, create in (
        ("data", k8s.BatchV1Api(admin_api).create_namespaced_job),
        ("feedback", k8s.AppsV1Api(admin_api).create_namespaced_deployment),
    ):
        body = children[role][0]
        body["metadata"].pop("ownerReferences")
        stored = admin_api.sanitize_for_serialization(create(NS, body, dry_run="All"))
        assert stored["spec"]["template"]["metadata"]["labels"]["team"] == "vision"
        assert stored["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": "regcred"}]


def _s3_env(container: dict) -> dict[str, dict]:
    return {e["name"]: e.get("valueFrom", {}).get("secretKeyRef") for e in container.get("env") or []}


def test_jobs_and_predictors_read_one_s3_secret_in_kserves_format_under_one_service_account():
    ctx = _ctx(storage={"secretRef": "s3-keys", "serviceAccountName": "s3-reader"})
    for role, (_, _, pod) in _every_child(ctx).items():
        assert pod["serviceAccountName"] == "s3-reader", role  # the storage initializer's and the jobs' identity
        env = _s3_env((pod.get("containers") or [pod.get("model")])[0])
        assert env["AWS_ACCESS_KEY_ID"] == {"name": "s3-keys", "key": "AWS_ACCESS_KEY_ID"}, role
        assert env["AWS_SECRET_ACCESS_KEY"] == {"name": "s3-keys", "key": "AWS_SECRET_ACCESS_KEY"}, role
    # No Secret anywhere: no keys at all, the pods' cloud identity (IRSA, EKS Pod Identity).
    ctx = _ctx(storage={"serviceAccountName": "irsa-role"})
    for role, (_, _, pod) in _every_child(ctx).items():
        assert pod["serviceAccountName"] == "irsa-role", role
        containers = pod.get("containers") or [pod["model"]]
        assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & set(_s3_env(containers[0])), role


def test_a_pinned_hub_model_reaches_the_job_and_kserve_in_their_own_forms():
    ctx = _ctx(judge={"runtime": "vllm", "model": "hf://Qwen/Qwen2.5-VL-72B-Instruct@a1b2c3d"})
    job = training_job(ctx, "c", "v1", "v1", "hf://Qwen/Qwen2.5-VL-3B-Instruct@66285546d2b8")
    args = job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--base-model") + 1] == "hf://Qwen/Qwen2.5-VL-3B-Instruct:66285546d2b8"
    # KServe's storage initializer reads hf://org/name:revision.
    assert vllm_judge_service(ctx)["spec"]["predictor"]["model"]["storageUri"] == (
        "hf://Qwen/Qwen2.5-VL-72B-Instruct:a1b2c3d"
    )


def test_finished_cycle_jobs_are_deleted_by_name_and_leftovers_swept_from_the_index(api, admin_api, monkeypatch):
    from ontask.operator import kube_children
    from ontask.operator.kube_children import ChildIndexes, KubeChildren

    monkeypatch.setattr(kube_children, "api_client", lambda: admin_api)
    ctx = Context("prune", NS, "0b6f5e1c-0000-4000-8000-000000000002", _ctx(student={"gpus": 0}).spec)
    for n in (1, 2, 3, 4):
        body = training_job(ctx, "prune-feedback", f"v{n}", f"v{n + 1}", "s3://b/m/v1", cycle=n)
        body["metadata"].pop("ownerReferences")
        api.create_namespaced_custom_object(*PYTORCHJOB[:2], NS, PYTORCHJOB[2], body)

    def names() -> set[str]:
        listed = api.list_namespaced_custom_object(
            *PYTORCHJOB[:2], NS, PYTORCHJOB[2], label_selector="ontask.dev/classifier=prune"
        )["items"]
        return {j["metadata"]["name"] for j in listed if not j["metadata"].get("deletionTimestamp")}

    # Without an index (no list allowed): the cycle the plan moved out of the window, by name.
    assert KubeChildren(ctx).prune_cycle_jobs([2], 2) == ["prune-cycle-c2"]
    assert names() == {"prune-cycle-c1", "prune-cycle-c3", "prune-cycle-c4"}
    # With kopf's index: also the older leftover, never a job past `through`.
    jobs = api.list_namespaced_custom_object(*PYTORCHJOB[:2], NS, PYTORCHJOB[2])["items"]
    index = {(NS, j["metadata"]["name"]): [j] for j in jobs}
    indexed = KubeChildren(ctx, ChildIndexes({}, index, {}, {}))
    assert indexed.prune_cycle_jobs([3], 3) == ["prune-cycle-c1", "prune-cycle-c3"]
    assert names() == {"prune-cycle-c4"}
    assert indexed.prune_cycle_jobs([3], 3) == []  # gone already: nothing to do, no error
    api.delete_namespaced_custom_object(*PYTORCHJOB[:2], NS, PYTORCHJOB[2], "prune-cycle-c4")


def test_the_vllm_judge_runs_as_kserves_runtime_user_and_ontasks_pods_as_ontasks():
    """KServe's Hugging Face image runs as its own user with HOME and the Hub caches in its home:
    the judge's pod is non-root with RuntimeDefault seccomp but no forced uid; ontask's own pods keep
    the image's uid 10001."""
    ctx = _ctx(judge={"runtime": "vllm", "gpus": 2})
    judge = vllm_judge_service(ctx)["spec"]["predictor"]["securityContext"]
    assert judge == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    student = inference_service(ctx, "student", "s3://b/m/v1", "v1")["spec"]["predictor"]["securityContext"]
    assert student["runAsUser"] == 10001 and student["runAsNonRoot"] is True
