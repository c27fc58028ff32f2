"""Sending corrections: `ontask.feedback.send(...)` and the `ontask feedback send` command."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from typing import Any, Optional

from kafka import KafkaProducer
from kafka.errors import KafkaError

from ontask.api import Correction
from ontask.api.feedback import DEFAULT_TOPIC
from ontask.feedback.kafka_security import KafkaSecurity
from ontask.feedback.messages import encode_correction
from ontask.feedback.signatures import signed_text, user_signature
from ontask.images import sha256


class KafkaUnreachable(RuntimeError):
    """No broker took the correction; str() names the bootstrap servers and what to check."""


def make_correction(
    classifier: str,
    task: str,
    label: str,
    image: Optional[bytes] = None,
    image_uri: Optional[str] = None,
    user_key: Optional[bytes] = None,
    **fields: Any,
) -> Correction:
    """A validated Correction; a missing id and timestamp are filled in (a fresh id, now). With
    `user_key`, its userId is signed (feedback.userKeySecretRef; ontask.feedback.signatures)."""
    doc: dict[str, Any] = {
        "id": fields.pop("id", None) or uuid.uuid4().hex,
        "classifier": classifier,
        "task": task,
        "corrected_label": label,
        "timestamp": fields.pop("timestamp", None)
        or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        **fields,
    }
    if image is not None:
        doc["screenshot_base64"] = base64.b64encode(image).decode()
    if image_uri is not None:
        doc["screenshot_uri"] = image_uri
    correction = Correction.model_validate(doc)
    if user_key is None:
        return correction
    if not correction.user_id:
        raise ValueError("a user key signs a userId: give the correction's userId")
    c = correction
    shot = sha256(image) if image is not None else str(c.screenshot_uri)
    text = signed_text(c.addressee, c.id, c.user_id, c.source, c.corrected_label, c.timestamp, shot, c.task)
    return c.model_copy(update={"user_signature": user_signature(user_key, text)})


def new_producer(bootstrap: str, security: Optional[KafkaSecurity] = None, **settings: Any) -> KafkaProducer:
    """A producer for corrections (acks=all), with the installation's Kafka security settings
    (ontask.feedback.settings; plaintext unless given); `settings` are more KafkaProducer settings."""
    security = security or KafkaSecurity()
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        **{"acks": "all", "retries": 5, **settings},
        **security.client_kwargs(),
    )


def send(
    correction: Correction,
    bootstrap: Optional[str] = None,
    topic: str = DEFAULT_TOPIC,
    producer: Optional[KafkaProducer] = None,
    timeout: float = 30.0,
    security: Optional[KafkaSecurity] = None,
) -> None:
    """Publish one correction (acks=all) and wait until the broker has it; KafkaUnreachable when
    no broker answers or takes it in `timeout` seconds. Without `producer`, one is made for
    `bootstrap` with `security` (plaintext unless given)."""
    own = producer is None
    servers = bootstrap or "(no bootstrap servers given)"
    try:
        if producer is None:
            if not bootstrap:
                raise KafkaError("no bootstrap servers")
            # The brokers have `timeout` to answer, and send() as long to learn the topic's partitions,
            # not kafka-python's own 30 s and 60 s.
            ms = int(timeout * 1000)
            producer = new_producer(bootstrap, security, bootstrap_timeout_ms=ms, max_block_ms=ms)
    except KafkaError as e:
        raise KafkaUnreachable(
            f"cannot reach Kafka at {servers}: {type(e).__name__}; give the "
            "brokers with --bootstrap (or ONTASK_KAFKA_BOOTSTRAP) and check they are up"
        ) from e
    try:
        key, value = encode_correction(correction)
        producer.send(topic, key=key, value=value).get(timeout=timeout)
    except KafkaError as e:
        raise KafkaUnreachable(f"Kafka at {servers} did not take the correction for topic {topic!r}: {e}") from e
    finally:
        if own:
            producer.close()
