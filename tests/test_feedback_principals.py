"""Who is a reviewer, as the broker says: a real Kafka broker that authorizes every request with
ACLs (SASL users: the platform's admin, the classifier's collector, an app, a reviewer console,
the predictors), and the ACLs a platform team creates for one classifier with kafka-python's admin
client: the app may write the corrections topic, the reviewer the review topic
(feedback.reviewTopic), the predictors the judge topic (feedback.judgeTopic), the collector may
read all three and write the dead-letter topic. A `source: judge` is the judge's only from the
judge topic. A correction that says `source: reviewer`
with a listed reviewer's userId is a user's when the app wrote it, and a reviewer's when it came
through the review topic; the real S3 holds what the collector stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ACL, ACLOperation, ACLPermissionType, NewTopic, ResourcePattern, ResourceType

from ontask.api import FeedbackSpec
from ontask.feedback import Collector, make_correction
from ontask.feedback.kafka_security import KafkaSecurity
from ontask.feedback.producer import KafkaUnreachable, new_producer, send
from ontask.feedback.state import State
from ontask.store import S3Store
from ontask.store_paths import feedback_state_key
from realservers.kafka import KafkaBroker, SaslSsl
from tests.conftest import REPO, wait_for
from tests.test_feedback_collector import png

CLASSIFIER = "desk"
USERS = {
    "admin": "admin-secret",
    "collector": "collector-secret",
    "app": "app-secret",
    "reviewer": "reviewer-secret",
    "predictor": "predictor-secret",
}
LEAD = "lead@desk"  # the spec's one listed reviewer userId


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    broker = KafkaBroker(tmp_path_factory.mktemp("kafka-acls"), secure=SaslSsl(dict(USERS), super_user="admin"))
    broker.start()
    yield broker
    broker.stop()


def security(listener: SaslSsl, user: str) -> KafkaSecurity:
    return KafkaSecurity(
        protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-256",
        username=user,
        password=USERS[user],
        ca_file=str(listener.ca_file),
    )


def allow(user: str, operation: ACLOperation, kind: ResourceType, name: str) -> ACL:
    return ACL(f"User:{user}", "*", operation, ACLPermissionType.ALLOW, ResourcePattern(kind, name))


def provision(listener: SaslSsl, spec: FeedbackSpec, group_id: str) -> None:
    """What the platform team does for one classifier, as the broker's admin: its topics, and
    who may do what with them."""
    admin = KafkaAdminClient(bootstrap_servers=listener.bootstrap, **security(listener, "admin").client_kwargs())
    try:
        admin.create_topics([NewTopic(t, 1, 1) for t in (*spec.topics(), spec.dead_letters())])
        result = admin.create_acls(
            [
                allow("app", ACLOperation.WRITE, ResourceType.TOPIC, spec.topic),
                allow("reviewer", ACLOperation.WRITE, ResourceType.TOPIC, spec.review_topic),
                allow("predictor", ACLOperation.WRITE, ResourceType.TOPIC, spec.judge_topic),
                *[allow("collector", ACLOperation.READ, ResourceType.TOPIC, t) for t in spec.topics()],
                allow("collector", ACLOperation.READ, ResourceType.GROUP, group_id),
                allow("collector", ACLOperation.WRITE, ResourceType.TOPIC, spec.dead_letters()),
            ]
        )
        assert not result["failed"], result["failed"]
    finally:
        admin.close()


def send_as(listener: SaslSsl, user: str, correction, topic: str) -> None:
    producer = new_producer(listener.bootstrap, security(listener, user), max_block_ms=10000)
    try:
        send(correction, topic=topic, producer=producer, timeout=15)
    finally:
        producer.close(timeout=5)


def reviewer_correction(i: int, **kw):
    return make_correction(
        CLASSIFIER, "answer refund tickets", "off-task", image=png(i), id=f"c-{i}", source="reviewer", **kw
    )


def judge_correction(i: int):
    return make_correction(CLASSIFIER, "answer refund tickets", "on-task", image=png(i), id=f"c-{i}", source="judge")


def ontask_send(listener: SaslSsl, user: str, config, *args: str) -> subprocess.CompletedProcess[str]:
    """`ontask feedback send --config` as a console runs it, with `user`'s Kafka credentials."""
    env = {
        "PYTHONPATH": str(REPO),
        "PATH": os.environ["PATH"],
        "ONTASK_KAFKA_BOOTSTRAP": listener.bootstrap,
        "ONTASK_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "ONTASK_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
        "ONTASK_KAFKA_USERNAME": user,
        "ONTASK_KAFKA_PASSWORD": USERS[user],
        "ONTASK_KAFKA_CA_FILE": str(listener.ca_file),
    }
    return subprocess.run(
        [sys.executable, "-m", "ontask.cli", "feedback", "send", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=env,
    )


def test_only_the_review_topic_makes_a_reviewer(broker, s3_config, tmp_path):
    listener = broker.secure
    topic = f"desk-{uuid.uuid4().hex[:6]}.corrections"
    spec = FeedbackSpec(topic=topic, review_topic=f"{topic}.reviews", judge_topic=f"{topic}.judge", reviewers=[LEAD])
    group_id = f"ontask-feedback-{CLASSIFIER}"
    provision(listener, spec, group_id)

    # The app may write corrections, not reviews nor the judge's; an anonymous client (plaintext)
    # nothing.
    with pytest.raises(KafkaUnreachable, match="TopicAuthorizationFailed"):
        send_as(listener, "app", reviewer_correction(0, user_id=LEAD), spec.review_topic)
    with pytest.raises(KafkaUnreachable, match="TopicAuthorizationFailed"):
        send_as(listener, "app", judge_correction(0), spec.judge_topic)
    with pytest.raises(KafkaUnreachable, match="TopicAuthorizationFailed"):
        producer = new_producer(broker.bootstrap, max_block_ms=5000)
        try:
            send(reviewer_correction(0, user_id=LEAD), topic=topic, producer=producer, timeout=5)
        finally:
            producer.close(timeout=1)

    # The app claims to be the lead reviewer on the corrections topic; the reviewer console sends
    # as itself, once for the lead and once for a userId the spec does not list.
    send_as(listener, "app", reviewer_correction(1, user_id=LEAD), topic)
    # The app says its correction is the judge's; the predictor sends the judge's where the spec says.
    send_as(listener, "app", judge_correction(4), topic)
    send_as(listener, "predictor", judge_correction(5), spec.topic_for("judge"))
    app = new_producer(listener.bootstrap, security(listener, "app"))
    try:
        app.send(topic, key=CLASSIFIER.encode(), value=b"{not json").get(timeout=15)  # for the dead-letter topic
    finally:
        app.close(timeout=5)
    config = tmp_path / "desk.yaml"
    config.write_text(json.dumps({"spec": {"data": {"source": "synthetic"}, "feedback": spec.wire()}}))
    image = tmp_path / "shot.png"
    for i, user_id in ((2, LEAD), (3, "temp@desk")):
        image.write_bytes(png(i))
        out = ontask_send(
            listener, "reviewer", config, "--classifier", CLASSIFIER, "--task", "answer refund tickets",
            "--label", "off-task", "--image", str(image), "--source", "reviewer", "--id", f"c-{i}",
            "--user-id", user_id,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip().endswith(f"to {spec.review_topic}")

    store = S3Store(s3_config, "feedback-test", f"principals-{uuid.uuid4().hex[:6]}")
    collector = Collector(
        CLASSIFIER, spec, store, listener.bootstrap, group_id=group_id, security=security(listener, "collector")
    )
    try:
        wait_for(
            lambda: (
                collector.poll_once(500) is not None
                and (collector.state.counts.buffered, collector.state.counts.dead_lettered) == (5, 1)
            ),
            90,
            "five corrections buffered and one dead-lettered",
            lambda: str(collector.state.counts),
        )
        collector.flush()
    finally:
        collector.close()
    stored = State.from_json(store.get_bytes(feedback_state_key(collector.prefix)), spec.buffer_size)
    sources = {e.id: (e.source, e.user_id) for e in stored.buffer.entries.values()}
    assert sources == {
        "c-1": ("user", LEAD),
        "c-2": ("reviewer", LEAD),
        "c-3": ("user", "temp@desk"),
        "c-4": ("user", None),
        "c-5": ("judge", None),
    }
    assert stored.counts.reviewer_downgraded == 2 and stored.counts.judge_downgraded == 1
    # Each topic's partition has its own position, where a restarted collector resumes.
    assert stored.offsets == {"0": 3, f"{spec.review_topic}/0": 2, f"{spec.judge_topic}/0": 1}
