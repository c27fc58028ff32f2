"""Stand-ins for kafka-python's consumer record and the dead-letter producer, for the collector's
unit tests that feed it records directly (the tests with a real broker use neither)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass
class Record:
    """The fields of kafka-python's ConsumerRecord the collector reads."""

    key: Optional[bytes]
    value: Optional[bytes]
    offset: int = 0
    topic: str = "corrections"
    partition: int = 0


class DeadLetters:
    """Stands in for the dead-letter producer: records what was sent, acknowledges at once."""

    def __init__(self):
        self.sent: list[dict] = []

    def send(self, topic, key=None, value=None, headers=()):
        self.sent.append({"topic": topic, "value": value, **{k: v.decode() for k, v in headers}})
        return self

    def get(self, timeout=None):
        return None

    @property
    def reasons(self) -> list[str]:
        """Each dead letter's reason, in order."""
        return [sent["ontask-reason"] for sent in self.sent]
