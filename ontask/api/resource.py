"""The TaskClassifier resource as the API server holds it, and its names."""

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


class TaskClassifier(Model):
    """The whole resource, as read from the API server."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    api_version: Literal["ontask.dev/v1alpha1"] = Field("ontask.dev/v1alpha1", description="API version.")
    kind: Literal["TaskClassifier"] = Field("TaskClassifier", description="Kind.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Object metadata.")
    spec: TaskClassifierSpec
    status: Optional[TaskClassifierStatus] = None
