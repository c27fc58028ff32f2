"""The correction message on the wire: validation with a reason a dead-letter record can carry."""

from __future__ import annotations

import binascii
import json
from typing import Optional

import pybase64
from pydantic import ValidationError

from ontask.api import MAX_INLINE_IMAGE_BYTES, Correction


class InvalidCorrection(ValueError):
    """A message that is not a valid correction; `reason` is a short machine-readable kind."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def _reason(err: dict) -> str:
    loc = ".".join(str(p) for p in err.get("loc", ()))
    if err["type"] == "missing":
        return "missing-field"
    if loc in ("correctedLabel", "predictedLabel", "corrected_label", "predicted_label"):
        return "unknown-label"
    if loc in ("screenshotBase64", "screenshot_base64") and err["type"] == "string_too_long":
        return "oversized-image"
    return "invalid-field"


def parse_correction(raw: bytes, max_image_bytes: int = MAX_INLINE_IMAGE_BYTES) -> Correction:
    """A Correction from the bytes of a Kafka message, or InvalidCorrection with the reason."""
    return parse_correction_and_image(raw, max_image_bytes)[0]


def parse_correction_and_image(
    raw: bytes, max_image_bytes: int = MAX_INLINE_IMAGE_BYTES
) -> tuple[Correction, Optional[bytes]]:
    """parse_correction, with the inline screenshot's bytes (decoded once; None for a reference).
    The bytes are parsed and validated in one pass by pydantic's own JSON parser (no Python
    dict in between: a third of the collector's work per message was `json.loads`)."""
    try:
        c = Correction.model_validate_json(raw)
    except ValidationError as e:
        first = e.errors()[0]
        if first["type"] == "json_invalid" or (first["type"] == "model_type" and not first.get("loc")):
            # Not JSON (or nested past the parser's limit), or JSON that is not an object.
            detail = first["msg"] if first["type"] == "json_invalid" else "not a JSON object"
            raise InvalidCorrection("bad-json", detail) from e
        where = ".".join(str(p) for p in first.get("loc", ())) or "message"
        raise InvalidCorrection(_reason(first), f"{where}: {first['msg']}") from e
    data = None
    if c.screenshot_base64 is not None:
        try:
            data = pybase64.b64decode(c.screenshot_base64, validate=True)
        except (binascii.Error, ValueError) as e:
            raise InvalidCorrection("bad-image", f"screenshotBase64 is not base64: {e}") from e
        if len(data) > max_image_bytes:
            raise InvalidCorrection("oversized-image", f"{len(data):,} bytes > {max_image_bytes:,}")
    return c, data


def encode_correction(c: Correction) -> tuple[bytes, bytes]:
    """(key, value) of the Kafka record: keyed by classifier, JSON in camelCase."""
    return c.classifier.encode(), json.dumps(c.wire(), separators=(",", ":")).encode()


def image_bytes(c: Correction) -> Optional[bytes]:
    """The inline screenshot, decoded (None for an s3:// reference)."""
    return pybase64.b64decode(c.screenshot_base64) if c.screenshot_base64 is not None else None
