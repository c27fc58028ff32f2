"""Where a classifier's children run and what they are made of: CPU and memory, tolerations,
node selection, and the labels and annotations every child and its pods carry."""

from __future__ import annotations

import re
from typing import Literal, Optional

from pydantic import Field, model_validator

from ontask.api.wire import Model, ObjectName

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
    # from) + a default bootstrap's 400 rows at 600k pixels: docs/training.md, Sizing (bench_3b_shape).
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

    # Required: Kubernetes reads a toleration without a key (operator Exists) as tolerating every
    # taint, control-plane and cordoned nodes included, which is not a TaskClassifier author's call.
    key: str = Field(
        min_length=1,
        max_length=316,
        description="Taint key (required: a toleration of every taint, control-plane nodes included, is refused).",
    )
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
    image_pull_secrets: list[ObjectName] = Field(
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
