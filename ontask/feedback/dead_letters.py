"""The dead-letter topic's retention: invalid corrections travel there whole, screenshots
included, so the topic must not keep them longer than the classifier keeps screenshots
(spec.feedback.screenshotRetentionHours)."""

from __future__ import annotations

import logging
import time

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import TopicAlreadyExistsError

from ontask.api import FeedbackSpec
from ontask.feedback.kafka_security import KafkaSecurity

log = logging.getLogger(__name__)


def retention_ms(hours: int) -> int:
    return hours * 3600 * 1000


def _retention(admin: KafkaAdminClient, topic: str, wait_s: float = 15.0) -> int:
    """The topic's retention.ms. A topic created a moment ago (by another collector) may not have
    reached the broker that answers yet, which then describes it without its configs: asked again."""
    deadline = time.monotonic() + wait_s
    while True:
        described = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.ms": None})]
        )
        value = described.get("topic", {}).get(topic, {}).get("retention.ms")
        if value is not None:
            return int(value["value"])
        if time.monotonic() > deadline:
            raise RuntimeError(f"the broker describes {topic} without its retention.ms")
        time.sleep(0.5)


def bound_retention(admin: KafkaAdminClient, topic: str, hours: int) -> str:
    """Make `topic` keep records at most `hours`: create it so when it does not exist (the
    broker's default partitions and replication), lower its retention.ms when it is longer or
    unlimited (-1), leave a shorter one. Returns what it did: "created", "lowered" or "kept"."""
    want = retention_ms(hours)
    if topic not in admin.list_topics():
        try:
            admin.create_topics([NewTopic(topic, -1, -1, topic_configs={"retention.ms": str(want)})])
            return "created"
        except TopicAlreadyExistsError:
            pass  # made since the list was read (another collector; the list lags a creation): bound it
    current = _retention(admin, topic)
    if 0 <= current <= want:
        return "kept"
    result = admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.ms": str(want)})])
    outcome = result["topic"][topic]
    if outcome != "OK":
        raise RuntimeError(f"the broker refused retention.ms={want} on {topic}: {outcome}")
    return "lowered"


def bound_dead_letter_retention(classifier: str, bootstrap: str, security: KafkaSecurity, spec: FeedbackSpec) -> None:
    """Dead letters carry whole records, screenshots included: their topic keeps them no
    longer than the screenshots' retention. Where the broker's ACLs do not allow it, intake
    goes on and the log says what to set."""
    topic, hours = spec.dead_letters(), spec.screenshot_retention_hours
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, **security.client_kwargs())
        try:
            done = bound_retention(admin, topic, hours)
        finally:
            admin.close()
        log.info("collector %s: dead-letter topic %s retention %d h (%s)", classifier, topic, hours, done)
    except Exception as e:  # noqa: BLE001 - a missing permission must not stop intake
        log.warning(
            "collector %s: cannot bound the retention of dead-letter topic %s to %d h (%s); its records "
            "may carry screenshots: set its retention.ms to at most %d",
            classifier,
            topic,
            hours,
            e,
            retention_ms(hours),
        )
