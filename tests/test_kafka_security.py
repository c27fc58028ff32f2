"""Kafka with TLS and SASL: a real broker with a SASL_SSL listener (a certificate from a CA made
in the test; users for PLAIN and SCRAM-SHA-256). A correction sent over SASL_SSL with the right
credentials is buffered by a collector that also reads over SASL_SSL; a plaintext client on the
same listener and a client with a wrong password get nothing through."""

from __future__ import annotations

import uuid

import pytest
from kafka.errors import KafkaError

from ontask.api import FeedbackSpec
from ontask.feedback import Collector, make_correction
from ontask.feedback.kafka_security import KafkaSecurity
from ontask.feedback.producer import new_producer, send
from ontask.store import S3Store
from realservers.kafka import KafkaBroker, SaslSsl
from tests.conftest import wait_for
from tests.test_feedback_collector import png

USER, PASSWORD = "ontask", "ontask-secret"


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory):
    broker = KafkaBroker(tmp_path_factory.mktemp("kafka-sasl"), secure=SaslSsl({USER: PASSWORD}))
    broker.start()
    yield broker.secure
    broker.stop()


def _security(listener: SaslSsl, mechanism: str, password: str = PASSWORD) -> KafkaSecurity:
    return KafkaSecurity(
        protocol="SASL_SSL", sasl_mechanism=mechanism, username=USER, password=password, ca_file=str(listener.ca_file)
    )


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
def test_a_correction_over_sasl_ssl_is_buffered(secure_broker, s3_config, mechanism):
    topic = f"secure-{uuid.uuid4().hex[:6]}"
    security = _security(secure_broker, mechanism)
    producer = new_producer(secure_broker.bootstrap, security)
    try:
        correction = make_correction("sec-test", "write the thesis", "on-task", image=png(1), id=f"s-{mechanism}")
        send(correction, topic=topic, producer=producer)
    finally:
        producer.close()
    store = S3Store(s3_config, "feedback-test", f"secure-{uuid.uuid4().hex[:6]}")
    collector = Collector("sec-test", FeedbackSpec(topic=topic), store, secure_broker.bootstrap, security=security)
    try:
        wait_for(
            lambda: collector.poll_once(500) is not None and collector.state.counts.buffered == 1,
            60,
            "the correction buffered over SASL_SSL",
        )
    finally:
        collector.close()


def test_plaintext_and_a_wrong_password_get_nothing_through(secure_broker):
    correction = make_correction("sec-test", "write the thesis", "on-task", image=png(2))
    for security in (
        KafkaSecurity(),
        _security(secure_broker, "PLAIN", "wrong"),
        _security(secure_broker, "SCRAM-SHA-256", "wrong"),
    ):
        with pytest.raises(KafkaError):
            producer = new_producer(secure_broker.bootstrap, security, max_block_ms=5000, bootstrap_timeout_ms=5000)
            try:
                send(correction, topic="secure-refused", producer=producer, timeout=5)
            finally:
                producer.close(timeout=1)


def test_settings_come_from_the_environment_and_incomplete_ones_are_refused():
    env = {
        "ONTASK_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "ONTASK_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "ONTASK_KAFKA_USERNAME": "u",
        "ONTASK_KAFKA_PASSWORD": "hunter2-secret",
        "ONTASK_KAFKA_CA_FILE": "/etc/ontask/kafka-ca/ca.crt",
    }
    kwargs = KafkaSecurity.from_env(env).client_kwargs()
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512" and kwargs["ssl_cafile"].endswith("ca.crt")
    assert "hunter2" not in repr(KafkaSecurity.from_env(env))  # the password is never printed
    with pytest.raises(ValueError, match="ONTASK_KAFKA_PASSWORD"):
        KafkaSecurity.from_env({k: v for k, v in env.items() if k != "ONTASK_KAFKA_PASSWORD"})
    with pytest.raises(ValueError, match="protocol is PLAINTEXT"):
        KafkaSecurity.from_env({"ONTASK_KAFKA_USERNAME": "u"})
