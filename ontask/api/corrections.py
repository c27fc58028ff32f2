"""The correction message: what apps send to the feedback topic (Kafka) when a prediction was
wrong."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, model_validator

from ontask.api.windows import WindowInfo
from ontask.api.wire import Model, NamespaceName, ObjectName
from ontask.labels import Label

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
    classifier: ObjectName = Field(..., description="Name of the TaskClassifier the correction is for.")
    namespace: Optional[NamespaceName] = Field(
        None,
        description="Namespace of that TaskClassifier. Without it, the correction is for every classifier of "
        "that name that reads the topic: give it where classifiers of one name in several namespaces share a "
        "topic (the predictors' judge loop always does).",
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
    user_signature: Optional[str] = Field(
        None,
        pattern=r"^[0-9a-f]{64}$",
        description="Hex HMAC-SHA256 of `classifier` (`namespace/classifier` when namespace is given), `id`, "
        "`userId` and `source`, one a line, with the "
        "classifier's user key (spec.feedback.userKeySecretRef): the app's backend vouches for the user. "
        "Required with a userId when that key is set.",
    )
    timestamp: str = Field(
        ...,
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$",
        description="RFC 3339 time of the screenshot.",
    )
    session_id: Optional[str] = Field(None, max_length=256, description="Capture session, for temporal context.")
    note: Optional[str] = Field(None, max_length=2000, description="Free text from the corrector.")

    @property
    def addressee(self) -> str:
        """Whom the correction is for: `namespace/classifier`, or the classifier's name alone."""
        return f"{self.namespace}/{self.classifier}" if self.namespace else self.classifier

    def is_for(self, namespace: Optional[str], classifier: str) -> bool:
        """Whether a classifier (its namespace, when known) takes this correction: the same name,
        and the same namespace when both say one."""
        return self.classifier == classifier and (
            self.namespace is None or namespace is None or self.namespace == namespace
        )

    @model_validator(mode="after")
    def _one_screenshot(self) -> "Correction":
        if (self.screenshot_uri is None) == (self.screenshot_base64 is None):
            raise ValueError("give exactly one of screenshotUri and screenshotBase64")
        return self
