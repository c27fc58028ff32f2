"""Desired state of a TaskClassifier: the student, the judge, the data, the store, and the parts
that have modules of their own (training, feedback, serving, scheduling)."""

from __future__ import annotations

from enum import Enum
from typing import Optional

from pydantic import Field, model_validator

from ontask.api.feedback import FeedbackSpec
from ontask.api.scheduling import DataResources, JudgeResources, SchedulingSpec, StudentResources
from ontask.api.serving import ServingSpec
from ontask.api.training import TrainingSpec
from ontask.api.wire import Model, ObjectName


class StudentSpec(Model):
    """The small VLM that is trained and served."""

    model: str = Field(
        "Qwen/Qwen2.5-VL-3B-Instruct",
        min_length=1,
        description="Base checkpoint of the student: a Hugging Face Hub id (org/name, fetched from the Hub by the "
        "training job), hf://org/name@revision (pinned to a commit or tag), or an s3:// or pvc:// URI of a saved "
        "Qwen2.5-VL folder (no Hub contacted: the air-gapped way).",
    )
    gpus: int = Field(1, ge=0, le=64, description="GPUs per training worker and per serving replica.")
    resources: StudentResources = Field(default_factory=StudentResources, description="CPU and memory.")


class JudgeRuntime(str, Enum):
    vllm = "vllm"
    transformers = "transformers"


class JudgeMode(str, Enum):
    preference = "preference"
    pointwise = "pointwise"


class JudgeSpec(Model):
    """The large VLM judge that labels data and rewards the student."""

    enabled: bool = Field(True, description="Deploy and use a judge. When false, the judge reward weight must be 0.")
    model: str = Field(
        "Qwen/Qwen2.5-VL-72B-Instruct",
        min_length=1,
        description="Judge checkpoint: a Hugging Face model id (fetched as hf://), hf://org/name@revision (pinned), "
        "or an s3:// or pvc:// URI.",
    )
    runtime: JudgeRuntime = Field(
        JudgeRuntime.vllm,
        description="vllm: KServe's Hugging Face runtime with the vLLM backend on GPUs (OpenAI chat completions "
        "with logprobs); transformers: `ontask serve judge` (KServe v1), also on CPU.",
    )
    gpus: int = Field(4, ge=0, le=64, description="GPUs for the judge InferenceService (tensor parallel).")
    resources: JudgeResources = Field(default_factory=JudgeResources, description="CPU and memory.")
    mode: JudgeMode = Field(
        JudgeMode.preference,
        description="preference: compare the student's answer with its opposite; pointwise: score one answer.",
    )
    cache: bool = Field(True, description="Cache judgments by content (image hash, task, prompt version, model).")
    ref: Optional[str] = Field(
        None,
        min_length=1,
        # A DNS label: it becomes the host of the judge's URL (http://<ref>-predictor.<namespace>), so
        # no dot, slash, colon or @ may send the screenshots to another namespace or host; 53
        # characters leave room for KServe's "-predictor" within a Service name's 63.
        max_length=53,
        pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$",
        description="Name of an existing judge InferenceService in the classifier's namespace to share instead "
        "of deploying one (a DNS label); it answers in judge.runtime's protocol, under its own name as the model "
        "name.",
    )


class DataSpec(Model):
    """Where the customer's screenshots live and how prompts are sized."""

    source: str = Field(
        ...,
        min_length=1,
        description="Screenshots and tasks to bootstrap from: an s3:// prefix, a pvc://<claim>/<path> folder "
        "(mounted read-only into the data Job), or synthetic (rendered screens).",
    )
    max_prompt_length: int = Field(256, ge=16, le=32768, description="Maximum prompt tokens, image tokens excluded.")
    max_response_length: int = Field(16, ge=1, le=4096, description="Maximum sampled answer tokens.")
    train_batch_size: int = Field(32, ge=1, le=65536, description="Prompts per training step (global).")
    resources: DataResources = Field(default_factory=DataResources, description="CPU and memory.")
    val_batch_size: int = Field(64, ge=1, le=65536, description="Prompts per evaluation batch.")
    synthetic_rows: int = Field(
        200, ge=10, le=1_000_000, description="Screenshots rendered for the bootstrap when source is synthetic."
    )
    judge_label_weight: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="When labelling the customer's screenshots for the bootstrap: the judge's "
        "weight beside the verifier's rules (0: the rules alone).",
    )
    min_label_confidence: float = Field(
        0.6,
        ge=0.5,
        le=1.0,
        description="When labelling the customer's screenshots for the bootstrap: a row whose label (the "
        "judge's and the rules' weighted P(on-task)) is less sure than this stays unlabelled, and is not "
        "trained on.",
    )
    validation_share: float = Field(
        0.2,
        ge=0.05,
        le=0.5,
        description="The share of the bootstrap's screenshots held out for validation (by each row's id: "
        "stable), a row's twin with it. Half of them are the classifier's regression set, which every "
        "cycle's candidate must not lose more than serving.maxRegression on, the other half calibrate "
        "each model's hybrid: a bigger share lets the gate see smaller losses (one row of a 60-row "
        "regression set is 1.7 points) at the cost of training rows. A row the manifest gives a split "
        "keeps it.",
    )
    other_task_twins: bool = Field(
        True,
        description="Each bootstrap row labelled on-task also trains as an off-task row: its own pixels "
        "with a library task that no window's app, title or URL names. Teaches that the right "
        "tool on another task is off-task.",
    )


