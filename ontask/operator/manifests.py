"""The children of a TaskClassifier as manifests, built with the SDKs' own models: the data Job
(batch/v1), the training PyTorchJob (kubeflow-training), and the judge and student
InferenceServices (kserve v1beta1). Names are deterministic (classifier, role, cycle), so a
restarted operator finds what it made instead of making it twice."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Optional

from kubernetes import client as k8s

from ontask.api import GROUP, JudgeRuntime, Resources, TaskClassifierSpec
from ontask.store_paths import FEEDBACK_DATASET_SUFFIX, NAME_SUFFIX_REFUSED, classifier_prefix

TRAIN_PORT = 23456
PREDICTOR_PORT = 8080
# The predictors' Prometheus /metrics, off the prediction port (the team's on/off-task rates are
# not for whoever may ask for a prediction); KServe's prometheus.kserve.io/port names it.
PREDICTOR_METRICS_PORT = 9091
MODEL_MOUNT = "/mnt/models"  # where KServe's storage initializer puts storageUri


# The longest name each child may have: what KServe and the training operator derive from it
# must stay within Kubernetes' 63-character DNS labels (Knative's "<isvc>-predictor-00001-private"
# Service; a PyTorchJob's "<job>-worker-<n>" pods and Services).
NAME_LIMITS = {"judge": 39, "student": 39, "train": 51, "cycle": 51, "data": 63}
DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def child_name(classifier: str, role: str, cycle: Optional[int] = None) -> str:
    """<classifier>-<role>[-c<cycle>], shortened with a hash when over the role's limit."""
    name = f"{classifier}-{role}" + (f"-c{cycle}" if cycle is not None else "")
    limit = NAME_LIMITS.get(role, 63)
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - 9].rstrip('-')}-{digest}"


def predictor_deployment(isvc: str) -> str:
    """The Deployment KServe's Standard mode runs an InferenceService's predictor as."""
    return f"{isvc}-predictor"


def name_problems(classifier: str) -> list[str]:
    """Why a TaskClassifier's name cannot name its children (empty when it can): InferenceServices
    and Services need DNS-1035 labels, which a Kubernetes object name need not be; and a name
    ending in the cycle datasets' suffix would own another classifier's cycle datasets."""
    problems = []
    if not DNS_1035.match(classifier):
        problems.append(
            f"metadata.name {classifier!r}: a classifier's children (InferenceServices, Services) need a "
            "DNS-1035 name: lowercase letters, digits and '-', starting with a letter, no '.'"
        )
    if classifier.endswith(FEEDBACK_DATASET_SUFFIX):
        problems.append(NAME_SUFFIX_REFUSED)
    return problems


# KServe's deployment mode of an InferenceService (the chart's kserve.deploymentMode); KServe
# refuses to change it on update, so the operator replaces a service whose mode changed.
MODE_ANNOTATION = "serving.kserve.io/deploymentMode"

KAFKA_CA_DIR = "/etc/ontask/kafka-ca"

# Which spec.scheduling.roles entry names a child's labels and annotations.
ROLE_METADATA = {
    "train": "training",
    "cycle": "training",
    "data": "data",
    "judge": "serving",
    "student": "serving",
    "feedback": "feedback",
}
# Pods that must run to completion: an Istio sidecar in them never exits, so their Job would never
# finish; they are kept out of the mesh unless the user's labels say otherwise.
BATCH_ROLES = frozenset({"train", "cycle", "data"})
ISTIO_INJECT = "sidecar.istio.io/inject"
KUEUE_QUEUE = "kueue.x-k8s.io/queue-name"
# KServe's S3 Secret keys, which the jobs read too: one credential format for every child.
S3_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


