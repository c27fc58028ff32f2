"""The TaskClassifier resource: pydantic models of its spec and status.

These models are the single source of truth. The CRD in ``charts/ontask/files/crds/`` is generated
from them by :mod:`ontask.crd`, and every component reads its settings through them.
Field names are camelCase on the wire (as Kubernetes users expect) and snake_case in Python.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Annotated, Any, ClassVar, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from ontask.labels import Label

GROUP = "ontask.dev"
VERSION = "v1alpha1"
KIND = "TaskClassifier"
PLURAL = "taskclassifiers"
SINGULAR = "taskclassifier"
SHORT_NAMES = ["tc"]

# Sum-to-one is checked with a tolerance: YAML authors write 0.3/0.5/0.2, which is not
# exactly 1.0 in binary floating point.
WEIGHT_SUM_TOLERANCE = 1e-6


class Model(BaseModel):
    """Base of every wire model: camelCase aliases, unknown fields refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", validate_default=True)

    def wire(self) -> dict[str, Any]:
        """The object as the Kubernetes API and Kafka see it (camelCase, no unset optionals)."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


# A Kubernetes resource quantity ("2", "500m", "16Gi").
QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|Ki|Mi|Gi|Ti|Pi)?$"


class Resources(Model):
    """CPU and memory of one pod's main container (requested and limited alike); GPUs come from
    the component's `gpus`."""

    cpu: str = Field(..., pattern=QUANTITY, description='CPU cores, a Kubernetes quantity ("4", "500m").')
    memory: str = Field(..., pattern=QUANTITY, description='Memory, a Kubernetes quantity ("16Gi").')

    def as_limits(self) -> dict[str, str]:
        return {"cpu": self.cpu, "memory": self.memory}


class StudentResources(Resources):
    cpu: str = Field("2", pattern=QUANTITY, description="CPU cores per training worker and serving replica.")
    # 1.25 x (interpreter + one host copy of the 3B's bf16 weights, which a checkpoint is written
    # from) + a default bootstrap's 400 rows at 600k pixels: README, Sizing (bench_3b_shape).
    memory: str = Field(
        "16Gi",
        pattern=QUANTITY,
        description="Memory per training worker and serving replica (16Gi: the 3B student on a GPU with "
        "serving.modelMaxPixels 602112 and about 400 training rows; rows hold 13 MiB each at that budget).",
    )


class DataResources(Resources):
    cpu: str = Field("2", pattern=QUANTITY, description="CPU cores of the data Job.")
    memory: str = Field("4Gi", pattern=QUANTITY, description="Memory of the data Job (it loads no model).")


class JudgeResources(Model):
    cpu: Optional[str] = Field(
        None, pattern=QUANTITY, description="CPU cores of the judge's predictor; default 4 per GPU (vllm), 2."
    )
    memory: Optional[str] = Field(
        None, pattern=QUANTITY, description="Memory of the judge's predictor; default 32Gi per GPU (vllm), 16Gi."
    )


class Toleration(Model):
    """A Kubernetes toleration, for GPU node pools that are tainted."""

    key: Optional[str] = Field(None, description="Taint key; empty with operator Exists: every taint.")
    operator: Literal["Exists", "Equal"] = Field("Equal", description="Exists or Equal.")
    value: Optional[str] = Field(None, description="Taint value (operator Equal).")
    effect: Optional[Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]] = Field(
        None, description="Taint effect; empty: every effect."
    )


# Kubernetes' rules for label and annotation keys (an optional DNS-subdomain prefix, then a name)
# and label values: checked here so a bad one is refused with the field's path instead of failing
# every child's creation later.
_QUALIFIED_NAME = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


def _metadata_problems(what: str, items: dict[str, str], values_are_labels: bool) -> list[str]:
    problems = []
    for key, value in items.items():
        prefix, _, name = key.rpartition("/")
        if not _QUALIFIED_NAME.match(key) or len(name) > 63 or len(prefix) > 253:
            problems.append(f"{what} key {key!r} is not a Kubernetes qualified name ([prefix/]name, name <= 63)")
        if values_are_labels and (len(value) > 63 or not _LABEL_VALUE.match(value)):
            problems.append(f"{what} {key!r}: value {value!r} is not a label value (<= 63 alphanumerics, '-_.')")
    return problems


