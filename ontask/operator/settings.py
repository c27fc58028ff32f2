"""The installation's settings: what the Helm chart sets on the operator's container (from
values.yaml), read from the environment in this one place, once per process (`ontask operator`
hands them to kopf's memo; every handler reads them there), and typed. Everything that changes a
classifier's behaviour is in its spec instead."""

from __future__ import annotations

import os
import re
import zlib
from typing import Literal, Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ontask.feedback.kafka_security import SaslMechanism, SecurityProtocol
from ontask.feedback.settings import BOOTSTRAP_ENV

# Environment variable -> field (the chart's templates/deployment.yaml sets them).
ENV = {
    "ONTASK_IMAGE": "image",
    "ONTASK_STORE": "store",
    "ONTASK_S3_SECRET": "s3_secret",
    "ONTASK_S3_READ_ONLY_SECRET": "s3_read_only_secret",
    BOOTSTRAP_ENV: "kafka_bootstrap",
    "ONTASK_KSERVE_MODE": "kserve_mode",
    "ONTASK_PROMETHEUS_SCRAPING": "prometheus_scraping",
    "ONTASK_CHILD_S3_ENDPOINT": "child_s3_endpoint",
    "ONTASK_WATCH_CHILDREN": "watch_children",
    "ONTASK_RESYNC_SECONDS": "resync_seconds",
    "ONTASK_KAFKA_SECURITY_PROTOCOL": "kafka_security_protocol",
    "ONTASK_KAFKA_SASL_MECHANISM": "kafka_sasl_mechanism",
    "ONTASK_KAFKA_SECRET": "kafka_secret",
    "ONTASK_KAFKA_CA_SECRET": "kafka_ca_secret",
    "ONTASK_HF_OFFLINE": "hf_offline",
    "ONTASK_TRAINING_BACKEND": "training_backend",
    "ONTASK_TRAINING_RUNTIME": "training_runtime",
    "ONTASK_MODEL_URI_PREFIXES": "model_uri_prefixes",
    "ONTASK_SOURCE_URI_PREFIXES": "source_uri_prefixes",
    "ONTASK_LOG_LEVEL": "log_level",
    "ONTASK_PEERING": "peering_name",
    "ONTASK_PEERING_PRIORITY": "peering_priority",
    "ONTASK_PEERING_LIFETIME": "peering_lifetime",
    "POD_NAME": "pod_name",
}