@dataclass
class Context:
    """What every child needs to know about its classifier and the installation."""

    name: str
    namespace: str
    uid: str
    spec: TaskClassifierSpec
    image: str = "ghcr.io/ontask/ontask:0.1.0"
    store_uri: str = "s3://ontask"
    s3_secret: Optional[str] = None
    kafka_bootstrap: Optional[str] = None
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: Optional[str] = None
    kafka_secret: Optional[str] = None  # keys username, password
    kafka_ca_secret: Optional[str] = None  # key ca.crt; mounted into the predictors
    env: dict[str, str] = field(default_factory=dict)
    kserve_mode: str = "RawDeployment"  # or Serverless: where KServe splits traffic for canaries
    prometheus_scraping: bool = False  # KServe's scraping annotation on the predictors
    training_backend: str = "PyTorchJob"  # or TrainJob (Kubeflow Trainer v2): ontask.operator.training
    training_runtime: str = "ontask-grpo"  # the ClusterTrainingRuntime a TrainJob runs on

    @property
    def prefix(self) -> str:
        return classifier_prefix(self.name)

    def owner(self) -> k8s.V1OwnerReference:
        return k8s.V1OwnerReference(
            api_version=f"{GROUP}/v1alpha1",
            kind="TaskClassifier",
            name=self.name,
            uid=self.uid,
            controller=True,
            block_owner_deletion=True,
        )

    def own_labels(self, role: str, cycle: Optional[int] = None) -> dict[str, str]:
        """ontask's labels of a child: how the operator finds its children (never overridden)."""
        labels = {"app.kubernetes.io/managed-by": "ontask", f"{GROUP}/classifier": self.name, f"{GROUP}/role": role}
        if cycle is not None:
            labels[f"{GROUP}/cycle"] = str(cycle)
        return labels

    def user_metadata(self, role: str) -> tuple[dict[str, str], dict[str, str]]:
        """(labels, annotations) the spec gives this kind of child: spec.scheduling's for every
        child, its roles entry's over them."""
        s = self.spec.scheduling
        per = getattr(s.roles, ROLE_METADATA[role])
        return {**s.labels, **per.labels}, {**s.annotations, **per.annotations}

    def meta(self, name: str, role: str, cycle: Optional[int] = None) -> k8s.V1ObjectMeta:
        """A child's metadata: the user's labels and annotations, Kueue's queue on the batch
        children, ontask's labels over all (the operator selects its children by them)."""
        labels, annotations = self.user_metadata(role)
        if role in BATCH_ROLES and self.spec.scheduling.queue_name:
            labels[KUEUE_QUEUE] = self.spec.scheduling.queue_name
        labels.update(self.own_labels(role, cycle))
        return k8s.V1ObjectMeta(
            name=name,
            namespace=self.namespace,
            labels=labels,
            annotations=annotations or None,
            owner_references=[self.owner()],
        )

    def pod_meta(self, role: str, cycle: Optional[int] = None) -> k8s.V1ObjectMeta:
        """The metadata of a child's pods: the user's labels and annotations; batch pods out of an
        Istio mesh unless the user's labels say otherwise; ontask's labels."""
        user_labels, annotations = self.user_metadata(role)
        labels = {ISTIO_INJECT: "false"} if role in BATCH_ROLES else {}
        labels.update(user_labels)
        labels.update(self.own_labels(role, cycle))
        return k8s.V1ObjectMeta(labels=labels, annotations=annotations or None)

    def pull_secrets(self) -> Optional[list[k8s.V1LocalObjectReference]]:
        return [k8s.V1LocalObjectReference(name=n) for n in self.spec.scheduling.image_pull_secrets] or None

    def s3_secret_name(self) -> Optional[str]:
        """The Secret in KServe's S3 format the children read their keys from (the classifier's, else
        the installation's); None: no keys, the pods' cloud identity."""
        return self.spec.storage.secret_ref or self.s3_secret

    def env_vars(self) -> list[k8s.V1EnvVar]:
        env = [k8s.V1EnvVar(name=k, value=v) for k, v in sorted(self.env.items())]
        if self.spec.storage.endpoint:
            env.append(k8s.V1EnvVar(name="S3_ENDPOINT", value=self.spec.storage.endpoint))
        secret = self.s3_secret_name()
        if secret:
            # KServe's key names, as its storage initializer reads them from the same Secret.
            for key in S3_KEYS:
                env.append(
                    k8s.V1EnvVar(
                        name=key,
                        value_from=k8s.V1EnvVarSource(secret_key_ref=k8s.V1SecretKeySelector(name=secret, key=key)),
                    )
                )
        if self.kafka_bootstrap:
            env.append(k8s.V1EnvVar(name="ONTASK_KAFKA_BOOTSTRAP", value=self.kafka_bootstrap))
            env.append(k8s.V1EnvVar(name="ONTASK_KAFKA_SECURITY_PROTOCOL", value=self.kafka_security_protocol))
            if self.kafka_sasl_mechanism:
                env.append(k8s.V1EnvVar(name="ONTASK_KAFKA_SASL_MECHANISM", value=self.kafka_sasl_mechanism))
            if self.kafka_secret:
                for var, key in (("ONTASK_KAFKA_USERNAME", "username"), ("ONTASK_KAFKA_PASSWORD", "password")):
                    env.append(
                        k8s.V1EnvVar(
                            name=var,
                            value_from=k8s.V1EnvVarSource(
                                secret_key_ref=k8s.V1SecretKeySelector(name=self.kafka_secret, key=key)
                            ),
                        )
                    )
        return env

    def kafka_ca(self) -> tuple[list[k8s.V1Volume], list[k8s.V1VolumeMount], list[k8s.V1EnvVar]]:
        """The brokers' CA for a child that talks to Kafka (a predictor publishing the judge's
        corrections): its volume, its mount and the variable naming the file."""
        if not (self.kafka_bootstrap and self.kafka_ca_secret):
            return [], [], []
        return (
            [k8s.V1Volume(name="kafka-ca", secret=k8s.V1SecretVolumeSource(secret_name=self.kafka_ca_secret))],
            [k8s.V1VolumeMount(name="kafka-ca", mount_path=KAFKA_CA_DIR, read_only=True)],
            [k8s.V1EnvVar(name="ONTASK_KAFKA_CA_FILE", value=f"{KAFKA_CA_DIR}/ca.crt")],
        )