class ChildMetadata(Model):
    """Labels and annotations for some of a classifier's children: put on the child object and on
    its pods (a Job's and a PyTorchJob's pod templates, an InferenceService's predictor pods, the
    collector Deployment's pods). ontask's own labels (ontask.dev/*, app.kubernetes.io/managed-by)
    are kept over a user's label of the same key."""

    labels: dict[str, str] = Field(default_factory=dict, description="Labels of the children and their pods.")
    annotations: dict[str, str] = Field(default_factory=dict, description="Annotations of the children and their pods.")

    @model_validator(mode="after")
    def _valid_keys(self) -> "ChildMetadata":
        problems = _metadata_problems("label", self.labels, True) + _metadata_problems(
            "annotation", self.annotations, False
        )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class RoleMetadata(Model):
    """Labels and annotations per kind of child, merged over scheduling.labels/annotations."""

    training: ChildMetadata = Field(
        default_factory=ChildMetadata, description="The training and cycle PyTorchJobs and their pods."
    )
    data: ChildMetadata = Field(default_factory=ChildMetadata, description="The bootstrap data Job and its pod.")
    serving: ChildMetadata = Field(
        default_factory=ChildMetadata, description="The judge and student InferenceServices and their predictor pods."
    )
    feedback: ChildMetadata = Field(
        default_factory=ChildMetadata, description="The feedback collector Deployment and its pod."
    )


class SchedulingSpec(Model):
    """Where and how the children run: placement of the pods that use GPUs (training workers, student
    predictors, the judge), and the platform's conventions for every child (labels, annotations,
    image pull secrets, a Kueue queue)."""

    node_selector: dict[str, str] = Field(default_factory=dict, description="Node labels a GPU pod requires.")
    tolerations: list[Toleration] = Field(default_factory=list, description="Taints a GPU pod tolerates.")
    priority_class_name: Optional[str] = Field(None, min_length=1, description="PriorityClass of the GPU pods.")
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="Labels of every child (data Job, PyTorchJobs, InferenceServices, collector) and of its pods. "
        "Batch pods (the data Job's, the PyTorchJobs') also get sidecar.istio.io/inject: \"false\" unless a label "
        "here or in roles sets it: an Istio sidecar never exits, so the Job would never finish.",
    )
    annotations: dict[str, str] = Field(default_factory=dict, description="Annotations of every child and of its pods.")
    roles: RoleMetadata = Field(
        default_factory=RoleMetadata, description="Labels and annotations per kind of child, over the ones above."
    )
    queue_name: Optional[str] = Field(
        None,
        min_length=1,
        max_length=63,
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description="Kueue LocalQueue in the classifier's namespace: the label kueue.x-k8s.io/queue-name on the "
        "training and cycle PyTorchJobs and the data Job, so Kueue admits them against the queue's quota.",
    )
    image_pull_secrets: list[Annotated[str, Field(min_length=1, max_length=253)]] = Field(
        default_factory=list,
        max_length=16,
        description="Secrets (in the classifier's namespace) every child's pods pull their images with.",
    )

    @model_validator(mode="after")
    def _valid_keys(self) -> "SchedulingSpec":
        problems = _metadata_problems("label", self.labels, True) + _metadata_problems(
            "annotation", self.annotations, False
        )
        if problems:
            raise ValueError("; ".join(problems))
        return self


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
    other_task_twins: bool = Field(
        True,
        description="Each bootstrap row labelled on-task also trains as an off-task row: its own pixels "
        "with a library task that no window's app, title or URL names. Teaches that the right "
        "tool on another task is off-task.",
    )


class RewardWeights(Model):
    """Weights of the hybrid reward; non-negative and summing to 1."""

    # The same rule for the API server, so a bad CR is refused before any component reads it.
    cel_rules: ClassVar[list[dict[str, str]]] = [
        {
            "rule": f"self.binary + self.judge + self.verifier >= {1 - WEIGHT_SUM_TOLERANCE!r} && "
            f"self.binary + self.judge + self.verifier <= {1 + WEIGHT_SUM_TOLERANCE!r}",
            "message": "rewardWeights must sum to 1 (binary + judge + verifier)",
        }
    ]

    binary: float = Field(0.3, ge=0.0, le=1.0, description="Weight of binary correctness against the label.")
    judge: float = Field(0.5, ge=0.0, le=1.0, description="Weight of the judge's probability of the sampled answer.")
    verifier: float = Field(0.2, ge=0.0, le=1.0, description="Weight of the rule-based visual verifier's score.")

    @model_validator(mode="after")
    def _sum_to_one(self) -> "RewardWeights":
        total = self.binary + self.judge + self.verifier
        if abs(total - 1.0) > WEIGHT_SUM_TOLERANCE:
            raise ValueError(f"rewardWeights must sum to 1 (binary + judge + verifier = {total:g})")
        return self


