"""What every child's pod is made of: restricted security, resources and GPU placement, /dev/shm,
the classifier's spec in the environment and the arguments naming it and its judge service, and
where a child reads a model or data from (storageUri, pvc:// mounts)."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Optional

from kubernetes import client as k8s

from ontask.api import Resources
from ontask.operator.context import Context
from ontask.operator.names import child_name


def serialize(obj: Any) -> dict[str, Any]:
    """An SDK model as the plain dict the API server takes."""
    return k8s.ApiClient().sanitize_for_serialization(obj)


def resource_requirements(gpus: int, resources: Resources) -> k8s.V1ResourceRequirements:
    """The spec's resources and `gpus` GPUs, requested as much as limited."""
    limits = resources.as_limits()
    if gpus:
        limits["nvidia.com/gpu"] = str(gpus)
    return k8s.V1ResourceRequirements(requests=dict(limits), limits=limits)


# /dev/shm in memory: a container's default is 64 MB, too small for NCCL or vLLM's workers.
# Named as KServe's Hugging Face runtime names its own: merged with the runtime's pod spec, the
# judge's predictor then has one /dev/shm volume, not two.
SHM_VOLUME = k8s.V1Volume(name="devshm", empty_dir=k8s.V1EmptyDirVolumeSource(medium="Memory"))
SHM_MOUNT = k8s.V1VolumeMount(name="devshm", mount_path="/dev/shm")


def gpu_placement(ctx: Context, gpus: int) -> dict[str, Any]:
    """spec.scheduling's node selector, tolerations and priority class, for a pod that uses GPUs."""
    if not gpus:
        return {}
    s = ctx.spec.scheduling
    out: dict[str, Any] = {}
    if s.node_selector:
        out["node_selector"] = dict(s.node_selector)
    if s.tolerations:
        out["tolerations"] = [
            k8s.V1Toleration(key=t.key, operator=t.operator, value=t.value, effect=t.effect) for t in s.tolerations
        ]
    if s.priority_class_name:
        out["priority_class_name"] = s.priority_class_name
    return out


CONTAINER_SECURITY = k8s.V1SecurityContext(
    run_as_non_root=True,
    allow_privilege_escalation=False,
    capabilities=k8s.V1Capabilities(drop=["ALL"]),
    seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"),
)
# Every child pod: the "restricted" Pod Security Standard at the pod level too (the image's user,
# 10001), and no service-account token, since no child talks to the Kubernetes API.
POD_SECURITY = k8s.V1PodSecurityContext(
    run_as_non_root=True,
    run_as_user=10001,
    run_as_group=10001,
    fs_group=10001,
    seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"),
)


def pod_spec(ctx: Context, containers: list[k8s.V1Container], **fields: Any) -> k8s.V1PodSpec:
    """A child's pod: restricted security, the spec's image pull secrets, and the storage
    ServiceAccount (whose cloud identity, IRSA's or Workload Identity's, reaches the store; its
    API token is not mounted: the identity webhooks project their own token)."""
    return k8s.V1PodSpec(
        containers=containers,
        security_context=POD_SECURITY,
        automount_service_account_token=False,
        image_pull_secrets=ctx.pull_secrets(),
        service_account_name=ctx.spec.storage.service_account_name,
        **fields,
    )


# Children read their classifier's spec whole from this variable (`--config env:...`, `--spec env:...`).
SPEC_ENV = "ONTASK_CLASSIFIER_SPEC"


def spec_env(ctx: Context) -> k8s.V1EnvVar:
    """The variable that hands a child its classifier's spec whole."""
    return k8s.V1EnvVar(name=SPEC_ENV, value=json.dumps(ctx.spec.wire()))


def classifier_args(ctx: Context) -> list[str]:
    """Which classifier a child works for: its spec (from SPEC_ENV), its store and its name."""
    return ["--config", f"env:{SPEC_ENV}", "--store", ctx.store_uri, "--classifier", ctx.name]


# A Hugging Face Hub model id ("Qwen/Qwen2.5-VL-3B-Instruct"): what storageUri names as hf://.
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def model_storage_uri(model: str) -> str:
    """The storageUri of a model, as KServe's storage initializer names it: a Hub id becomes
    hf://, and a pinned hf://org/name@revision KServe's hf://org/name:revision; other URIs
    (s3://, pvc://, ...) and paths (the embedded mode's folders) stay.

    >>> model_storage_uri("Qwen/Qwen2.5-VL-72B-Instruct"), model_storage_uri("s3://ontask/base/judge")
    ('hf://Qwen/Qwen2.5-VL-72B-Instruct', 's3://ontask/base/judge')
    >>> model_storage_uri("hf://Qwen/Qwen2.5-VL-3B-Instruct@66285546"), model_storage_uri("/tmp/models/judge")
    ('hf://Qwen/Qwen2.5-VL-3B-Instruct:66285546', '/tmp/models/judge')
    """
    if _HUB_ID.fullmatch(model):
        return f"hf://{model}"
    if model.startswith("hf://") and "@" in model:
        repo, _, revision = model.partition("@")
        return f"{repo}:{revision}"
    return model


# The model name the classifier's own judge answers as, whichever runtime serves it.
JUDGE_MODEL_NAME = "judge"


def judge_args(ctx: Context) -> list[str]:
    """How a child reaches the judge service: its own judge InferenceService, or the one
    `judge.ref` shares (which answers under its own name, KServe's default model name), at
    KServe's in-cluster address, in its runtime's protocol. Empty when the judge is disabled."""
    j = ctx.spec.judge
    if not j.enabled:
        return []
    service = j.ref or child_name(ctx.name, "judge")
    return [
        "--judge-url",
        f"http://{service}-predictor.{ctx.namespace}",
        "--judge-runtime",
        j.runtime.value,
        "--judge-model",
        j.ref or JUDGE_MODEL_NAME,
    ]


# Where a job mounts a PersistentVolumeClaim named by a pvc:// URI, read-only.
PVC_MOUNT_ROOT = "/mnt/pvc"


def pvc_path(uri: str) -> Optional[tuple[k8s.V1Volume, k8s.V1VolumeMount, str]]:
    """For pvc://<claim>/<path>: the claim as a read-only volume, its mount, and the path the job
    reads instead of the URI (as KServe's storage initializer does for predictors); None for any
    other URI.

    >>> pvc_path("pvc://team-shots/2026/desk")[2]
    '/mnt/pvc/team-shots/2026/desk'
    """
    if not uri.startswith("pvc://"):
        return None
    claim, _, path = uri.removeprefix("pvc://").partition("/")
    if not claim:
        raise ValueError(f"{uri!r}: a pvc:// URI names the claim first (pvc://<claim>/<path>)")
    volume = f"pvc-{hashlib.sha256(claim.encode()).hexdigest()[:8]}"
    return (
        k8s.V1Volume(
            name=volume,
            persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(claim_name=claim, read_only=True),
        ),
        k8s.V1VolumeMount(name=volume, mount_path=f"{PVC_MOUNT_ROOT}/{claim}", read_only=True),
        f"{PVC_MOUNT_ROOT}/{claim}/{path}".rstrip("/"),
    )
