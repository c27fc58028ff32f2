"""The children of a TaskClassifier as manifests, built with the SDKs' own models: the data Job
(batch/v1), the feedback collector's Deployment (apps/v1), the training PyTorchJob
(kubeflow-training), and the judge and student InferenceServices (kserve v1beta1). Their names
come from ontask.operator.names, what they know of the classifier from ontask.operator.context,
and what every pod is made of from ontask.operator.pods."""

from __future__ import annotations

from typing import Any, Optional

from kubernetes import client as k8s

from ontask.api import GROUP, JudgeRuntime, Resources
from ontask.api.feedback import USER_KEY_ENV
from ontask.api.serving import PREDICT_TOKEN_ENV
from ontask.operator.context import Context
from ontask.operator.names import child_name
from ontask.operator.pods import (
    CONTAINER_SECURITY,
    JUDGE_MODEL_NAME,
    POD_SECURITY,
    SHM_MOUNT,
    SHM_VOLUME,
    SPEC_ENV,
    classifier_args,
    gpu_placement,
    judge_args,
    model_storage_uri,
    pod_spec,
    pvc_path,
    resource_requirements,
    serialize,
    spec_env,
)

TRAIN_PORT = 23456
PREDICTOR_PORT = 8080
# The predictors' Prometheus /metrics, off the prediction port (the team's on/off-task rates are
# not for whoever may ask for a prediction); KServe's prometheus.kserve.io/port names it.
PREDICTOR_METRICS_PORT = 9091
MODEL_MOUNT = "/mnt/models"  # where KServe's storage initializer puts storageUri

# KServe's deployment mode of an InferenceService (the chart's kserve.deploymentMode); KServe
# refuses to change it on update, so the operator replaces a service whose mode changed.
MODE_ANNOTATION = "serving.kserve.io/deploymentMode"


def _judge_resources(ctx: Context) -> Resources:
    """The spec's judge resources, each unset one by its runtime's default."""
    j = ctx.spec.judge
    vllm, gpus = j.runtime == JudgeRuntime.vllm, max(1, j.gpus)
    return Resources(
        cpu=j.resources.cpu or (str(4 * gpus) if vllm else "2"),
        memory=j.resources.memory or (f"{32 * gpus}Gi" if vllm else "16Gi"),
    )