# How training orders its prompts (ontask.trainers.curriculum draws the batches).
Curriculum = Literal["none", "easy-first"]


# Full fine-tuning holds about 18 bytes a parameter on the device (fp32 weights, gradients and
# Adam's two moments, a bf16 rollout copy) before activations: 1B parameters fill a 24 GB GPU, the
# 3B student needs about 60 GB. From this size up, an unset training.loraRank means LoRA
# (benchmarks/bench_3b_shape measures the 3B's LoRA step).
AUTO_LORA_MIN_PARAMS = 1_000_000_000
AUTO_LORA_RANK = 16


class TrainingSpec(Model):
    """GRPO settings."""

    epochs: int = Field(10, ge=1, le=10000, description="Passes over the dataset.")
    group_size: int = Field(5, ge=2, le=256, description="Answers sampled per prompt (GRPO group, n).")
    learning_rate: float = Field(1e-6, gt=0.0, le=1.0, description="Optimizer learning rate.")
    entropy_coef: float = Field(0.01, ge=0.0, le=10.0, description="Entropy bonus against collapse onto one label.")
    kl_coef: float = Field(
        0.0, ge=0.0, le=10.0, description="KL penalty to the frozen reference model (0: no reference)."
    )
    lora_rank: Optional[int] = Field(
        None,
        ge=0,
        le=1024,
        description="0: full fine-tuning; above 0: LoRA adapters of this rank on "
        "the language model's attention (for students too large to fine-tune whole); unset: rank "
        f"{AUTO_LORA_RANK} for a student of {AUTO_LORA_MIN_PARAMS // 10**9}B parameters or more (the 3B "
        "student on one GPU: fully fine-tuned it needs about 60 GB), full fine-tuning below.",
    )
    reward_weights: RewardWeights = Field(default_factory=RewardWeights, description="Hybrid reward weights.")
    advantage_norm: Literal["batch", "group", "none"] = Field(
        "batch",
        description="What GRPO divides a group's centred rewards by: batch, one standard deviation for the step's "
        "groups, so a sure judge pushes harder than an unsure one; group, each group's own (with two answers only "
        "the sign of the reward gap survives it, and the judge's confidence is lost); none (Dr. GRPO).",
    )
    workers: int = Field(2, ge=1, le=1024, description="Training processes (PyTorchJob Master + Workers).")
    save_every: int = Field(100, ge=1, description="Optimizer steps between checkpoints.")
    eval_every: int = Field(50, ge=1, description="Optimizer steps between evaluations.")
    warm_start_steps: int = Field(
        0,
        ge=0,
        le=1_000_000,
        description="Supervised steps on the labels before GRPO in the first training "
        "(they mostly teach a fresh model the answer format).",
    )
    sync_steps: int = Field(
        10, ge=1, description="Optimizer steps between re-syncs of the rollout policy (1: on-policy)."
    )
    curriculum: Curriculum = Field(
        "none",
        description="none: prompts drawn uniformly; easy-first: rows that the verifier's rules already "
        "answer with confidence first, the share of the others (rules wrong or unsure; without window evidence, "
        "rows flagged hard) rising from 0 to their own share at half the run. Metrics report it as hard_share.",
    )

    def lora_rank_for(self, params: int) -> int:
        """The LoRA rank a student of `params` parameters trains with: loraRank where it is set,
        else AUTO_LORA_RANK from AUTO_LORA_MIN_PARAMS parameters up and full fine-tuning (0) below.

        >>> TrainingSpec().lora_rank_for(3_754_622_976), TrainingSpec().lora_rank_for(1_600_000)
        (16, 0)
        >>> TrainingSpec(lora_rank=0).lora_rank_for(3_754_622_976)
        0
        """
        if self.lora_rank is not None:
            return self.lora_rank
        return AUTO_LORA_RANK if params >= AUTO_LORA_MIN_PARAMS else 0


