"""The real Kafka broker: kafka-python and Kafka's own console clients interoperate."""

import json
import uuid

from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from tests.conftest import console_produce, consume


def _topic(bootstrap: str) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
    admin.close()
    return name


def test_kafka_python_round_trip(kafka_bootstrap):
    topic = _topic(kafka_bootstrap)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    producer.send(topic, key=b"support-desk", value=b'{"hello": "kafka"}').get(timeout=30)
    producer.close()
    [msg] = consume(kafka_bootstrap, topic, 1)
    assert (msg.key, msg.value) == (b"support-desk", b'{"hello": "kafka"}')


def test_console_producer_message_is_consumed_by_kafka_python(kafka_bootstrap):
    topic = _topic(kafka_bootstrap)
    console_produce(kafka_bootstrap, topic, "support-desk", json.dumps({"id": "c-1", "label": "off-task"}))
    [msg] = consume(kafka_bootstrap, topic, 1)
    assert msg.key == b"support-desk"
    assert json.loads(msg.value) == {"id": "c-1", "label": "off-task"}