def _serialize(obj: Any) -> dict[str, Any]:
    return k8s.ApiClient().sanitize_for_serialization(obj)


def _resources(gpus: int, resources: Resources) -> k8s.V1ResourceRequirements:
    limits = resources.as_limits()
    if gpus:
        limits["nvidia.com/gpu"] = str(gpus)
    return k8s.V1ResourceRequirements(requests=dict(limits), limits=limits)


# /dev/shm in memory: a container's default is 64 MB, too small for NCCL or vLLM's workers.
# Named as KServe's Hugging Face runtime names its own: merged with the runtime's pod spec, the
# judge's predictor then has one /dev/shm volume, not two.
_SHM_VOLUME = k8s.V1Volume(name="devshm", empty_dir=k8s.V1EmptyDirVolumeSource(medium="Memory"))
_SHM_MOUNT = k8s.V1VolumeMount(name="devshm", mount_path="/dev/shm")


def _placement(ctx: Context, gpus: int) -> dict[str, Any]:
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


def _judge_resources(ctx: Context) -> Resources:
    """The spec's judge resources, each unset one by its runtime's default."""
    j = ctx.spec.judge
    vllm, gpus = j.runtime == JudgeRuntime.vllm, max(1, j.gpus)
    return Resources(
        cpu=j.resources.cpu or (str(4 * gpus) if vllm else "2"),
        memory=j.resources.memory or (f"{32 * gpus}Gi" if vllm else "16Gi"),
    )


_SECURITY = k8s.V1SecurityContext(
    run_as_non_root=True,
    allow_privilege_escalation=False,
    capabilities=k8s.V1Capabilities(drop=["ALL"]),
    seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"),
)
# Every child pod: the "restricted" Pod Security Standard at the pod level too (the image's user,
# 10001), and no service-account token, since no child talks to the Kubernetes API.
_POD_SECURITY = k8s.V1PodSecurityContext(
    run_as_non_root=True,
    run_as_user=10001,
    run_as_group=10001,
    fs_group=10001,
    seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"),
)


