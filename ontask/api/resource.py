"""The TaskClassifier resource as the API server holds it, its names, and reading a spec from a
file or from the environment."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import ConfigDict, Field
from pydantic.alias_generators import to_camel

from ontask.api.spec import TaskClassifierSpec
from ontask.api.status import TaskClassifierStatus
from ontask.api.wire import Model

GROUP = "ontask.dev"
VERSION = "v1alpha1"
KIND = "TaskClassifier"
PLURAL = "taskclassifiers"
SINGULAR = "taskclassifier"
SHORT_NAMES = ["tc"]


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
