"""Which credentials each child of a TaskClassifier gets: Kafka's settings and password only where
Kafka is used (the collector, and a student whose judge loop publishes corrections), and read-only
S3 keys for the predictors when the installation or the classifier has them, while everything that
writes the store keeps the read-write keys."""

from __future__ import annotations

from ontask.api import TaskClassifierSpec
from ontask.operator.context import Context
from ontask.operator.kube_children import context_for
from ontask.operator.manifests import data_job, feedback_collector, inference_service, training_job, vllm_judge_service
from ontask.operator.settings import OperatorSettings

INSTALLATION = {
    "ONTASK_S3_SECRET": "s3-keys",
    "ONTASK_KAFKA_BOOTSTRAP": "kafka:9093",
    "ONTASK_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "ONTASK_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "ONTASK_KAFKA_SECRET": "kafka-user",
    "ONTASK_KAFKA_CA_SECRET": "kafka-ca",
}


def _ctx(env: dict[str, str] = INSTALLATION, **spec) -> Context:
    body = {"data": {"source": "s3://bucket/shots/"}, "training": {"workers": 2}, **spec}
    meta = {"name": "c", "namespace": "team", "uid": "0b6f5e1c-0000-4000-8000-000000000001"}
    return context_for(meta, TaskClassifierSpec.model_validate(body), OperatorSettings.from_env(env))


def _children(ctx: Context) -> dict[str, tuple[dict, dict]]:
    """child -> (its pod spec, its main container) for every kind of child the operator makes."""
    out = {}
    data = data_job(ctx, "c")["spec"]["template"]["spec"]
    out["data Job"] = (data, data["containers"][0])
    for name, job in (
        ("training", training_job(ctx, "c", "v1", "v1", "m")),
        ("cycle", training_job(ctx, "c", "v3", "v2", "s3://b/m/v1", cycle=2)),
    ):
        for replica, spec in job["spec"]["pytorchReplicaSpecs"].items():
            pod = spec["template"]["spec"]
            out[f"{name} {replica}"] = (pod, pod["containers"][0])
    collector = feedback_collector(ctx)["spec"]["template"]["spec"]
    out["collector"] = (collector, collector["containers"][0])
    for name, isvc in (
        ("student", inference_service(ctx, "student", "s3://b/m/v1", "v1")),
        ("judge", inference_service(ctx, "judge", "s3://b/judge", "judge")),
        ("vLLM judge", vllm_judge_service(ctx)),
    ):
        predictor = isvc["spec"]["predictor"]
        out[name] = (predictor, (predictor.get("containers") or [predictor.get("model")])[0])
    return out


def _env(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env") or []}


def _s3_secret(container: dict) -> str:
    env = _env(container)
    [secret] = {env[k]["valueFrom"]["secretKeyRef"]["name"] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    return secret


def test_only_the_collector_and_a_publishing_student_get_kafka_s_settings_password_and_ca():
    children = _children(_ctx())
    with_kafka = {name for name, (_, c) in children.items() if any(k.startswith("ONTASK_KAFKA_") for k in _env(c))}
    assert with_kafka == {"collector", "student"}
    for name in ("collector", "student"):
        pod, container = children[name]
        env = _env(container)
        assert env["ONTASK_KAFKA_BOOTSTRAP"]["value"] == "kafka:9093"
        assert env["ONTASK_KAFKA_SASL_MECHANISM"]["value"] == "SCRAM-SHA-512"
        assert env["ONTASK_KAFKA_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "kafka-user", "key": "password"}
        assert env["ONTASK_KAFKA_CA_FILE"]["value"] == "/etc/ontask/kafka-ca/ca.crt"
        assert pod["volumes"] == [{"name": "kafka-ca", "secret": {"secretName": "kafka-ca"}}], name
    for name, (pod, container) in children.items():
        if name not in with_kafka:
            assert "kafka-ca" not in {v["name"] for v in pod.get("volumes") or []}, name
    # The student publishes what its judge loop finds: the loop's flags come with the credentials.
    assert "--judge-url" in children["student"][1]["args"]


def test_a_student_without_a_judge_loop_gets_no_kafka_credentials():
    ctx = _ctx(judge={"enabled": False}, training={"rewardWeights": {"binary": 0.8, "judge": 0, "verifier": 0.2}})
    pod, container = _children(ctx)["student"]
    assert not [k for k in _env(container) if k.startswith("ONTASK_KAFKA_")]
    assert not pod.get("volumes") and "--judge-url" not in container["args"]
    # Without Kafka in the installation, no child gets any of it, the collector included.
    plain = {k: v for k, v in INSTALLATION.items() if "KAFKA" not in k}
    for name, (_, container) in _children(_ctx(plain)).items():
        assert not [k for k in _env(container) if k.startswith("ONTASK_KAFKA_")], name


def test_the_predictors_read_the_store_with_read_only_keys_and_the_writers_keep_read_write_ones():
    predictors = {"student", "judge", "vLLM judge"}
    installation = {**INSTALLATION, "ONTASK_S3_READ_ONLY_SECRET": "s3-read"}
    for name, (_, container) in _children(_ctx(installation)).items():
        assert _s3_secret(container) == ("s3-read" if name in predictors else "s3-keys"), name
    # A classifier's own pair of Secrets, over the installation's.
    own = _ctx(installation, storage={"secretRef": "team-s3", "readOnlySecretRef": "team-s3-read"})
    for name, (_, container) in _children(own).items():
        assert _s3_secret(container) == ("team-s3-read" if name in predictors else "team-s3"), name
    # A classifier's own keys with no read-only ones of its own: the installation's read-only keys
    # may not reach its bucket, so its predictors keep its keys.
    for name, (_, container) in _children(_ctx(installation, storage={"secretRef": "team-s3"})).items():
        assert _s3_secret(container) == "team-s3", name
    # No read-only Secret anywhere: one Secret for every child, as before.
    for name, (_, container) in _children(_ctx()).items():
        assert _s3_secret(container) == "s3-keys", name


def test_read_only_keys_without_read_write_ones_leave_the_writers_on_the_cloud_identity():
    ctx = _ctx({"ONTASK_S3_READ_ONLY_SECRET": "s3-read"})
    for name, (_, container) in _children(ctx).items():
        if name in {"student", "judge", "vLLM judge"}:
            assert _s3_secret(container) == "s3-read", name
        else:
            assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & set(_env(container)), name


def test_only_the_collector_gets_the_key_that_verifies_userids():
    children = _children(_ctx(feedback={"userKeySecretRef": "desk-user-key"}))
    holders = {name for name, (_, c) in children.items() if "ONTASK_FEEDBACK_USER_KEY" in _env(c)}
    assert holders == {"collector"}
    ref = _env(children["collector"][1])["ONTASK_FEEDBACK_USER_KEY"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "desk-user-key", "key": "key"}
    assert not any("ONTASK_FEEDBACK_USER_KEY" in _env(c) for _, c in _children(_ctx()).values())