# The judge on KServe's Hugging Face runtime: its image runs as its own non-root user, with HOME
# and the Hugging Face caches in that user's home; forcing ontask's uid would leave them unwritable.
# Still "restricted": non-root, RuntimeDefault seccomp (and the container's own settings).
_RUNTIME_POD_SECURITY = k8s.V1PodSecurityContext(
    run_as_non_root=True, seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault")
)


def _pod(ctx: Context, containers: list[k8s.V1Container], **fields: Any) -> k8s.V1PodSpec:
    """A child's pod: restricted security, the spec's image pull secrets, and the storage
    ServiceAccount (whose cloud identity, IRSA's or Workload Identity's, reaches the store; its
    API token is not mounted: the identity webhooks project their own token)."""
    return k8s.V1PodSpec(
        containers=containers,
        security_context=_POD_SECURITY,
        automount_service_account_token=False,
        image_pull_secrets=ctx.pull_secrets(),
        service_account_name=ctx.spec.storage.service_account_name,
        **fields,
    )


# Children read their classifier's spec whole from this variable (`--config env:...`, `--spec env:...`).
SPEC_ENV = "ONTASK_CLASSIFIER_SPEC"


def spec_env(ctx: Context) -> k8s.V1EnvVar:
    return k8s.V1EnvVar(name=SPEC_ENV, value=json.dumps(ctx.spec.wire()))


def _classifier_args(ctx: Context) -> list[str]:
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


def data_job(ctx: Context, dataset: str) -> dict[str, Any]:
    """The bootstrap data Job: synthetic screens, or the customer's screenshots labelled by the
    judge and the verifier (`ontask data prepare`), written as dataset version v1."""
    source = ctx.spec.data.source
    pvc = pvc_path(source)
    if pvc is not None:
        source = pvc[2]
    if source == "synthetic":
        args = ["data", "generate", "--name", dataset, "--out", ctx.store_uri]
    else:
        # Labelled by the rules, and by the judge service (which the plan waits for) when enabled.
        args = ["data", "prepare", source, "--name", dataset, "--out", ctx.store_uri, "--verifier", *judge_args(ctx)]
    container = k8s.V1Container(
        name="data",
        image=ctx.image,
        args=args + ["--config", f"env:{SPEC_ENV}"],
        env=ctx.env_vars() + [spec_env(ctx)],
        resources=_resources(0, ctx.spec.data.resources),
        security_context=_SECURITY,
        volume_mounts=[pvc[1]] if pvc else None,
    )
    job = k8s.V1Job(
        api_version="batch/v1",
        kind="Job",
        metadata=ctx.meta(child_name(ctx.name, "data"), "data"),
        spec=k8s.V1JobSpec(
            backoff_limit=3,
            template=k8s.V1PodTemplateSpec(
                metadata=ctx.pod_meta("data"),
                spec=_pod(ctx, [container], restart_policy="Never", volumes=[pvc[0]] if pvc else None),
            ),
        ),
    )
    return _serialize(job)


COLLECTOR_RESOURCES = k8s.V1ResourceRequirements(
    # A cycle's rows stream into the dataset writer: 385 MB at peak for 50 full-HD corrections
    # with 10 variants each (bench_cycle_memory).
    requests={"cpu": "250m", "memory": "512Mi"},
    limits={"cpu": "2", "memory": "2Gi"},
)


def feedback_collector(ctx: Context) -> dict[str, Any]:
    """The classifier's feedback collector, in a Deployment of its own (one replica, replaced
    rather than rolled so two never consume at once; its state's conditional writes fence a
    straggler anyway): `ontask feedback collect` consumes the corrections into the buffer in the
    store and writes each sync cycle's dataset and marker when due and the previous cycle is
    decided. Kafka and S3 settings come as every child's do."""
    args = [
        "feedback",
        "collect",
        *_classifier_args(ctx),
        "--group-id",
        f"ontask-feedback-{ctx.namespace}-{ctx.name}",
    ]
    ca_volumes, ca_mounts, ca_env = ctx.kafka_ca()
    container = k8s.V1Container(
        name="collector",
        image=ctx.image,
        args=args,
        env=ctx.env_vars() + [spec_env(ctx)] + ca_env,
        resources=COLLECTOR_RESOURCES,
        security_context=_SECURITY,
        volume_mounts=ca_mounts or None,
    )
    meta = ctx.meta(child_name(ctx.name, "feedback"), "feedback")
    labels = {k: meta.labels[k] for k in (f"{GROUP}/classifier", f"{GROUP}/role")}
    deployment = k8s.V1Deployment(
        api_version="apps/v1",
        kind="Deployment",
        metadata=meta,
        spec=k8s.V1DeploymentSpec(
            replicas=1,
            strategy=k8s.V1DeploymentStrategy(type="Recreate"),
            selector=k8s.V1LabelSelector(match_labels=labels),
            template=k8s.V1PodTemplateSpec(
                metadata=ctx.pod_meta("feedback"),
                spec=_pod(ctx, [container], volumes=ca_volumes or None),
            ),
        ),
    )
    return _serialize(deployment)