class FeedbackSpec(Model):
    """Learning from corrections that arrive on Kafka."""

    topic: str = Field(
        "ontask.corrections",
        min_length=1,
        max_length=249,
        pattern=r"^[a-zA-Z0-9._-]+$",
        description="Kafka topic of corrections (messages keyed by classifier name).",
    )
    buffer_size: int = Field(10000, ge=1, description="Corrections kept in the prioritised buffer.")
    variants_per_correction: int = Field(10, ge=0, le=1000, description="Synthetic variants made from each correction.")
    cycle_every: int = Field(100, ge=1, description="New corrections that start a sync cycle.")
    sync_steps: Optional[int] = Field(
        None,
        ge=1,
        description="Deprecated: moved to training.syncSteps. Still read in v1alpha1 (status.warnings "
        "says so); setting both to different values is refused.",
    )
    cycle_warm_start_steps: int = Field(
        0, ge=0, le=1_000_000, description="Supervised steps on the cycle's data before its GRPO steps."
    )
    max_cycle_wait_minutes: int = Field(
        1440,
        ge=1,
        description="A cycle also starts when corrections have waited this long, even if fewer "
        "than cycleEvery arrived.",
    )
    replay_ratio: float = Field(
        1.0,
        ge=0.0,
        le=10.0,
        description="Rows of earlier training data replayed per new row in a cycle (against forgetting).",
    )
    anchor_weight: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="How much of a replayed row's supervised target in a cycle is the serving version's own answer "
        "(distillation, against forgetting) rather than the row's stored label; 0: the label alone.",
    )
    lora_rank: Optional[int] = Field(
        None,
        ge=0,
        le=1024,
        description="LoRA rank of a cycle's adapters on the serving version (merged into the candidate): a cycle "
        "that can only move a few directions forgets less. 0: full fine-tuning; unset: training.loraRank.",
    )
    holdout_fraction: float = Field(
        0.2,
        gt=0.0,
        le=0.45,
        description="Share of corrections held out whole (with their variants) for the promotion gate, and as "
        "many again for the candidate's validation; chosen by correction id, so never trained on in any cycle.",
    )
    learning_rate_scale: float = Field(
        0.33,
        gt=0.0,
        le=1.0,
        description="A sync cycle's learning rate as a fraction of training.learningRate. A cycle fine-tunes the "
        "serving model on a few hundred rows; at the full rate it forgets more of the rest "
        "(bench_convergence).",
    )
    dead_letter_topic: Optional[str] = Field(
        None,
        max_length=249,
        pattern=r"^[a-zA-Z0-9._-]+$",
        description="Topic of invalid corrections; default <topic>.dead-letter.",
    )
    screenshot_retention_hours: int = Field(
        720,
        ge=1,
        description="Raw screenshots of corrections are deleted after this long, and the cycle datasets "
        "that copied them (all but the newest); hashes and labels stay.",
    )
    keep_cycle_jobs: int = Field(
        3,
        ge=0,
        le=1000,
        description="Decided cycles whose PyTorchJob (with its pods and their logs) is kept; the operator deletes "
        "older ones. Counted in cycles, not time, so a job is never deleted before its cycle is decided (a TTL could "
        "remove it first, and the operator would run the cycle again).",
    )
    reviewers: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        default_factory=list,
        max_length=256,
        description="userIds whose corrections may say `source: reviewer` (top priority). Anyone else's "
        "reviewer correction is kept as a user's and counted (the collector's reviewer_downgraded). Empty: no "
        "reviewers. A userId is what the producer writes: pair this with Kafka ACLs on who may write the topic.",
    )
    max_corrections_per_user: Optional[int] = Field(
        None,
        ge=1,
        le=1_000_000,
        description="Corrections one userId may add between two cycles (those without a userId share one "
        "allowance per source); more are dead-lettered as `user-cap`, so one user's flood cannot be most of a "
        "cycle. Unset: no cap.",
    )
    screenshot_uri_prefixes: list[Annotated[str, Field(pattern=r"^s3://[^/]+/.*$", max_length=1024)]] = Field(
        default_factory=list,
        max_length=32,
        description="s3:// prefixes a correction's screenshotUri may point into. Empty: anywhere in the "
        "classifier's bucket outside the areas ontask writes (its classifiers' and datasets' folders), which "
        "are never readable by reference.",
    )

    def dead_letters(self) -> str:
        """The dead-letter topic: deadLetterTopic, or <topic>.dead-letter."""
        return self.dead_letter_topic or f"{self.topic}.dead-letter"