# The judge on KServe's Hugging Face runtime: its image runs as its own non-root user, with HOME
# and the Hugging Face caches in that user's home; forcing ontask's uid would leave them unwritable.
# Still "restricted": non-root, RuntimeDefault seccomp (and the container's own settings).
_RUNTIME_POD_SECURITY = k8s.V1PodSecurityContext(
    run_as_non_root=True, seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault")
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
        # It labels through the judge predictor, which wants the predictors' token.
        env=ctx.env_vars("data")
        + [spec_env(ctx)]
        + (_token_env(ctx) if ctx.spec.judge.enabled and source != "synthetic" else []),
        resources=resource_requirements(0, ctx.spec.data.resources),
        security_context=CONTAINER_SECURITY,
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
                spec=pod_spec(ctx, [container], restart_policy="Never", volumes=[pvc[0]] if pvc else None),
            ),
        ),
    )
    return serialize(job)


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
    decided. It writes the store with the read-write keys and gets Kafka's settings (Context.uses_kafka)."""
    args = [
        "feedback",
        "collect",
        *classifier_args(ctx),
        "--namespace",
        ctx.namespace,
        "--group-id",
        f"ontask-feedback-{ctx.namespace}-{ctx.name}",
    ]
    ca_volumes, ca_mounts, ca_env = ctx.kafka_ca("feedback")
    container = k8s.V1Container(
        name="collector",
        image=ctx.image,
        args=args,
        env=ctx.env_vars("feedback") + [spec_env(ctx)] + ca_env + _user_key_env(ctx),
        resources=COLLECTOR_RESOURCES,
        security_context=CONTAINER_SECURITY,
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
                spec=pod_spec(ctx, [container], volumes=ca_volumes or None),
            ),
        ),
    )
    return serialize(deployment)


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
        *classifier_args(ctx),
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
    env = ctx.env_vars(role) + [spec_env(ctx)]
    gpus = ctx.spec.student.gpus

    volumes = ([SHM_VOLUME] if gpus else []) + ([pvc[0]] if pvc else [])  # NCCL exchanges tensors in /dev/shm
    mounts = ([SHM_MOUNT] if gpus else []) + ([pvc[1]] if pvc else [])

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
            resources=resource_requirements(gpus, ctx.spec.student.resources),
            ports=[k8s.V1ContainerPort(container_port=TRAIN_PORT, name="pytorchjob-port")],
            security_context=CONTAINER_SECURITY,
            volume_mounts=mounts or None,
        )
        return KubeflowOrgV1ReplicaSpec(
            replicas=count,
            restart_policy="OnFailure",
            template=k8s.V1PodTemplateSpec(
                metadata=ctx.pod_meta(role, cycle),
                spec=pod_spec(ctx, [container], volumes=volumes or None, **gpu_placement(ctx, gpus)),
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
    return serialize(job)


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


def _user_key_env(ctx: Context) -> list[k8s.V1EnvVar]:
    """The collector's key for signed userIds, from the Secret spec.feedback.userKeySecretRef
    names (key `key`); only the collector verifies, so only it gets the key."""
    name = ctx.spec.feedback.user_key_secret_ref
    if not name:
        return []
    ref = k8s.V1SecretKeySelector(name=name, key="key")
    return [k8s.V1EnvVar(name=USER_KEY_ENV, value_from=k8s.V1EnvVarSource(secret_key_ref=ref))]


def _token_env(ctx: Context) -> list[k8s.V1EnvVar]:
    """The predictors' bearer token, from the Secret spec.serving.tokenSecretRef names (key
    `token`): the server requires it; the student's judge client and the data Job's send it."""
    name = ctx.spec.serving.token_secret_ref
    if not name:
        return []
    ref = k8s.V1SecretKeySelector(name=name, key="token")
    return [k8s.V1EnvVar(name=PREDICT_TOKEN_ENV, value_from=k8s.V1EnvVarSource(secret_key_ref=ref))]


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
    if ctx.store_uri.startswith("s3://"):
        # Screenshot references point into the store the operator resolved: an installation's fixed
        # store (ONTASK_STORE) overrides the spec's storage.bucket, for the predictors as for the jobs.
        args += ["--store", ctx.store_uri]
    if ctx.uses_kafka(role):  # the student's judge loop, which publishes the judge's corrections
        args += judge_args(ctx) + ["--namespace", ctx.namespace]
    gpus = s.student.gpus if role == "student" else s.judge.gpus
    ca_volumes, ca_mounts, ca_env = ctx.kafka_ca(role)
    container = k8s.V1Container(
        name="kserve-container",
        image=ctx.image,
        args=args,
        env=ctx.env_vars(role) + ca_env + [spec_env(ctx)] + _token_env(ctx),
        resources=resource_requirements(gpus, _judge_resources(ctx) if role == "judge" else s.student.resources),
        # Named as Knative and KServe name an HTTP/1 port; Knative allows one port, so the metrics
        # port is declared (for the chart's PodMonitor) only in RawDeployment mode.
        ports=[k8s.V1ContainerPort(container_port=PREDICTOR_PORT, name="http1", protocol="TCP")]
        + (
            [k8s.V1ContainerPort(container_port=PREDICTOR_METRICS_PORT, name="metrics", protocol="TCP")]
            if ctx.kserve_mode != "Serverless"
            else []
        ),
        security_context=CONTAINER_SECURITY,
        volume_mounts=ca_mounts or None,
    )
    predictor = V1beta1PredictorSpec(
        containers=[container],
        volumes=ca_volumes or None,
        security_context=POD_SECURITY,
        automount_service_account_token=False,
        min_replicas=s.serving.min_replicas if role == "student" else 1,
        max_replicas=s.serving.max_replicas if role == "student" else 1,
        service_account_name=s.storage.service_account_name,  # the storage initializer's credentials
        image_pull_secrets=ctx.pull_secrets(),
        **gpu_placement(ctx, gpus),
    )
    # KServe injects its storage initializer into a custom container that names STORAGE_URI.
    container.env = (container.env or []) + [k8s.V1EnvVar(name="STORAGE_URI", value=storage_uri)]
    isvc = V1beta1InferenceService(
        api_version="serving.kserve.io/v1beta1",
        kind="InferenceService",
        metadata=ctx.meta(child_name(ctx.name, role), role),
        spec=V1beta1InferenceServiceSpec(predictor=predictor),
    )
    out = serialize(isvc)
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
        env=ctx.env_vars("judge"),
        resources=resource_requirements(gpus, _judge_resources(ctx)),
        volume_mounts=[SHM_MOUNT],
        security_context=CONTAINER_SECURITY,
    )
    predictor = V1beta1PredictorSpec(
        model=model,
        volumes=[SHM_VOLUME],
        service_account_name=ctx.spec.storage.service_account_name,
        image_pull_secrets=ctx.pull_secrets(),
        **gpu_placement(ctx, gpus),
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
    out = serialize(isvc)
    out["metadata"]["annotations"] = _isvc_annotations(ctx, "judge", JUDGE_MODEL_NAME)
    _predictor_metadata(ctx, "judge", out["spec"]["predictor"])
    return out
