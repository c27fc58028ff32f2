"""The disagreement loop: low-confidence predictions are checked by the judge in the
background, never delaying the response; a confident disagreement becomes a correction with
source "judge" on the feedback topic (the judge topic when the spec names one)."""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
from dataclasses import dataclass
from typing import Callable, Optional

from ontask.api import MAX_INLINE_IMAGE_BYTES, Correction
from ontask.feedback.kafka_security import KafkaSecurity
from ontask.feedback.producer import make_correction
from ontask.judge.remote import JudgeClient
from ontask.labels import label_of
from ontask.serving import metrics

log = logging.getLogger(__name__)


@dataclass
class Check:
    """One prediction to check: what the student saw and said."""

    classifier: str
    task: str
    windows: Optional[list[dict]]
    image: Optional[bytes]
    image_uri: Optional[str]
    student_label: str
    student_confidence: float
    model_version: str
    session_id: Optional[str] = None
    image_sha256: str = ""


def judge_correction(
    check: Check, judge_p_on: float, min_confidence: float, namespace: Optional[str] = None
) -> Optional[Correction]:
    """The correction a judge verdict implies: one when the judge disagrees with the student at
    least `min_confidence` sure, else None, addressed to the classifier in `namespace` when given.
    The id is a content hash, so re-checking the same screenshot never yields a second correction."""
    judge_label = label_of(judge_p_on)
    if judge_label == check.student_label or max(judge_p_on, 1 - judge_p_on) < min_confidence:
        return None
    digest = hashlib.sha256(f"{check.image_sha256}|{check.task}|{check.model_version}".encode()).hexdigest()[:32]
    inline = check.image if check.image_uri is None and check.image is not None else None
    if inline is not None and len(inline) > MAX_INLINE_IMAGE_BYTES:
        return None  # too big to travel inline, and there is no s3:// copy to point at
    return make_correction(
        check.classifier,
        check.task,
        judge_label,
        image=inline,
        image_uri=check.image_uri,
        id=f"judge-{digest}",
        source="judge",
        predicted_label=check.student_label,
        confidence=round(check.student_confidence, 4),
        model_version=check.model_version[:64],
        windows=check.windows or [],
        session_id=check.session_id,
        note=f"judge P(on-task)={judge_p_on:.3f}",
        namespace=namespace,
    )


class DisagreementLoop:
    """A background worker with a queue bounded in checks and in screenshot bytes: `offer()` never
    blocks; a check over either bound is dropped and counted (the response path must never wait
    for the judge, and a burst of large screenshots must not grow the predictor's memory)."""

    def __init__(
        self,
        judge: JudgeClient,
        publish: Callable[[Correction], None],
        min_confidence: float = 0.8,
        model_name: str = "student",
        max_queue: int = 256,
        max_queued_bytes: int = 64 * 1024 * 1024,
        namespace: Optional[str] = None,
    ):
        """`namespace` is the classifier's: the corrections name it (see Correction.namespace)."""
        self.judge, self.publish, self.min_confidence = judge, publish, min_confidence
        self.namespace = namespace
        self.model_name = model_name
        self.max_queued_bytes = max_queued_bytes
        self._queued_bytes = 0
        self._bytes_lock = threading.Lock()
        self._queue: queue.Queue[Optional[Check]] = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._run, name="judge-checks", daemon=True)
        self._thread.start()

    def offer(self, check: Check) -> bool:
        size = len(check.image or b"")
        with self._bytes_lock:
            if self._queued_bytes + size > self.max_queued_bytes:
                metrics.JUDGE_CHECKS.labels(self.model_name, "dropped").inc()
                return False
            self._queued_bytes += size
        try:
            self._queue.put_nowait(check)
            return True
        except queue.Full:
            self._release(size)
            metrics.JUDGE_CHECKS.labels(self.model_name, "dropped").inc()
            return False

    def _release(self, size: int) -> None:
        with self._bytes_lock:
            self._queued_bytes -= size

    def _run(self) -> None:
        while (check := self._queue.get()) is not None:
            self._release(len(check.image or b""))
            try:
                p = self.judge.p_on_task(check.image, check.image_uri, check.task, check.windows)
                correction = judge_correction(check, p, self.min_confidence, self.namespace)
                if correction is None:
                    metrics.JUDGE_CHECKS.labels(self.model_name, "agree").inc()
                    continue
                self.publish(correction)
                metrics.JUDGE_CHECKS.labels(self.model_name, "disagree").inc()
                # Never the task text: it is the user's, and logs reach people the data does not.
                log.info(
                    "judge disagrees", extra={"correction_id": correction.id, "judge_label": correction.corrected_label}
                )
            except Exception as e:  # noqa: BLE001 - a failed check must not stop the loop
                metrics.JUDGE_CHECKS.labels(self.model_name, "error").inc()
                log.warning("judge check failed: %s", type(e).__name__)

    def close(self, timeout: float = 5.0) -> None:
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            pass
        self._thread.join(timeout)


def kafka_publisher(bootstrap: str, topic: str, security: KafkaSecurity) -> Callable[[Correction], None]:
    """Publishes corrections (acks=all) through one long-lived producer."""
    from ontask.feedback.producer import new_producer, send

    producer = new_producer(bootstrap, security)
    return lambda c: send(c, topic=topic, producer=producer)