class ServingSpec(Model):
    """The student InferenceService and promotion of candidates."""

    cel_rules: ClassVar[list[dict[str, str]]] = [
        {
            "rule": "self.maxReplicas >= self.minReplicas",
            "message": "maxReplicas must be >= minReplicas",
            "fieldPath": ".maxReplicas",
        }
    ]

    min_replicas: int = Field(1, ge=0, le=1000, description="Minimum predictor replicas.")
    max_replicas: int = Field(4, ge=1, le=1000, description="Maximum predictor replicas.")
    canary_percent: int = Field(10, ge=0, le=100, description="Traffic share of a candidate in canary.")
    promote_if_gain: float = Field(
        0.01,
        ge=-1.0,
        le=1.0,
        description="Minimum accuracy gain over the serving version on the cycle's held-out corrections (whole "
        "corrections never trained on, with their variants) for promotion.",
    )
    max_regression: float = Field(
        0.02,
        ge=0.0,
        le=1.0,
        description="Largest accuracy loss on the regression set (the classifier's own validation rows) that a "
        "promoted candidate may have against the serving version; a candidate significantly worse there by a "
        "paired test on the same rows is refused too. 1.0 turns the check off.",
    )
    canary_minutes: float = Field(
        10.0,
        ge=0.0,
        le=10080.0,
        description="How long a ready canary serves its share (Serverless mode) before it replaces the serving "
        "version.",
    )
    judge_below_confidence: float = Field(
        0.7,
        ge=0.5,
        le=1.0,
        description="Predictions less confident than this are checked by the judge in the background.",
    )
    correction_min_confidence: float = Field(
        0.8,
        ge=0.5,
        le=1.0,
        description="A judge that disagrees at least this confidently publishes a correction (source judge).",
    )
    max_image_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024, description="Largest screenshot a predictor accepts, in bytes."
    )
    max_image_pixels: int = Field(
        40_000_000,
        ge=1024,
        le=268_435_456,
        description="Largest screenshot a predictor accepts, in pixels (width x height).",
    )
    max_request_pixels: int = Field(
        64_000_000,
        ge=1024,
        le=1_073_741_824,
        description="Pixels a predictor decodes for one request, all its screenshots together; a request "
        "over it is refused with 400 (about 190 MB of decoded RGB at the default).",
    )
    max_concurrent_requests: int = Field(
        4, ge=1, le=1024, description="Requests a predictor replica decodes and scores at once."
    )
    max_queued_requests: int = Field(
        32,
        ge=0,
        le=100_000,
        description="Requests waiting beyond maxConcurrentRequests; more are answered 429 with Retry-After.",
    )
    max_queue_seconds: float = Field(
        10.0,
        gt=0.0,
        le=3600.0,
        description="How long a request waits for one of the maxConcurrentRequests slots; one that waited "
        "longer is answered 503 with Retry-After instead of holding its client.",
    )
    token_secret_ref: Optional[str] = Field(
        None,
        min_length=1,
        max_length=253,
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description="Secret in the classifier's namespace whose key `token` is a bearer token: the predictors "
        "then refuse (401) every request but a health probe without `Authorization: Bearer <token>`; the student's "
        "judge client and `ontask agent` send it from ONTASK_PREDICT_TOKEN. Unset: no authentication (reach is "
        "then the chart's NetworkPolicy's to limit).",
    )
    model_max_pixels: Optional[int] = Field(
        None,
        ge=3136,
        le=12_845_056,
        description="Pixels the student sees (the processor's max_pixels); unset keeps the model's own setting. "
        "About 600000 keeps a 3B student under 100 ms on one GPU.",
    )

    @model_validator(mode="after")
    def _replica_bounds(self) -> "ServingSpec":
        if self.max_replicas < self.min_replicas:
            raise ValueError("maxReplicas must be >= minReplicas")
        return self


