"""Where the Kafka brokers are and how to authenticate to them, for every ontask process that
talks to Kafka (the collector, `ontask feedback send`, the agent's corrections, the predictors'
judge corrections, the demo): read from the environment in this one place, once per process, and
handed down. The topic and everything else a classifier decides is in its spec instead."""

from __future__ import annotations

import os
from typing import Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field

from ontask.feedback.kafka_security import KafkaSecurity

BOOTSTRAP_ENV = "ONTASK_KAFKA_BOOTSTRAP"
# Where a person's command looks without --bootstrap or the environment: a broker on this machine.
LOCAL_BOOTSTRAP = "127.0.0.1:9092"


class KafkaSettings(BaseModel):
    """A process's Kafka clients' settings."""

    model_config = ConfigDict(extra="forbid")

    bootstrap: Optional[str] = Field(None, min_length=1, description="Bootstrap servers (host:port,...); unset: none.")
    security: KafkaSecurity = Field(default_factory=KafkaSecurity, description="TLS and SASL of every client.")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "KafkaSettings":
        """ONTASK_KAFKA_BOOTSTRAP and the security variables (kafka_security.ENV); empty counts as unset."""
        return cls(bootstrap=environ.get(BOOTSTRAP_ENV) or None, security=KafkaSecurity.from_env(environ))

    def brokers(self, given: Optional[str] = None, fallback: Optional[str] = None) -> Optional[str]:
        """The bootstrap servers to use: a command's flag when given, else these settings', else
        `fallback`."""
        return given or self.bootstrap or fallback
