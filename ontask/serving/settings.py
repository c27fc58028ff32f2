"""A predictor's settings from its environment (what the operator sets on an InferenceService's
container, or a person on `ontask serve`): Kafka for the judge's corrections, the S3 bucket that
screenshot references point into, and the bearer token; read in this one place, once per process,
and handed down. What a classifier decides (limits, thresholds, the topic) comes from its spec."""

from __future__ import annotations

import os
from typing import Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ontask.api.serving import PREDICT_TOKEN_ENV
from ontask.feedback.settings import KafkaSettings
from ontask.store import S3Config, s3_config_from_env, s3_endpoint_from_env

IMAGE_BUCKET_ENV = "ONTASK_S3_BUCKET"


class ServingSettings(BaseModel):
    """Settings of one predictor process."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    kafka: KafkaSettings = Field(default_factory=KafkaSettings, description="Kafka, for the judge's corrections.")
    s3: Optional[S3Config] = Field(None, description="The S3 store of screenshot references; None: none configured.")
    image_bucket: str = Field(
        "ontask",
        min_length=1,
        description="The bucket s3:// screenshot references point into when the predictor has neither --store nor "
        "--spec (with --spec, its storage.bucket; --store wins over both).",
    )
    token: Optional[SecretStr] = Field(
        None, description="Bearer token every request but a health probe must carry; None: no authentication."
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, token_env: Optional[str] = None) -> "ServingSettings":
        """The settings in the environment (the S3 ones as ontask.store reads them, from the
        process's); empty values count as unset."""
        return cls(
            kafka=KafkaSettings.from_env(environ),
            s3=s3_config_from_env() if s3_endpoint_from_env() else None,
            image_bucket=environ.get(IMAGE_BUCKET_ENV) or "ontask",
            token=environ.get(token_env or PREDICT_TOKEN_ENV) or None,
        )

    def bearer_token(self) -> Optional[str]:
        return self.token.get_secret_value() if self.token else None