class StorageSpec(Model):
    """The artifact store (any S3)."""

    endpoint: Optional[str] = Field(
        None,
        pattern=r"^https?://",
        description="S3 endpoint URL; defaults to the operator's configured store.",
    )
    bucket: str = Field("ontask", min_length=3, max_length=63, description="Bucket for datasets, models and buffers.")
    secret_ref: Optional[str] = Field(
        None,
        min_length=1,
        description="Secret in the classifier's namespace in KServe's S3 format (keys AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY; KServe's serving.kserve.io/s3-* annotations), usually the one serviceAccountName "
        "lists: the jobs, the collector and the predictors read its two keys. Unset, and no installation-wide "
        "Secret: no keys, and every child uses the cloud identity of serviceAccountName (IRSA, EKS Pod Identity).",
    )
    service_account_name: Optional[str] = Field(
        None,
        min_length=1,
        max_length=253,
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
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


Phase = Literal["Pending", "Bootstrapping", "Training", "Serving", "Syncing", "Failed"]
ConditionType = Literal["Ready", "JudgeServing", "StudentServing", "Trained", "FeedbackConnected"]


class Condition(Model):
    """A condition shaped as Kubernetes' metav1.Condition (its fields, required ones and rules), so
    kubectl wait, kstatus and GitOps tools read it as they read any other."""

    type: ConditionType = Field(..., description="Condition type.")
    status: Literal["True", "False", "Unknown"] = Field(..., description="True, False or Unknown.")
    observed_generation: Optional[int] = Field(
        None, ge=0, description="metadata.generation of the spec the condition was set from."
    )
    last_transition_time: str = Field(
        ...,
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$",
        description="RFC 3339 time the status last changed.",
    )
    reason: str = Field(
        ...,
        min_length=1,
        max_length=1024,
        pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
        description="CamelCase reason of the condition's last change, for programs.",
    )
    message: str = Field("", max_length=32768, description="Human-readable detail (may be empty).")

    @model_validator(mode="before")
    @classmethod
    def _fill_what_older_writers_left_out(cls, data: Any) -> Any:
        """A condition read back that lacks a required field (written by hand, or by an older
        operator) is read, not refused: a status the operator cannot parse would stop its
        classifier. What it writes always has every field."""
        if isinstance(data, dict):
            data = dict(data)
            if not data.get("lastTransitionTime") and not data.get("last_transition_time"):
                data["lastTransitionTime"] = "1970-01-01T00:00:00Z"
            if not data.get("reason"):
                data["reason"] = "Unknown"
        return data


class FeedbackCounts(Model):
    """Corrections seen by the feedback daemon."""

    received: int = Field(0, ge=0, description="Valid corrections received.")
    pending: int = Field(0, ge=0, description="Corrections waiting for the next cycle.")
    rejected: int = Field(0, ge=0, description="Corrections sent to the dead-letter topic.")


class Metrics(Model):
    """Evaluation of the serving version."""

    accuracy: Optional[float] = Field(
        None, ge=0.0, le=1.0, description="The serving version's accuracy on the regression set (held-out rows)."
    )
    edge_case_accuracy: Optional[float] = Field(
        None,
        ge=0.0,
        le=1.0,
        description="The last cycle's candidate on its held-out corrections (whole corrections never trained on).",
    )
    p50_latency_ms: Optional[float] = Field(None, ge=0.0, description="Median prediction latency in ms.")


class TaskClassifierStatus(Model):
    """Observed state of a TaskClassifier, written by the operator."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    phase: Phase = Field("Pending", description="Pending|Bootstrapping|Training|Serving|Syncing|Failed.")
    model_version: Optional[str] = Field(None, description="Version the student InferenceService serves.")
    candidate_version: Optional[str] = Field(None, description="Version in canary, if any.")
    canary_since: Optional[str] = Field(None, description="When the candidate's canary revision became ready.")
    cycle: int = Field(0, ge=0, description="Completed feedback sync cycles.")
    feedback: FeedbackCounts = Field(default_factory=FeedbackCounts, description="Correction counts.")
    metrics: Metrics = Field(default_factory=Metrics, description="Evaluation metrics.")
    conditions: list[Condition] = Field(default_factory=list, description="Current conditions.")
    observed_generation: Optional[int] = Field(None, description="Generation of the spec last reconciled.")
    warnings: list[str] = Field(default_factory=list, description="Deprecated spec fields in use.")


def read_spec_document(path: str) -> dict[str, Any]:
    """The YAML/JSON document at `path`, or in the environment variable NAME for `env:NAME` (how
    the operator hands a classifier's spec to its children, whole)."""
    import os
    from pathlib import Path

    import yaml

    text = os.environ[path[4:]] if path.startswith("env:") else Path(path).read_text()
    doc = yaml.safe_load(text) or {}
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected a TaskClassifier or its spec, got {type(doc).__name__}")
    return doc


def load_spec_file(path: str) -> "TaskClassifierSpec":
    """The spec of a TaskClassifier manifest or of a bare spec mapping (see read_spec_document)."""
    doc = read_spec_document(path)
    return TaskClassifierSpec.model_validate(doc.get("spec", doc))


class TaskClassifier(Model):
    """The whole resource, as read from the API server."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    api_version: Literal["ontask.dev/v1alpha1"] = Field("ontask.dev/v1alpha1", description="API version.")
    kind: Literal["TaskClassifier"] = Field("TaskClassifier", description="Kind.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Object metadata.")
    spec: TaskClassifierSpec
    status: Optional[TaskClassifierStatus] = None


# --- evidence and dataset rows (shared by datasets, predictor requests and corrections) --------


class WindowInfo(Model):
    """One window as the capture agent knows it from the operating system (ActivityWatch-style)."""

    app: str = Field(
        "", max_length=256, description="Application name, e.g. 'Firefox'; empty when the agent does not know it."
    )
    title: str = Field("", max_length=1024, description="Window title as shown in its title bar.")
    url: Optional[str] = Field(None, max_length=4096, description="Page URL for browser windows.")
    focused: bool = Field(False, description="Whether this window has the keyboard focus.")


LabelSource = Literal["rule", "manifest", "judge", "verifier", "user", "reviewer", "variant", "unlabeled"]


# --- feedback: the correction message (Kafka) --------------------------------------------------

MAX_INLINE_IMAGE_BYTES = 4 * 1024 * 1024
_B64_MAX = (MAX_INLINE_IMAGE_BYTES + 2) // 3 * 4


class Correction(Model):
    """A correction of one prediction, as apps send it to the feedback topic (JSON, keyed by the
    classifier's name so one classifier's corrections stay ordered)."""

    id: str = Field(
        ...,
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="Chosen by the client; the same id twice is one correction (idempotency).",
    )
    classifier: str = Field(
        ...,
        min_length=1,
        max_length=253,
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description="Name of the TaskClassifier the correction is for.",
    )
    screenshot_uri: Optional[str] = Field(
        None,
        pattern=r"^s3://[^/]+/.+",
        max_length=2048,
        description="s3://bucket/key of the screenshot (or give screenshotBase64).",
    )
    screenshot_base64: Optional[str] = Field(
        None,
        max_length=_B64_MAX,
        description=f"The screenshot inline, base64 PNG/JPEG, at most "
        f"{MAX_INLINE_IMAGE_BYTES // (1024 * 1024)} MiB decoded.",
    )
    task: str = Field(..., min_length=1, max_length=2000, description="The task the person was doing.")
    windows: list[WindowInfo] = Field(
        default_factory=list, max_length=64, description="Window evidence, when the client has it."
    )
    predicted_label: Optional[Label] = Field(None, description="What the classifier said, when known.")
    confidence: Optional[float] = Field(None, ge=0.0, le=1.0, description="Its confidence, when known.")
    model_version: Optional[str] = Field(None, max_length=64, description="The model version that predicted.")
    corrected_label: Label = Field(..., description="The right label: on-task or off-task.")
    source: Literal["user", "judge", "reviewer"] = Field("user", description="Who corrected.")
    user_id: Optional[str] = Field(None, max_length=256, description="Opaque id of the user (no personal data).")
    timestamp: str = Field(
        ...,
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$",
        description="RFC 3339 time of the screenshot.",
    )
    session_id: Optional[str] = Field(None, max_length=256, description="Capture session, for temporal context.")
    note: Optional[str] = Field(None, max_length=2000, description="Free text from the corrector.")

    @model_validator(mode="after")
    def _one_screenshot(self) -> "Correction":
        if (self.screenshot_uri is None) == (self.screenshot_base64 is None):
            raise ValueError("give exactly one of screenshotUri and screenshotBase64")
        return self
