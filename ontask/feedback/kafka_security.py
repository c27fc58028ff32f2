"""How every ontask Kafka client (the collector, its dead-letter producer, the predictors'
judge corrections, `ontask feedback send`) authenticates to the brokers: TLS and SASL (PLAIN,
SCRAM-SHA-256, SCRAM-SHA-512), read from the environment the chart sets from its Secret, and
turned into kafka-python's client settings in this one place."""

from __future__ import annotations

import os
from typing import Any, Literal, Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

# Environment variable -> field (the chart's templates set them; the credentials come from the
# Secret named by kafka.secretName, the CA from kafka.caSecretName).
ENV = {
    "ONTASK_KAFKA_SECURITY_PROTOCOL": "protocol",
    "ONTASK_KAFKA_SASL_MECHANISM": "sasl_mechanism",
    "ONTASK_KAFKA_USERNAME": "username",
    "ONTASK_KAFKA_PASSWORD": "password",
    "ONTASK_KAFKA_CA_FILE": "ca_file",
}


SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class KafkaSecurity(BaseModel):
    """A Kafka client's security settings; the default is plaintext, no authentication."""

    model_config = ConfigDict(extra="forbid")

    protocol: SecurityProtocol = Field("PLAINTEXT", description="Kafka's security.protocol.")
    sasl_mechanism: Optional[SaslMechanism] = Field(None, description="SASL mechanism (needed with SASL_*).")
    username: Optional[str] = Field(None, min_length=1, description="SASL user name.")
    password: Optional[SecretStr] = Field(None, description="SASL password (never printed).")
    ca_file: Optional[str] = Field(None, description="PEM file of the CA that signed the brokers' certificates.")

    @model_validator(mode="after")
    def _complete(self) -> "KafkaSecurity":
        if self.protocol.startswith("SASL_"):
            missing = [
                env
                for env, f in ENV.items()
                if f in ("sasl_mechanism", "username", "password") and not getattr(self, f)
            ]
            if missing:
                raise ValueError(f"Kafka security protocol {self.protocol} needs {', '.join(missing)}")
        elif self.sasl_mechanism or self.username or self.password:
            raise ValueError(f"SASL credentials given, but the Kafka security protocol is {self.protocol}")
        if self.ca_file and not self.protocol.endswith("SSL"):
            raise ValueError(f"a CA file given, but the Kafka security protocol {self.protocol} has no TLS")
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "KafkaSecurity":
        """The settings in the environment; empty values count as unset."""
        return cls.model_validate({field: environ[var] for var, field in ENV.items() if environ.get(var)})

    def client_kwargs(self) -> dict[str, Any]:
        """kafka-python's settings for KafkaProducer, KafkaConsumer and KafkaAdminClient.

        Example:
            >>> KafkaSecurity().client_kwargs()
            {'security_protocol': 'PLAINTEXT'}
            >>> s = KafkaSecurity(protocol="SASL_SSL", sasl_mechanism="PLAIN", username="u", password="p")
            >>> sorted(s.client_kwargs())
            ['sasl_mechanism', 'sasl_plain_password', 'sasl_plain_username', 'security_protocol']
        """
        out: dict[str, Any] = {"security_protocol": self.protocol}
        if self.protocol.startswith("SASL_"):
            out["sasl_mechanism"] = self.sasl_mechanism
            out["sasl_plain_username"] = self.username
            out["sasl_plain_password"] = self.password.get_secret_value() if self.password else None
        if self.ca_file:
            out["ssl_cafile"] = self.ca_file
        return out