def training_job(
    ctx: Context,
    dataset: str,
    dataset_version: str,
    model_version: str,
    base_model: str,
    cycle: Optional[int] = None,
    compare_with: Optional[str] = None,
) -> dict[str, Any]:
    """The GRPO PyTorchJob: Master + (workers - 1) Workers, each running `ontask train` under
    torchrun's environment (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, set by the training
    operator), one process per GPU when a worker has several (nprocPerNode), writing
    models/<model_version> under the classifier's prefix."""
    from kubeflow.training import (
        KubeflowOrgV1PyTorchJob,
        KubeflowOrgV1PyTorchJobSpec,
        KubeflowOrgV1ReplicaSpec,
        KubeflowOrgV1RunPolicy,
    )

    role = "train" if cycle is None else "cycle"
    name = child_name(ctx.name, role, cycle)
    pvc = pvc_path(base_model)  # a student checkpoint on a PersistentVolumeClaim, mounted read-only
    base_model = pvc[2] if pvc is not None else model_storage_uri(base_model)  # a Hub id is fetched as hf://
    args = [
        "train",
        *_classifier_args(ctx),
        "--dataset",
        dataset,
        "--dataset-version",
        dataset_version,
        "--base-model",
        base_model,
        "--model-version",
        model_version,
    ]
    if cycle is not None:
        args += ["--cycle"]
    if compare_with:
        args += ["--compare-with", compare_with]  # the cycle's evaluation gate, written beside the model
    env = ctx.env_vars() + [spec_env(ctx)]
    gpus = ctx.spec.student.gpus

    volumes = ([_SHM_VOLUME] if gpus else []) + ([pvc[0]] if pvc else [])  # NCCL exchanges tensors in /dev/shm
    mounts = ([_SHM_MOUNT] if gpus else []) + ([pvc[1]] if pvc else [])

    # A pod with several GPUs runs one process per GPU under torchrun, which reads the rendezvous
    # the training operator sets for nprocPerNode (PET_NPROC_PER_NODE, PET_MASTER_ADDR, ...).
    command, container_args = (["torchrun"], ["--module", "ontask.cli", *args]) if gpus > 1 else (None, args)

    def replica(count: int) -> KubeflowOrgV1ReplicaSpec:
        container = k8s.V1Container(
            name="pytorch",
            image=ctx.image,
            command=command,
            args=container_args,
            env=env,
            resources=_resources(gpus, ctx.spec.student.resources),
            ports=[k8s.V1ContainerPort(container_port=TRAIN_PORT, name="pytorchjob-port")],
            security_context=_SECURITY,
            volume_mounts=mounts or None,
        )
        return KubeflowOrgV1ReplicaSpec(
            replicas=count,
            restart_policy="OnFailure",
            template=k8s.V1PodTemplateSpec(
                metadata=ctx.pod_meta(role, cycle),
                spec=_pod(ctx, [container], volumes=volumes or None, **_placement(ctx, gpus)),
            ),
        )

    replicas = {"Master": replica(1)}
    if ctx.spec.training.workers > 1:
        replicas["Worker"] = replica(ctx.spec.training.workers - 1)
    job = KubeflowOrgV1PyTorchJob(
        api_version="kubeflow.org/v1",
        kind="PyTorchJob",
        metadata=ctx.meta(name, role, cycle),
        spec=KubeflowOrgV1PyTorchJobSpec(
            nproc_per_node=str(gpus) if gpus > 1 else None,
            pytorch_replica_specs=replicas,
            run_policy=KubeflowOrgV1RunPolicy(
                # Pods that crash-loop past the backoff limit are deleted, so a failed job holds
                # no GPUs; finished pods stay, with their logs.
                backoff_limit=3,
                clean_pod_policy="Running",
            ),
        ),
    )
    return _serialize(job)


