"""The names of a classifier's children: deterministic (classifier, role, cycle), so a restarted
operator finds what it made instead of making it twice, and short enough for every name KServe
and the training operator derive from them."""

from __future__ import annotations

import hashlib
import re
from typing import Optional

from ontask.store_paths import FEEDBACK_DATASET_SUFFIX, NAME_SUFFIX_REFUSED

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
