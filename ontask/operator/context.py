"""What every child needs to know about its classifier and the installation (`Context`): its
metadata (ontask's labels, the user's labels and annotations, Kueue's queue, batch pods out of an
Istio mesh), its environment (the store's and Kafka's settings, with the Secrets its role may
read: read-only S3 keys for the predictors, Kafka's only where Kafka is used) and the Kafka CA."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from kubernetes import client as k8s

from ontask.api import GROUP, TaskClassifierSpec
from ontask.store_paths import classifier_prefix

KAFKA_CA_DIR = "/etc/ontask/kafka-ca"

# Which spec.scheduling.roles entry names a child's labels and annotations.
ROLE_METADATA = {
    "train": "training",
    "cycle": "training",
    "data": "data",
    "judge": "serving",
    "student": "serving",
    "feedback": "feedback",
}
# Pods that must run to completion: an Istio sidecar in them never exits, so their Job would never
# finish; they are kept out of the mesh unless the user's labels say otherwise.
BATCH_ROLES = frozenset({"train", "cycle", "data"})
ISTIO_INJECT = "sidecar.istio.io/inject"
KUEUE_QUEUE = "kueue.x-k8s.io/queue-name"
# KServe's S3 Secret keys, which the jobs read too: one credential format for every child.
S3_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
# Children that only read the store: KServe's storage initializer fetches their model, and
# `ontask serve` reads s3:// screenshot references; neither writes.
READ_ONLY_ROLES = frozenset({"judge", "student"})


@dataclass
class Context:
    """What every child needs to know about its classifier and the installation."""

    name: str
    namespace: str
    uid: str
    spec: TaskClassifierSpec
    image: str = "ghcr.io/ontask/ontask:0.1.0"
    store_uri: str = "s3://ontask"
    s3_secret: Optional[str] = None
    s3_read_only_secret: Optional[str] = None  # the predictors' keys, when the installation has read-only ones
    kafka_bootstrap: Optional[str] = None
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: Optional[str] = None
    kafka_secret: Optional[str] = None  # keys username, password
    kafka_ca_secret: Optional[str] = None  # key ca.crt; mounted into the predictors
    env: dict[str, str] = field(default_factory=dict)
    kserve_mode: str = "RawDeployment"  # or Serverless: where KServe splits traffic for canaries
    prometheus_scraping: bool = False  # KServe's scraping annotation on the predictors
    training_backend: str = "PyTorchJob"  # or TrainJob (Kubeflow Trainer v2): ontask.operator.training
    training_runtime: str = "ontask-grpo"  # the ClusterTrainingRuntime a TrainJob runs on

    @property
    def prefix(self) -> str:
        return classifier_prefix(self.name)

    def owner(self) -> k8s.V1OwnerReference:
        return k8s.V1OwnerReference(
            api_version=f"{GROUP}/v1alpha1",
            kind="TaskClassifier",
            name=self.name,
            uid=self.uid,
            controller=True,
            block_owner_deletion=True,
        )

    def own_labels(self, role: str, cycle: Optional[int] = None) -> dict[str, str]:
        """ontask's labels of a child: how the operator finds its children (never overridden)."""
        labels = {"app.kubernetes.io/managed-by": "ontask", f"{GROUP}/classifier": self.name, f"{GROUP}/role": role}
        if cycle is not None:
            labels[f"{GROUP}/cycle"] = str(cycle)
        return labels

    def user_metadata(self, role: str) -> tuple[dict[str, str], dict[str, str]]:
        """(labels, annotations) the spec gives this kind of child: spec.scheduling's for every
        child, its roles entry's over them."""
        s = self.spec.scheduling
        per = getattr(s.roles, ROLE_METADATA[role])
        return {**s.labels, **per.labels}, {**s.annotations, **per.annotations}

    def meta(self, name: str, role: str, cycle: Optional[int] = None) -> k8s.V1ObjectMeta:
        """A child's metadata: the user's labels and annotations, Kueue's queue on the batch
        children, ontask's labels over all (the operator selects its children by them)."""
        labels, annotations = self.user_metadata(role)
        if role in BATCH_ROLES and self.spec.scheduling.queue_name:
            labels[KUEUE_QUEUE] = self.spec.scheduling.queue_name
        labels.update(self.own_labels(role, cycle))
        return k8s.V1ObjectMeta(
            name=name,
            namespace=self.namespace,
            labels=labels,
            annotations=annotations or None,
            owner_references=[self.owner()],
        )

    def pod_meta(self, role: str, cycle: Optional[int] = None) -> k8s.V1ObjectMeta:
        """The metadata of a child's pods: the user's labels and annotations; batch pods out of an
        Istio mesh unless the user's labels say otherwise; ontask's labels."""
        user_labels, annotations = self.user_metadata(role)
        labels = {ISTIO_INJECT: "false"} if role in BATCH_ROLES else {}
        labels.update(user_labels)
        labels.update(self.own_labels(role, cycle))
        return k8s.V1ObjectMeta(labels=labels, annotations=annotations or None)

    def pull_secrets(self) -> Optional[list[k8s.V1LocalObjectReference]]:
        return [k8s.V1LocalObjectReference(name=n) for n in self.spec.scheduling.image_pull_secrets] or None

    def s3_secret_name(self, read_only: bool = False) -> Optional[str]:
        """The Secret in KServe's S3 format a child reads its keys from: the classifier's, else the
        installation's; for a child that only reads, the read-only Secret of the same owner when it
        has one (the installation's never stands in for a classifier's own keys, which may reach
        another bucket). None: no keys, the pods' cloud identity."""
        storage = self.spec.storage
        writer = storage.secret_ref or self.s3_secret
        if not read_only:
            return writer
        reader = storage.read_only_secret_ref or (None if storage.secret_ref else self.s3_read_only_secret)
        return reader or writer

    def uses_kafka(self, role: str) -> bool:
        """Whether a child of this role talks to Kafka: the collector, and a student predictor whose
        judge loop publishes the judge's corrections. No other child gets the brokers or the password."""
        if not self.kafka_bootstrap:
            return False
        return role == "feedback" or (role == "student" and self.spec.judge.enabled)

    def env_vars(self, role: str) -> list[k8s.V1EnvVar]:
        """A child's environment: the installation's plain settings, the store's endpoint and keys
        (read-only ones for the predictors when there are), and Kafka's settings and credentials
        only for the children that use Kafka."""
        env = [k8s.V1EnvVar(name=k, value=v) for k, v in sorted(self.env.items())]
        if self.spec.storage.endpoint:
            env.append(k8s.V1EnvVar(name="S3_ENDPOINT", value=self.spec.storage.endpoint))
        secret = self.s3_secret_name(read_only=role in READ_ONLY_ROLES)
        if secret:
            # KServe's key names, as its storage initializer reads them from the same Secret.
            for key in S3_KEYS:
                env.append(
                    k8s.V1EnvVar(
                        name=key,
                        value_from=k8s.V1EnvVarSource(secret_key_ref=k8s.V1SecretKeySelector(name=secret, key=key)),
                    )
                )
        if self.uses_kafka(role):
            env += self._kafka_env()
        return env

    def _kafka_env(self) -> list[k8s.V1EnvVar]:
        env = [
            k8s.V1EnvVar(name="ONTASK_KAFKA_BOOTSTRAP", value=self.kafka_bootstrap),
            k8s.V1EnvVar(name="ONTASK_KAFKA_SECURITY_PROTOCOL", value=self.kafka_security_protocol),
        ]
        if self.kafka_sasl_mechanism:
            env.append(k8s.V1EnvVar(name="ONTASK_KAFKA_SASL_MECHANISM", value=self.kafka_sasl_mechanism))
        if self.kafka_secret:
            for var, key in (("ONTASK_KAFKA_USERNAME", "username"), ("ONTASK_KAFKA_PASSWORD", "password")):
                ref = k8s.V1SecretKeySelector(name=self.kafka_secret, key=key)
                env.append(k8s.V1EnvVar(name=var, value_from=k8s.V1EnvVarSource(secret_key_ref=ref)))
        return env

    def kafka_ca(self, role: str) -> tuple[list[k8s.V1Volume], list[k8s.V1VolumeMount], list[k8s.V1EnvVar]]:
        """The brokers' CA for a child of this role when it talks to Kafka (uses_kafka): its volume,
        its mount and the variable naming the file; nothing for any other child."""
        if not (self.uses_kafka(role) and self.kafka_ca_secret):
            return [], [], []
        return (
            [k8s.V1Volume(name="kafka-ca", secret=k8s.V1SecretVolumeSource(secret_name=self.kafka_ca_secret))],
            [k8s.V1VolumeMount(name="kafka-ca", mount_path=KAFKA_CA_DIR, read_only=True)],
            [k8s.V1EnvVar(name="ONTASK_KAFKA_CA_FILE", value=f"{KAFKA_CA_DIR}/ca.crt")],
        )