class StorageSpec(Model):
    """The artifact store (any S3)."""

    endpoint: Optional[str] = Field(
        None,
        pattern=r"^https?://",
        description="S3 endpoint URL; defaults to the operator's configured store.",
    )
    bucket: str = Field(
        "ontask",
        min_length=3,
        max_length=63,
        description="Bucket for datasets, models and buffers (a classifier's lie in its "
        "namespace's folder of it, namespaces/<namespace>/).",
    )
    secret_ref: Optional[ObjectName] = Field(
        None,
        description="Secret in the classifier's namespace in KServe's S3 format (keys AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY; KServe's serving.kserve.io/s3-* annotations): the jobs and the collector read its "
        "two keys; so do the predictors, and serviceAccountName usually lists it, unless readOnlySecretRef is set. "
        "Unset, and no installation-wide Secret: no keys, and every child uses the cloud identity of "
        "serviceAccountName (IRSA, EKS Pod Identity).",
    )
    read_only_secret_ref: Optional[ObjectName] = Field(
        None,
        description="Secret in the classifier's namespace in KServe's S3 format with keys that may only read "
        "(usually the one serviceAccountName lists, which KServe's storage initializer reads): the predictors "
        "read its two keys; the jobs and the collector, which write, keep secretRef's. Unset: the predictors "
        "use secretRef's keys, or, when the classifier names no secretRef, the installation's read-only Secret.",
    )
    service_account_name: Optional[ObjectName] = Field(
        None,
        description="ServiceAccount every child runs under: KServe's storage initializer reads the S3 Secret it "
        "lists (and its serving.kserve.io/s3-* annotations), and a cloud identity bound to it (IRSA's "
        "eks.amazonaws.com/role-arn) reaches the jobs too. Unset: the namespace's default ServiceAccount.",
    )
    retain_artifacts: bool = Field(
        True,
        description="Keep artifacts in the store when the classifier is deleted; false deletes its models, "
        "metrics, feedback and datasets with it (only from a prefix it owns).",
    )


class TaskClassifierSpec(Model):
    """Desired state of a TaskClassifier."""

    student: StudentSpec = Field(default_factory=StudentSpec, description="The student model.")
    judge: JudgeSpec = Field(default_factory=JudgeSpec, description="The judge model.")
    data: DataSpec = Field(..., description="Training data.")
    training: TrainingSpec = Field(default_factory=TrainingSpec, description="GRPO training.")
    feedback: FeedbackSpec = Field(default_factory=FeedbackSpec, description="Corrections and sync cycles.")
    serving: ServingSpec = Field(default_factory=ServingSpec, description="Serving and promotion.")
    storage: StorageSpec = Field(default_factory=StorageSpec, description="Artifact store.")
    scheduling: SchedulingSpec = Field(
        default_factory=SchedulingSpec,
        description="Placement of the pods that use GPUs (node pools, taints), and labels, annotations, image pull "
        "secrets and a Kueue queue for every child.",
    )

    @model_validator(mode="after")
    def _moved_fields(self) -> "TaskClassifierSpec":
        old = self.feedback.sync_steps
        if old is not None:
            if "sync_steps" in self.training.model_fields_set and self.training.sync_steps != old:
                raise ValueError(
                    f"feedback.syncSteps ({old}) is deprecated and contradicts training.syncSteps "
                    f"({self.training.sync_steps}): set training.syncSteps only"
                )
            self.training.sync_steps = old
        return self

    def deprecations(self) -> list[str]:
        """Deprecated fields this spec sets, as the warnings status reports."""
        if self.feedback.sync_steps is not None:
            return [
                "spec.feedback.syncSteps is deprecated: it is read as spec.training.syncSteps, which replaces "
                "it (the old field goes in the next API version)"
            ]
        return []

    def consistency_problems(self) -> list[str]:
        """Problems that pass the schema but make the classifier impossible to run."""
        problems = []
        if not self.judge.enabled and self.training.reward_weights.judge > 0:
            problems.append("judge.enabled is false but training.rewardWeights.judge > 0")
        return problems