def _predictor_metadata(ctx: Context, role: str, predictor: dict[str, Any]) -> None:
    """The user's labels and annotations on a predictor's pods (KServe's component labels and
    annotations, which it adds to the pods it makes)."""
    labels, annotations = ctx.user_metadata(role)
    if labels:
        predictor["labels"] = labels
    if annotations:
        predictor["annotations"] = annotations


def _isvc_annotations(ctx: Context, role: str, model_version: str) -> dict[str, str]:
    """An InferenceService's annotations: the user's, then (over them) KServe's deployment mode,
    the model version it serves and, when the installation asks for it, KServe's Prometheus
    scraping of the predictor."""
    out = ctx.user_metadata(role)[1]
    out.update({MODE_ANNOTATION: ctx.kserve_mode, f"{GROUP}/model-version": model_version})
    if ctx.prometheus_scraping:
        out["serving.kserve.io/enable-prometheus-scraping"] = "true"
        if role == "student" or ctx.spec.judge.runtime.value != "vllm":  # `ontask serve`: its own port
            out["prometheus.kserve.io/port"] = str(PREDICTOR_METRICS_PORT)
            out["prometheus.kserve.io/path"] = "/metrics"
    return out


def _token_env(ctx: Context) -> list[k8s.V1EnvVar]:
    """The predictors' bearer token, from the Secret spec.serving.tokenSecretRef names (key
    `token`): the server requires it, the student's judge client sends it."""
    name = ctx.spec.serving.token_secret_ref
    if not name:
        return []
    ref = k8s.V1SecretKeySelector(name=name, key="token")
    return [k8s.V1EnvVar(name="ONTASK_PREDICT_TOKEN", value_from=k8s.V1EnvVarSource(secret_key_ref=ref))]


def inference_service(
    ctx: Context, role: str, storage_uri: str, model_version: str, canary_percent: Optional[int] = None
) -> dict[str, Any]:
    """A KServe InferenceService running `ontask serve <role>` as a custom predictor; KServe's
    storage initializer copies storageUri to /mnt/models. In Serverless mode a canary gives the
    new version `canary_percent` of the traffic (the previous revision keeps the rest); without
    one, canaryTrafficPercent is cleared (null in a merge patch), which completes a rollout."""
    from kserve import V1beta1InferenceService, V1beta1InferenceServiceSpec, V1beta1PredictorSpec

    s = ctx.spec
    args = [
        "serve",
        role,
        "--model-uri",
        MODEL_MOUNT,
        "--name",
        role,
        "--model-version",
        model_version,
        "--classifier",
        ctx.name,
        "--http-port",
        str(PREDICTOR_PORT),
    ]
    # The student: serving limits, thresholds and the feedback topic; the judge: its mode and cache.
    args += ["--spec", f"env:{SPEC_ENV}", "--metrics-port", str(PREDICTOR_METRICS_PORT)]
    if role == "student" and ctx.kafka_bootstrap:
        args += judge_args(ctx)
    gpus = s.student.gpus if role == "student" else s.judge.gpus
    ca_volumes, ca_mounts, ca_env = ctx.kafka_ca() if role == "student" else ([], [], [])
    container = k8s.V1Container(
        name="kserve-container",
        image=ctx.image,
        args=args,
        env=ctx.env_vars() + ca_env + [spec_env(ctx)] + _token_env(ctx),
        resources=_resources(gpus, _judge_resources(ctx) if role == "judge" else s.student.resources),
        # Named as Knative and KServe name an HTTP/1 port; Knative allows one port, so the metrics
        # port is declared (for the chart's PodMonitor) only in RawDeployment mode.
        ports=[k8s.V1ContainerPort(container_port=PREDICTOR_PORT, name="http1", protocol="TCP")]
        + (
            [k8s.V1ContainerPort(container_port=PREDICTOR_METRICS_PORT, name="metrics", protocol="TCP")]
            if ctx.kserve_mode != "Serverless"
            else []
        ),
        security_context=_SECURITY,
        volume_mounts=ca_mounts or None,
    )
    predictor = V1beta1PredictorSpec(
        containers=[container],
        volumes=ca_volumes or None,
        security_context=_POD_SECURITY,
        automount_service_account_token=False,
        min_replicas=s.serving.min_replicas if role == "student" else 1,
        max_replicas=s.serving.max_replicas if role == "student" else 1,
        service_account_name=s.storage.service_account_name,  # the storage initializer's credentials
        image_pull_secrets=ctx.pull_secrets(),
        **_placement(ctx, gpus),
    )
    # KServe injects its storage initializer into a custom container that names STORAGE_URI.
    container.env = (container.env or []) + [k8s.V1EnvVar(name="STORAGE_URI", value=storage_uri)]
    isvc = V1beta1InferenceService(
        api_version="serving.kserve.io/v1beta1",
        kind="InferenceService",
        metadata=ctx.meta(child_name(ctx.name, role), role),
        spec=V1beta1InferenceServiceSpec(predictor=predictor),
    )
    out = _serialize(isvc)
    out["metadata"]["annotations"] = _isvc_annotations(ctx, role, model_version)
    _predictor_metadata(ctx, role, out["spec"]["predictor"])
    if ctx.kserve_mode == "Serverless" and role == "student":
        out["spec"]["predictor"]["canaryTrafficPercent"] = canary_percent
    return out


