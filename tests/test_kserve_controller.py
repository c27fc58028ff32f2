"""The operator's InferenceServices under KServe's real controller manager (v0.20, Standard mode;
realservers/kserve.py): what KServe makes of them (the predictor Deployment, its pods with the
storage initializer its webhook injects, the ServiceAccount's S3 credentials), its webhook's
rewrite of the deployment mode, and when the operator counts a new model version as served.

KServe runs for this module and the end-to-end test's (tests/conftest.py, kserve_controller);
the canary test plays KServe's Serverless mode with the kubelet stand-in (it needs Knative,
which cannot run here), and two controllers would fight over the same status. No kubelet runs
here either, so this test writes the predictor pods' status as a kubelet would
(`_kubelet_runs`; the end-to-end test's kubelet stand-in runs them)."""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Optional

import pytest
from kubernetes import client as k8s

from ontask.api import TaskClassifierSpec
from ontask.operator import kube_children
from ontask.operator.child_state import contains
from ontask.operator.context import Context
from ontask.operator.kube_children import ISVC, KubeChildren
from ontask.operator.manifests import MODE_ANNOTATION, PREDICTOR_METRICS_PORT, inference_service, vllm_judge_service
from ontask.operator.names import predictor_deployment
from tests.conftest import wait_for

NS = "kserve-real"
PRIORITY_CLASS = "gpu-serving"


@pytest.fixture(scope="module")
def kserve(kserve_controller, admin_api: k8s.ApiClient):
    core = k8s.CoreV1Api(admin_api)
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=NS)))
    k8s.SchedulingV1Api(admin_api).create_priority_class(
        k8s.V1PriorityClass(metadata=k8s.V1ObjectMeta(name=PRIORITY_CLASS), value=1000)
    )
    # The pair docs/operator.md's "S3 credentials" section tells users to make.
    core.create_namespaced_secret(
        NS,
        k8s.V1Secret(
            metadata=k8s.V1ObjectMeta(
                name="s3-keys",
                annotations={
                    "serving.kserve.io/s3-endpoint": "minio.minio:9000",
                    "serving.kserve.io/s3-usehttps": "0",
                },
            ),
            string_data={"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "key"},
        ),
    )
    core.create_namespaced_service_account(
        NS,
        k8s.V1ServiceAccount(
            metadata=k8s.V1ObjectMeta(name="s3-reader"), secrets=[k8s.V1ObjectReference(name="s3-keys")]
        ),
    )
    try:
        yield kserve_controller
    finally:
        # KServe's finalizers need KServe: the namespace goes while it runs.
        core.delete_namespace(NS)
        try:
            wait_for(lambda: NS not in [n.metadata.name for n in core.list_namespace().items], 120, "namespace gone")
        finally:
            k8s.SchedulingV1Api(admin_api).delete_priority_class(PRIORITY_CLASS)


@pytest.fixture()
def children(admin_api, monkeypatch) -> KubeChildren:
    monkeypatch.setattr(kube_children, "api_client", lambda: admin_api)
    spec = TaskClassifierSpec.model_validate(
        {
            "data": {"source": "synthetic"},
            # One credential format: the ServiceAccount KServe reads, and its Secret's keys for ontask.
            "storage": {"serviceAccountName": "s3-reader", "secretRef": "s3-keys"},
            "scheduling": {
                "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H200"},
                "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                "priorityClassName": PRIORITY_CLASS,
                "labels": {"team": "vision"},
                "annotations": {"example.com/owner": "vision"},
                "imagePullSecrets": ["regcred"],
            },
        }
    )
    return KubeChildren(Context("c", NS, "0b6f5e1c-0000-4000-8000-000000000001", spec))  # GETs, no indexes


def _student(ctx: Context, version: str) -> dict[str, Any]:
    body = inference_service(ctx, "student", f"s3://b/classifiers/c/models/{version}", version)
    body["metadata"].pop("ownerReferences", None)  # no TaskClassifier here: its GC would take it
    return body


