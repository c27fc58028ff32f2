"""What a predictor accepts and answers, on KServe v1 and on the Open Inference Protocol (v2).

v1: `POST /v1/models/<name>:predict` with `{"instances": [Instance, ...]}`, answered with
`{"predictions": [Prediction, ...]}`.

v2: `POST /v2/models/<name>/infer` with BYTES inputs of shape [n]: `image` (base64 PNG/JPEG, or
an s3:// reference), `task`, and optionally `windows`, `session_id` and `timestamp` (JSON text
per row for windows); the outputs are `label` (BYTES), `p_on_task` and `confidence` (FP32),
`evidence` (BYTES: request | ocr | ocr-partial) and `model_version` (BYTES).
"""

from __future__ import annotations

import binascii
import json
from typing import Any, Optional

import pybase64
from pydantic import Field, ValidationError, model_validator

from ontask.api.windows import WindowInfo
from ontask.api.wire import Model
from ontask.labels import Label

MAX_INSTANCES = 64


class RequestError(ValueError):
    """A request that cannot be answered; str() is the message the client gets with a 400."""


class Instance(Model):
    """One screenshot to classify."""

    image: Optional[str] = Field(None, description="The screenshot, base64 PNG or JPEG.")
    image_uri: Optional[str] = Field(
        None, pattern=r"^s3://[^/]+/.+", max_length=2048, description="Or an s3://bucket/key reference to it."
    )
    task: str = Field(..., min_length=1, max_length=2000, description="What the person should be doing.")
    windows: Optional[list[WindowInfo]] = Field(
        None, max_length=64, description="Window evidence from the capture agent; OCR otherwise."
    )
    session_id: Optional[str] = Field(None, max_length=256)
    timestamp: Optional[str] = Field(None, max_length=64)

    @model_validator(mode="after")
    def _one_image(self) -> "Instance":
        if (self.image is None) == (self.image_uri is None):
            raise ValueError("give exactly one of image (base64) and imageUri (s3://)")
        if not self.task.strip():
            raise ValueError("task is empty")
        return self

    def image_bytes(self) -> bytes:
        """The inline image decoded from base64, or RequestError."""
        assert self.image is not None
        try:
            return pybase64.b64decode(self.image, validate=True)
        except (binascii.Error, ValueError) as e:
            raise RequestError(f"image is not valid base64 ({e})") from e


class Prediction(Model):
    label: Label
    p_on_task: float
    confidence: float
    model_version: str
    evidence: str = Field(
        description="request: the request's windows; ocr: read from the screenshot; ocr-partial: read from the "
        "screenshot until OCR's time budget ran out (the windows read by then, perhaps none)."
    )
    latency_ms: float
    student_p_on_task: Optional[float] = Field(
        None,
        description=(
            "the student's own P(on-task) when p_on_task is its hybrid with the verifier (the weight "
            "fitted when the model was trained, in ontask-hybrid.json beside it)"
        ),
    )


def _error_text(e: ValidationError, where: str) -> str:
    parts = []
    for err in e.errors()[:5]:
        loc = ".".join(str(x) for x in err["loc"])
        parts.append(f"{loc}: {err['msg']}" if loc else err["msg"])
    return f"{where}: " + "; ".join(parts)


def instances_from_v1(body: Any) -> list[Instance]:
    """The instances of a v1 body, validated; RequestError names the first problems."""
    if not isinstance(body, dict) or not isinstance(body.get("instances"), list):
        raise RequestError('expected a JSON object with an "instances" list')
    items = body["instances"]
    if not items:
        raise RequestError('"instances" is empty')
    if len(items) > MAX_INSTANCES:
        raise RequestError(f"{len(items)} instances; at most {MAX_INSTANCES} per request")
    out = []
    for i, item in enumerate(items):
        try:
            out.append(Instance.model_validate(item))
        except ValidationError as e:
            raise RequestError(_error_text(e, f"instances[{i}]")) from e
    return out


V2_INPUTS = ("image", "task", "windows", "session_id", "timestamp")


def _text(value: Any, where: str = "input") -> str:
    if not isinstance(value, (bytes, bytearray)):
        return str(value)
    try:
        return value.decode()
    except UnicodeDecodeError as e:
        raise RequestError(f"{where} is not UTF-8 text ({e.reason} at byte {e.start})") from e


def instances_from_v2(request) -> list[Instance]:
    """Instances from a kserve InferRequest (columns of BYTES inputs, one row per screenshot)."""
    columns: dict[str, list] = {}
    for tensor in request.inputs:
        if tensor.name not in V2_INPUTS:
            raise RequestError(f"unknown input {tensor.name!r}; inputs are {', '.join(V2_INPUTS)}")
        if tensor.datatype != "BYTES":
            raise RequestError(f"input {tensor.name!r} must be BYTES, not {tensor.datatype}")
        columns[tensor.name] = list(tensor.data)
    for name in ("image", "task"):
        if name not in columns:
            raise RequestError(f"missing input {name!r}")
    n = len(columns["image"])
    if not n or n > MAX_INSTANCES:
        raise RequestError(f"{n} images; between 1 and {MAX_INSTANCES} per request")
    if any(len(v) != n for v in columns.values()):
        raise RequestError("every input needs one entry per image")
    out = []
    for i in range(n):
        image = _text(columns["image"][i], f"image[{i}]")
        doc: dict[str, Any] = {"task": _text(columns["task"][i], f"task[{i}]")}
        doc["imageUri" if image.startswith("s3://") else "image"] = image
        if "windows" in columns:
            try:
                doc["windows"] = json.loads(_text(columns["windows"][i], f"windows[{i}]"))
            except json.JSONDecodeError as e:
                raise RequestError(f"windows[{i}] is not JSON ({e.msg})") from e
        for name, alias in (("session_id", "sessionId"), ("timestamp", "timestamp")):
            if name in columns:
                doc[alias] = _text(columns[name][i], f"{name}[{i}]")
        try:
            out.append(Instance.model_validate(doc))
        except ValidationError as e:
            raise RequestError(_error_text(e, f"row {i}")) from e
    return out


def v2_outputs(predictions: list[Prediction]) -> list[dict[str, Any]]:
    """The predictions as v2 output tensors (name, datatype, shape, data)."""
    n = len(predictions)
    return [
        {"name": "label", "datatype": "BYTES", "shape": [n], "data": [p.label for p in predictions]},
        {"name": "p_on_task", "datatype": "FP32", "shape": [n], "data": [p.p_on_task for p in predictions]},
        {"name": "confidence", "datatype": "FP32", "shape": [n], "data": [p.confidence for p in predictions]},
        {"name": "evidence", "datatype": "BYTES", "shape": [n], "data": [p.evidence for p in predictions]},
        {"name": "model_version", "datatype": "BYTES", "shape": [n], "data": [p.model_version for p in predictions]},
    ]
