"""The TaskClassifier's API and the wire messages: pydantic models that are the single source of
truth for what crosses a boundary.

- the resource (``resource.py``), its spec (``spec.py`` with ``training.py``, ``feedback.py``,
  ``serving.py``, ``scheduling.py``) and status (``status.py``), read from a file or env:NAME by
  ``spec_file.py``; the CRD in ``charts/ontask/files/crds/`` is generated from them by
  ``python -m ontask.api.crd``, and every component reads its settings through them;
- the correction message on the feedback topic (``corrections.py``);
- the predictor's requests and answers (``predictions.py``), with the window evidence both carry
  (``windows.py``).

Light on purpose: pydantic only (no torch, Kafka or kopf), so the capture agent on a user's
desktop reads the same schema as the predictors.
"""

from ontask.api.corrections import MAX_INLINE_IMAGE_BYTES, Correction
from ontask.api.feedback import FeedbackSpec
from ontask.api.predictions import Instance, Prediction, RequestError, instances_from_v1, instances_from_v2, v2_outputs
from ontask.api.resource import (
    GROUP,
    KIND,
    PLURAL,
    SHORT_NAMES,
    SINGULAR,
    VERSION,
    TaskClassifier,
)
from ontask.api.scheduling import (
    ChildMetadata,
    DataResources,
    JudgeResources,
    Resources,
    RoleMetadata,
    SchedulingSpec,
    StudentResources,
    Toleration,
)
from ontask.api.serving import ServingSpec
from ontask.api.spec import DataSpec, JudgeMode, JudgeRuntime, JudgeSpec, StorageSpec, StudentSpec, TaskClassifierSpec
from ontask.api.spec_file import SpecError, load_spec_file, read_spec_document, spec_of_document
from ontask.api.status import Condition, FeedbackCounts, Metrics, Phase, TaskClassifierStatus
from ontask.api.training import AUTO_LORA_MIN_PARAMS, AUTO_LORA_RANK, Curriculum, RewardWeights, TrainingSpec
from ontask.api.windows import WindowInfo
from ontask.api.wire import Model, validation_problems

__all__ = [
    "AUTO_LORA_MIN_PARAMS",
    "AUTO_LORA_RANK",
    "GROUP",
    "KIND",
    "MAX_INLINE_IMAGE_BYTES",
    "PLURAL",
    "SHORT_NAMES",
    "SINGULAR",
    "VERSION",
    "ChildMetadata",
    "Condition",
    "Correction",
    "Curriculum",
    "DataResources",
    "DataSpec",
    "FeedbackCounts",
    "FeedbackSpec",
    "Instance",
    "JudgeMode",
    "JudgeResources",
    "JudgeRuntime",
    "JudgeSpec",
    "Metrics",
    "Model",
    "Phase",
    "Prediction",
    "RequestError",
    "Resources",
    "RewardWeights",
    "RoleMetadata",
    "SchedulingSpec",
    "ServingSpec",
    "SpecError",
    "StorageSpec",
    "StudentResources",
    "StudentSpec",
    "TaskClassifier",
    "TaskClassifierSpec",
    "TaskClassifierStatus",
    "Toleration",
    "TrainingSpec",
    "WindowInfo",
    "instances_from_v1",
    "instances_from_v2",
    "load_spec_file",
    "read_spec_document",
    "spec_of_document",
    "v2_outputs",
    "validation_problems",
]
