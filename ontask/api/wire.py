"""The base of every model that crosses a boundary: the TaskClassifier's spec and status, the
correction message, the predictor's requests and answers. Field names are camelCase on the wire
(as Kubernetes users expect) and snake_case in Python."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Model(BaseModel):
    """Base of every wire model: camelCase aliases, unknown fields refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", validate_default=True)

    def wire(self) -> dict[str, Any]:
        """The object as the Kubernetes API and Kafka see it (camelCase, no unset optionals)."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")
