"""The base of every model that crosses a boundary: the TaskClassifier's spec and status, the
correction message, the predictor's requests and answers. Field names are camelCase on the wire
(as Kubernetes users expect) and snake_case in Python."""

from __future__ import annotations

from typing import Annotated, Any, Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

# The name of a Kubernetes object (a Secret, a ServiceAccount, a TaskClassifier): a DNS subdomain.
ObjectName = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]
# A namespace's name: a DNS-1123 label.
NamespaceName = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]


class Model(BaseModel):
    """Base of every wire model: camelCase aliases, unknown fields refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", validate_default=True)

    def wire(self) -> dict[str, Any]:
        """The object as the Kubernetes API and Kafka see it (camelCase, no unset optionals)."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


def validation_problems(error: ValidationError, root: str = "", names: Optional[Mapping[str, str]] = None) -> list[str]:
    """Each thing a model refused, in one line: `where: what is wrong (got VALUE)`. `where` is the
    field's path as given (keys as written, [i] for list items) under `root`; `names` renames a
    top-level field to what the user typed for it (a command's flag)."""
    said = []
    for e in error.errors():
        path = root
        for i, part in enumerate(e["loc"]):
            if isinstance(part, int):
                path += f"[{part}]"
            else:
                part = (names or {}).get(part, part) if i == 0 else part
                path += f".{part}" if path else part
        message = e["msg"].removeprefix("Value error, ")
        given = e.get("input")
        if e["type"] != "missing" and isinstance(given, (str, int, float, bool)):
            shown = repr(given)
            message += f" (got {shown if len(shown) <= 80 else shown[:76] + '...' + shown[0]})"
        said.append(f"{path}: {message}" if path else message)
    return said