class OperatorSettings(BaseModel):
    """Settings of one operator installation."""

    model_config = ConfigDict(extra="forbid")

    image: str = Field(
        "ghcr.io/ontask/ontask:0.1.0",
        min_length=1,
        description="Image of the children (data Job, PyTorchJobs, predictors).",
    )
    store: Optional[str] = Field(None, description="Artifact store URI; default s3://<spec.storage.bucket>.")
    s3_secret: Optional[str] = Field(
        None,
        description="Secret in KServe's S3 format (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) for children whose "
        "spec names none; unset: no keys, the pods' cloud identity.",
    )
    s3_read_only_secret: Optional[str] = Field(
        None,
        description="Secret in KServe's S3 format with keys that may only read, for the predictors of "
        "classifiers whose spec names no Secret of its own; unset: the predictors read s3_secret's keys.",
    )
    kafka_bootstrap: Optional[str] = Field(None, description="Kafka bootstrap servers; no feedback without.")
    kserve_mode: Literal["RawDeployment", "Serverless"] = Field(
        "RawDeployment", description="KServe deployment mode (Serverless splits traffic for canaries)."
    )
    prometheus_scraping: bool = Field(
        False, description="Annotate the predictors for KServe's Prometheus scraping of their /metrics."
    )
    child_s3_endpoint: Optional[str] = Field(None, description="S3 endpoint the children use.")
    watch_children: bool = Field(
        True,
        description="Read the children from watch-fed indexes (false: a GET per child per reconcile, "
        "as before; for clusters that do not let the operator list and watch them).",
    )
    kafka_security_protocol: SecurityProtocol = Field(
        "PLAINTEXT", description="Kafka security.protocol of every client (the operator's and the predictors')."
    )
    kafka_sasl_mechanism: Optional[SaslMechanism] = Field(None, description="SASL mechanism, with SASL_*.")
    kafka_secret: Optional[str] = Field(None, description="Secret with the Kafka username and password.")
    kafka_ca_secret: Optional[str] = Field(None, description="Secret with ca.crt, the CA of the brokers.")
    hf_offline: bool = Field(
        False,
        description="Air-gapped: HF_HUB_OFFLINE=1 in every child, so Hub models come from the Hugging Face cache "
        "only (s3:// and pvc:// models never touch the Hub).",
    )
    training_backend: Literal["auto", "PyTorchJob", "TrainJob"] = Field(
        "auto",
        description="What runs training: Kubeflow's v1 training operator (PyTorchJob) or Kubeflow Trainer v2 "
        "(TrainJob); auto: whichever the cluster serves (PyTorchJob when it serves both).",
    )
    training_runtime: str = Field(
        "ontask-grpo",
        min_length=1,
        description="The ClusterTrainingRuntime TrainJobs run on; ontask creates it when absent.",
    )
    model_uri_prefixes: list[str] = Field(
        default_factory=list,
        description="s3:// prefixes any classifier's student.model and judge.model may name besides its own "
        "bucket's (a shared models bucket); comma-separated in the environment (the chart's models.uriPrefixes).",
    )

    source_uri_prefixes: list[str] = Field(
        default_factory=list,
        description="s3:// prefixes any classifier's data.source may name in another bucket than its own, read "
        "with the installation's keys; comma-separated in the environment (the chart's dataSources.uriPrefixes). "
        "A classifier with keys of its own (storage.secretRef) may name any bucket they read.",
    )

    @field_validator("store")
    @classmethod
    def _a_bucket_s_root(cls, v: Optional[str]) -> Optional[str]:
        # ontask's own areas (classifiers/, datasets/) are confined against at the bucket's root:
        # under a prefix, a screenshot reference could name another classifier's models.
        if v is not None and v.startswith("s3://") and v[5:].strip("/").count("/"):
            raise ValueError(f"ONTASK_STORE {v!r}: give a bucket's root, s3://BUCKET, not a prefix in it")
        return v

    @field_validator("model_uri_prefixes", "source_uri_prefixes", mode="before")
    @classmethod
    def _comma_separated(cls, v):
        if isinstance(v, str):
            v = [p.strip() for p in v.split(",") if p.strip()]
        for p in v:
            if not re.fullmatch(r"s3://[a-z0-9][-a-z0-9.]{1,61}[a-z0-9](/.*)?", p):
                raise ValueError(f"URI prefix {p!r}: give s3://bucket/ or s3://bucket/prefix/")
        return v

    resync_seconds: float = Field(
        300.0,
        gt=0,
        description="A classifier is reconciled when one of its children, its feedback or its spec changes; "
        "and after this many seconds without any change, as a safety net.",
    )

    log_level: Optional[str] = Field(None, description="Log level; unset: `ontask operator --log-level`'s.")
    peering_name: str = Field("ontask", min_length=1, description="The kopf peering object replicas elect a leader on.")
    peering_priority: Optional[int] = Field(
        None, description="This replica's peering priority; unset: a stable number from pod_name (peering_priority())."
    )
    peering_lifetime: int = Field(
        60, ge=1, description="Seconds a silent replica counts as alive (kopf's default 60; tests shorten it)."
    )
    pod_name: Optional[str] = Field(None, description="This replica's pod (the Downward API); unset: the host name.")

    def replica_priority(self) -> int:
        """peering_priority, or a stable number from the pod name: kopf freezes every replica when
        two share a priority, so each replica needs its own."""
        if self.peering_priority is not None:
            return self.peering_priority
        return 1 + zlib.crc32((self.pod_name or os.uname().nodename).encode()) % 1_000_000

    def reconcile_interval(self) -> float:
        """How long a classifier's loop waits for an event: without watched children nothing would
        wake it, so it looks every 3 s, as the operator always did."""
        return self.resync_seconds if self.watch_children else min(self.resync_seconds, 3.0)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "OperatorSettings":
        """The settings the chart put in the environment; empty values count as unset."""
        return cls.model_validate({field: environ[var] for var, field in ENV.items() if environ.get(var)})

    def store_for(self, bucket: str) -> str:
        return self.store or f"s3://{bucket}"

    def child_env(self) -> dict[str, str]:
        """Plain environment of every child, besides the credentials and the spec."""
        env = {"S3_ENDPOINT": self.child_s3_endpoint} if self.child_s3_endpoint else {}
        if self.hf_offline:
            env["HF_HUB_OFFLINE"] = "1"
        return env