def _kubelet_runs(core: k8s.CoreV1Api, version: str) -> None:
    """Every pending predictor pod of `version` is started and ready, as a kubelet reports it."""
    for pod in core.list_namespaced_pod(NS, label_selector="serving.kserve.io/inferenceservice=c-student").items:
        if (pod.metadata.annotations or {}).get("ontask.dev/model-version") != version or pod.status.phase == "Running":
            continue
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        status = {
            "phase": "Running",
            "podIP": "10.1.0.7",
            "startTime": now,
            "conditions": [
                {"type": t, "status": "True", "lastTransitionTime": now} for t in ("Ready", "ContainersReady")
            ],
            "containerStatuses": [
                {
                    "name": c.name,
                    "image": c.image,
                    "imageID": "",
                    "ready": True,
                    "started": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": now}},
                }
                for c in pod.spec.containers
            ],
        }
        core.patch_namespaced_pod_status(pod.metadata.name, NS, {"status": status})


def test_kserve_runs_the_operators_student_with_its_storage_credentials_and_placement(kserve, admin_api, children):
    custom, apps, core = k8s.CustomObjectsApi(admin_api), k8s.AppsV1Api(admin_api), k8s.CoreV1Api(admin_api)
    wanted = _student(children.ctx, "v1")
    children.create("student", wanted, "v1")

    # The webhook rewrote the old mode name, and the operator sees nothing to patch back.
    stored = custom.get_namespaced_custom_object(*ISVC[:2], NS, ISVC[2], "c-student")
    assert stored["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
    assert contains(stored["metadata"]["annotations"], wanted["metadata"]["annotations"])
    assert contains(stored["spec"], wanted["spec"])

    name = predictor_deployment("c-student")
    deployment = wait_for(lambda: _read(apps.read_namespaced_deployment, name), 60, "KServe's predictor Deployment")
    pod_spec = deployment.spec.template.spec
    container = pod_spec.containers[0]
    assert container.args == wanted["spec"]["predictor"]["containers"][0]["args"]
    assert container.resources.limits["nvidia.com/gpu"] == "1"
    assert pod_spec.node_selector == {"nvidia.com/gpu.product": "NVIDIA-H200"}
    assert pod_spec.tolerations[0].key == "nvidia.com/gpu"
    assert pod_spec.priority_class_name == PRIORITY_CLASS
    # The platform's conventions reach KServe's pods: the user's labels and annotations, the pull secrets.
    assert deployment.spec.template.metadata.labels["team"] == "vision"
    assert deployment.spec.template.metadata.annotations["example.com/owner"] == "vision"
    assert [s.name for s in pod_spec.image_pull_secrets] == ["regcred"]
    own = {e.name: e for e in container.env}
    assert own["AWS_ACCESS_KEY_ID"].value_from.secret_key_ref.to_dict() == {
        "name": "s3-keys",
        "key": "AWS_ACCESS_KEY_ID",
        "optional": None,
    }
    assert pod_spec.service_account_name == "s3-reader"

    # The pod the ReplicaSet made, as KServe's pod webhook left it: the storage initializer
    # fetches storageUri into /mnt/models with the ServiceAccount's keys and endpoint.
    pods = wait_for(
        lambda: core.list_namespaced_pod(NS, label_selector="serving.kserve.io/inferenceservice=c-student").items,
        60,
        "the predictor's pod",
    )
    init = {c.name: c for c in pods[0].spec.init_containers or []}["storage-initializer"]
    assert init.args == ["s3://b/classifiers/c/models/v1", "/mnt/models"]
    env = {e.name: e for e in init.env}
    assert env["AWS_ACCESS_KEY_ID"].value_from.secret_key_ref.name == "s3-keys"
    assert env["S3_ENDPOINT"].value == "minio.minio:9000"
    mounts = {m.mount_path for m in pods[0].spec.containers[0].volume_mounts}
    assert "/mnt/models" in mounts

    assert children.server_state("c-student") == (False, "v1")
    _kubelet_runs(core, "v1")
    wait_for(lambda: children.server_state("c-student") == (True, "v1"), 60, "v1 served")
    stored = custom.get_namespaced_custom_object(*ISVC[:2], NS, ISVC[2], "c-student")
    # Where children call a predictor (`http://<isvc>-predictor.<namespace>`, pods.judge_args):
    # KServe's in-cluster address and its Service on port 80; the predictor's metrics on their own
    # port beside it (what a NetworkPolicy can keep from the prediction clients).
    assert stored["status"]["address"]["url"] == f"http://{name}.{NS}.svc.cluster.local"
    assert [p.port for p in core.read_namespaced_service(name, NS).spec.ports] == [80, PREDICTOR_METRICS_PORT]

    # A new version: KServe stays Ready on the old pod through the rollout, the operator does not.
    children.create("student", _student(children.ctx, "v2"), "v2")
    wait_for(
        lambda: (
            apps.read_namespaced_deployment(name, NS).status.updated_replicas == 1
            and apps.read_namespaced_deployment(name, NS).status.observed_generation == 2
        ),
        60,
        "the rollout of v2 begins",
    )
    time.sleep(2)  # KServe's status catches up with the Deployment's
    stored = custom.get_namespaced_custom_object(*ISVC[:2], NS, ISVC[2], "c-student")
    assert any(c["type"] == "Ready" and c["status"] == "True" for c in stored["status"]["conditions"])
    assert children.server_state("c-student") == (False, "v2")
    _kubelet_runs(core, "v2")
    # The ReplicaSet controller scales the old one down once v2's pod is available.
    wait_for(lambda: children.server_state("c-student") == (True, "v2"), 60, "v2 served")


def _read(read, name: str):
    try:
        return read(name, NS)
    except k8s.ApiException as e:
        if e.status == 404:
            return None
        raise


def test_kserve_serves_a_vllm_judge_with_its_huggingface_runtime(kserve, admin_api, children):
    """`judge.runtime: vllm`: KServe picks its Hugging Face ClusterServingRuntime for the model
    format and merges the operator's args, resources and /dev/shm into the runtime's container."""
    apps = k8s.AppsV1Api(admin_api)
    body = vllm_judge_service(children.ctx)
    body["metadata"].pop("ownerReferences", None)
    children.create("judge", body, None)
    name = predictor_deployment(body["metadata"]["name"])
    deployment = wait_for(lambda: _read(apps.read_namespaced_deployment, name), 60, "the judge's Deployment")
    pod_spec = deployment.spec.template.spec
    container = pod_spec.containers[0]
    runtime = k8s.CustomObjectsApi(admin_api).get_cluster_custom_object(
        "serving.kserve.io", "v1alpha1", "clusterservingruntimes", "kserve-huggingfaceserver"
    )
    # The runtime's own server, in the GPU build KServe picks for a GPU request.
    assert container.image == runtime["spec"]["containers"][0]["image"] + "-gpu"
    # The runtime passes the InferenceService's name; the operator's comes after it and wins
    # (argparse keeps the last), so the judge answers as "judge" under any classifier's name.
    assert [a for a in container.args if a.startswith("--model_name=")][-1] == "--model_name=judge"
    for arg in ("--model_name=judge", "--backend=vllm", "--tensor-parallel-size=4", "--max-logprobs=20"):
        assert arg in container.args
    assert container.resources.limits["nvidia.com/gpu"] == "4"
    assert {m.mount_path for m in container.volume_mounts} >= {"/dev/shm"}
    assert {v.name: v for v in pod_spec.volumes}["devshm"].empty_dir.medium == "Memory"
    assert (
        deployment.spec.template.metadata.annotations["internal.serving.kserve.io/storage-initializer-sourceuri"]
        == "hf://Qwen/Qwen2.5-VL-72B-Instruct"
    )


def test_a_judge_staged_once_on_a_volume_is_mounted_not_copied(kserve, admin_api, children):
    """`judge.model: pvc://<claim>/<path>`: KServe mounts the claim read-only where the server reads
    its model, with no storage initializer, so the 72B checkpoint staged once on the volume is not
    fetched again into the pod on every start."""
    core = k8s.CoreV1Api(admin_api)
    spec = children.ctx.spec
    judge = spec.judge.model_copy(update={"model": "pvc://judge-weights/qwen2.5-vl-72b"})
    ctx = dataclasses.replace(children.ctx, name="p", spec=spec.model_copy(update={"judge": judge}))
    body = vllm_judge_service(ctx)
    body["metadata"].pop("ownerReferences", None)
    KubeChildren(ctx).create("judge", body, None)
    pods = wait_for(
        lambda: (
            core.list_namespaced_pod(
                NS, label_selector=f"serving.kserve.io/inferenceservice={body['metadata']['name']}"
            ).items
        ),
        60,
        "the judge's pod",
    )
    pod = pods[0].spec
    assert not [c.name for c in pod.init_containers or [] if c.name == "storage-initializer"]
    volumes = {v.name: v for v in pod.volumes}
    claims = [v.persistent_volume_claim for v in volumes.values() if v.persistent_volume_claim]
    assert [c.claim_name for c in claims] == ["judge-weights"]
    mounts = [m for m in pod.containers[0].volume_mounts if m.mount_path == "/mnt/models"]
    assert [(m.sub_path, m.read_only) for m in mounts] == [("qwen2.5-vl-72b", True)]
    k8s.CustomObjectsApi(admin_api).delete_namespaced_custom_object(*ISVC[:2], NS, ISVC[2], body["metadata"]["name"])


def test_a_changed_deployment_mode_replaces_the_inference_service(kserve, admin_api, children):
    """KServe's webhook refuses a deploymentMode change on update ("update rejected: deploymentMode
    cannot be changed"): when the chart's kserve.deploymentMode changes, the operator deletes the
    service and creates it anew in the new mode, rather than failing on every pass."""
    custom = k8s.CustomObjectsApi(admin_api)
    serverless = KubeChildren(dataclasses.replace(children.ctx, name="m", kserve_mode="Serverless"))
    standard = KubeChildren(dataclasses.replace(children.ctx, name="m"))

    def body(ctx: Context) -> dict[str, Any]:
        out = inference_service(ctx, "student", "s3://b/classifiers/m/models/v1", "v1")
        out["metadata"].pop("ownerReferences", None)
        return out

    def stored() -> Optional[dict[str, Any]]:
        return _read(lambda n, ns: custom.get_namespaced_custom_object(*ISVC[:2], ns, ISVC[2], n), "m-student")

    serverless.create("student", body(serverless.ctx), "v1")
    # Without Knative KServe rejects the mode in the status, which is what makes the mode stick.
    wait_for(lambda: ((stored() or {}).get("status") or {}).get("deploymentMode") == "Knative", 60, "KServe's mode")
    with pytest.raises(k8s.ApiException, match="deploymentMode cannot be changed"):
        custom.patch_namespaced_custom_object(
            *ISVC[:2], NS, ISVC[2], "m-student", {"metadata": {"annotations": {MODE_ANNOTATION: "Standard"}}}
        )

    standard.create("student", body(standard.ctx), "v1")  # the operator, after the chart's mode changed
    wait_for(lambda: stored() is None, 60, "the Serverless service deleted")
    standard.create("student", body(standard.ctx), "v1")  # its next pass
    wait_for(lambda: ((stored() or {}).get("status") or {}).get("deploymentMode") == "Standard", 60, "Standard mode")
    assert stored()["metadata"]["annotations"][MODE_ANNOTATION] == "Standard"
    custom.delete_namespaced_custom_object(*ISVC[:2], NS, ISVC[2], "m-student")