def vllm_judge_service(ctx: Context) -> dict[str, Any]:
    """The judge for `judge.runtime: vllm`, as KServe serves LLMs: its Hugging Face serving runtime
    with the vLLM backend, tensor parallel over `judge.gpus`, answering OpenAI chat completions
    with logprobs under /openai (ontask.judge.remote's client for that runtime). The storage
    initializer fetches the checkpoint (hf://, s3:// or pvc://) to /mnt/models; /dev/shm is a
    memory volume because tensor-parallel workers share tensors through it."""
    from kserve import (
        V1beta1InferenceService,
        V1beta1InferenceServiceSpec,
        V1beta1ModelFormat,
        V1beta1ModelSpec,
        V1beta1PredictorSpec,
    )

    j = ctx.spec.judge
    gpus = max(1, j.gpus)
    model = V1beta1ModelSpec(
        model_format=V1beta1ModelFormat(name="huggingface"),
        storage_uri=model_storage_uri(j.model),
        args=[
            f"--model_name={JUDGE_MODEL_NAME}",
            "--backend=vllm",
            f"--tensor-parallel-size={gpus}",
            "--max-logprobs=20",  # the judge reads the top 20 first-token logprobs
        ],
        env=ctx.env_vars(),
        resources=_resources(gpus, _judge_resources(ctx)),
        volume_mounts=[_SHM_MOUNT],
        security_context=_SECURITY,
    )
    predictor = V1beta1PredictorSpec(
        model=model,
        volumes=[_SHM_VOLUME],
        service_account_name=ctx.spec.storage.service_account_name,
        image_pull_secrets=ctx.pull_secrets(),
        **_placement(ctx, gpus),
        security_context=_RUNTIME_POD_SECURITY,
        automount_service_account_token=False,
        min_replicas=1,
        max_replicas=1,
    )
    isvc = V1beta1InferenceService(
        api_version="serving.kserve.io/v1beta1",
        kind="InferenceService",
        metadata=ctx.meta(child_name(ctx.name, "judge"), "judge"),
        spec=V1beta1InferenceServiceSpec(predictor=predictor),
    )
    out = _serialize(isvc)
    out["metadata"]["annotations"] = _isvc_annotations(ctx, "judge", JUDGE_MODEL_NAME)
    _predictor_metadata(ctx, "judge", out["spec"]["predictor"])
    return out
