"""The collector's Kafka clients: the consumer of the feedback topics (corrections, and reviews
where the spec names a review topic), which resumes where the
store says (not where Kafka's committed offsets say), and the dead-letter producer."""

from __future__ import annotations

from typing import Callable, Optional

from kafka import KafkaConsumer, KafkaProducer
from kafka.consumer.subscription_state import ConsumerRebalanceListener

from ontask.feedback.intake import DEAD_LETTER_MAX_BYTES
from ontask.feedback.kafka_security import KafkaSecurity

FETCH_BYTES_PER_PARTITION = 8 * 1024 * 1024


def feedback_consumer(
    bootstrap: str,
    security: KafkaSecurity,
    group_id: str,
    topics: list[str],
    stored_offset: Callable[[str, int], Optional[int]],
) -> KafkaConsumer:
    """A consumer of `topics` in `group_id` that commits nothing itself; each partition it is
    assigned starts at `stored_offset(topic, partition)` when that is not None."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        **security.client_kwargs(),
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=500,
        # Corrections carry screenshots (~50-100 kB): at the 1 MiB default a fetch holds about
        # 15 of them, and every batch rewrites the state once.
        max_partition_fetch_bytes=FETCH_BYTES_PER_PARTITION,
        reconnect_backoff_max_ms=2000,
        # A crashed collector's partitions move on after 10 s, not 45.
        session_timeout_ms=10000,
        heartbeat_interval_ms=3000,
    )

    class SeekToStored(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            pass

        def on_partitions_assigned(self, assigned):
            # The store, not Kafka's committed offset, says what is done: a crash after the
            # state was written but before the commit must not reprocess those records.
            for tp in assigned:
                stored = stored_offset(tp.topic, tp.partition)
                if stored is not None:
                    consumer.seek(tp, stored)

    consumer.subscribe(topics, listener=SeekToStored())
    return consumer


def dead_letter_producer(bootstrap: str, security: KafkaSecurity) -> KafkaProducer:
    """The producer of dead letters: each send is acknowledged by every in-sync replica."""
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        **security.client_kwargs(),
        acks="all",
        retries=10,
        reconnect_backoff_max_ms=2000,
        max_request_size=DEAD_LETTER_MAX_BYTES + 65536,
        # A missing dead-letter topic fails a send in 10 s, not 60.
        max_block_ms=10000,
    )
