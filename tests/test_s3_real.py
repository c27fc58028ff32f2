"""The real S3 server through the minio client and through ontask's store."""

import argparse
import io
import os
import uuid

import pytest
from minio import Minio

from ontask.store import LocalStore, NotFound, S3Store, StoreError, download_prefix, upload_folder


def test_minio_put_get_is_byte_for_byte(s3):
    client = Minio(s3.endpoint.removeprefix("http://"), s3.access_key, s3.secret_key, secure=False)
    bucket = f"b-{uuid.uuid4().hex[:8]}"
    client.make_bucket(bucket)
    body = os.urandom(3 * 1024 * 1024 + 17)
    client.put_object(bucket, "blob/data.bin", io.BytesIO(body), len(body))
    resp = client.get_object(bucket, "blob/data.bin")
    try:
        assert resp.read() == body
    finally:
        resp.close()
        resp.release_conn()


@pytest.fixture(params=["s3", "local"])
def store(request, s3_config, tmp_path):
    if request.param == "s3":
        return S3Store(s3_config, f"store-{uuid.uuid4().hex[:8]}", prefix="classifiers/demo")
    return LocalStore(tmp_path / "store")


def test_store_round_trip_list_and_missing_key(store, tmp_path):
    store.put_bytes("a/x.bin", b"\x00\x01")
    store.put_bytes("a/b/y.txt", b"hello")
    assert store.get_bytes("a/x.bin") == b"\x00\x01"
    assert sorted(store.list("a")) == ["a/b/y.txt", "a/x.bin"]
    assert store.exists("a/b/y.txt") and not store.exists("a/nope")
    with pytest.raises(StoreError, match="a/nope"):
        store.get_bytes("a/nope")
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "d" / "f.txt").write_text("f")
    assert upload_folder(store, src, "up") == 1
    dest = download_prefix(store, "up", tmp_path / "dest")
    assert (dest / "d" / "f.txt").read_text() == "f"


def test_a_range_reads_one_member_of_a_pack(store):
    store.put_bytes("packs/p.bin", b"first" + b"second" + b"third")
    assert store.get_range("packs/p.bin", 5, 6) == b"second"
    assert store.get_range("packs/p.bin", 11, 5) == b"third"
    with pytest.raises(StoreError, match="packs/p.bin"):
        store.get_range("packs/p.bin", 11, 9)  # past the end: an error, never a short read
    with pytest.raises(NotFound):
        store.get_range("packs/none.bin", 0, 1)


def test_a_conditional_write_refuses_a_second_writer_and_writes_nothing(store):
    from ontask.store import Conflict

    first = store.put_if("state.json", b"one", "application/json", None)
    with pytest.raises(Conflict):
        store.put_if("state.json", b"late", "application/json", None)  # "only if absent", but it is there
    data, version = store.get_versioned("state.json")
    assert (data, version) == (b"one", first)
    second = store.put_if("state.json", b"two", "application/json", version)
    with pytest.raises(Conflict, match="another writer"):
        store.put_if("state.json", b"stale", "application/json", version)  # read before "two" was written
    assert store.get_versioned("state.json") == (b"two", second)


def test_two_collectors_of_one_classifier_never_write_over_each_others_state(store):
    """An old operator's collector still running during a handover: the second writer is fenced
    off, reloads what the first wrote and goes on from there."""
    from ontask.api import FeedbackSpec
    from ontask.feedback.collector import Collector
    from ontask.store import Conflict

    spec = FeedbackSpec(topic="unused")
    old, new = Collector("c", spec, store, "127.0.0.1:1"), Collector("c", spec, store, "127.0.0.1:1")
    new.state.offsets["0"], new.state.counts.buffered = 20, 20
    new.save_state()
    old.state.offsets["0"] = 3  # its view from before the handover
    with pytest.raises(Conflict):
        old.save_state()
    assert Collector("c", spec, store, "127.0.0.1:1").state.offsets["0"] == 20  # nothing lost
    old.state = old._load_state()  # what `run` does after any failure
    old.state.offsets["0"] = 21
    old.save_state()
    assert Collector("c", spec, store, "127.0.0.1:1").state.offsets["0"] == 21


def test_a_cycle_marker_is_written_once(store):
    from ontask.feedback.cycle import read_marker, write_marker

    manifest = {"name": "c-feedback", "version": "v2", "rows": 10}
    first = write_marker(store, "classifiers/c", 1, manifest, ["a"])
    again = write_marker(store, "classifiers/c", 1, {**manifest, "version": "v3"}, ["b"])
    assert again == first == read_marker(store, "classifiers/c", 1)


def test_store_refuses_path_traversal(tmp_path):
    with pytest.raises(StoreError, match="not allowed"):
        LocalStore(tmp_path).put_bytes("../escape", b"x")


def test_a_corrections_screenshot_reference_is_read_but_never_creates_its_bucket(s3, s3_config, monkeypatch, tmp_path):
    from ontask.feedback.buffer import Entry
    from ontask.feedback.cycle import correction_examples

    monkeypatch.setenv("S3_ENDPOINT", s3.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.secret_key)
    bucket = f"nobody-{uuid.uuid4().hex[:8]}"
    entry = Entry(
        id="c1",
        content_key="k",
        image_sha256="0" * 64,
        image_key=f"s3://{bucket}/shot.png",
        task="Write the report",
        label="on-task",
        source="user",
        received_at=0.0,
    )
    assert list(correction_examples(LocalStore(tmp_path / "store"), [entry])) == []  # unreadable: left out
    client = Minio(s3.endpoint.removeprefix("http://"), s3.access_key, s3.secret_key, secure=False)
    assert not client.bucket_exists(bucket)


def test_a_size_limit_is_checked_before_the_read(s3_config, tmp_path):
    """With max_bytes, the object's size is asked first (a HEAD): a huge object is refused
    without being read; the folder store says the same."""
    import pytest

    from ontask.store import LocalStore, S3Store, TooLarge

    for store in (S3Store(s3_config, "size-limits"), LocalStore(tmp_path)):
        store.put_bytes("big.bin", b"x" * 1000)
        assert store.get_bytes("big.bin", max_bytes=1000) == b"x" * 1000
        with pytest.raises(TooLarge, match="1,000 bytes, over the limit of 999"):
            store.get_bytes("big.bin", max_bytes=999)


def test_a_data_source_in_s3_is_prepared_like_a_folder(s3, s3_config, monkeypatch, tmp_path):
    """spec.data.source may be s3://bucket/prefix: the data Job's `ontask data prepare` reads it."""
    import io

    from ontask.data import read_version
    from ontask.data.generate import example_at
    from ontask.data.prepare import prepare
    from ontask.store import LocalStore, S3Store

    monkeypatch.setenv("S3_ENDPOINT", s3.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.secret_key)
    source = S3Store(s3_config, "customer-shots", "team-a/2026-12")
    for i in range(3):
        buf = io.BytesIO()
        example_at(9, i).image.save(buf, format="PNG")
        source.put_bytes(f"shot-{i}.png", buf.getvalue(), "image/png")
    source.put_bytes(
        "manifest.jsonl",
        "".join(f'{{"image": "shot-{i}.png", "task": "Answer refund tickets"}}\n' for i in range(3)).encode(),
    )
    out = LocalStore(tmp_path / "store")
    result = prepare("s3://customer-shots/team-a/2026-12", out, "from-s3")
    assert result.rejected == [] and result.manifest["rows"] == 3
    assert {r["extra_info"]["task"] for r in read_version(out, "from-s3").rows} == {"Answer refund tickets"}


def test_a_classifier_prefix_has_one_owner_namespace(store):
    """Two TaskClassifiers named alike in two namespaces never share a prefix (each namespace has
    a folder of the store, and a claim guards a folder that a store shared by two installations or
    a copy puts under the wrong one); the same one re-created (a new uid) adopts what it left."""
    from ontask.operator.ownership import claim_prefix

    assert claim_prefix(store, "classifiers/desk", "team-a", "desk", "uid-1") is None
    assert claim_prefix(store, "classifiers/desk", "team-a", "desk", "uid-1") is None  # asked again
    problem = claim_prefix(store, "classifiers/desk", "team-b", "desk", "uid-2")
    assert problem is not None and "team-a/desk" in problem and store.uri("classifiers/desk/") in problem
    assert claim_prefix(store, "classifiers/desk", "team-a", "desk", "uid-3") is None  # deleted, applied again
    assert "team-a/desk" in claim_prefix(store, "classifiers/desk", "team-b", "desk", "uid-2")


def test_a_deleted_classifier_takes_its_artifacts_only_when_asked_and_only_its_own(store):
    from ontask.operator.ownership import claim_prefix, release_prefix

    for key in ("classifiers/desk/models/v1/config.json", "datasets/desk/v1/manifest.json",
                "datasets/desk-feedback/v1/manifest.json", "datasets/desk2/v1/manifest.json",
                "classifiers/desk2/models/v1/config.json"):  # fmt: skip
        store.put_bytes(key, b"{}")
    assert claim_prefix(store, "classifiers/desk", "team-a", "desk", "uid-1") is None
    assert release_prefix(store, "classifiers/desk", "desk", "uid-1", retain=True) == 0
    assert release_prefix(store, "classifiers/desk", "desk", "uid-other", retain=False) == 0  # not its prefix
    assert store.exists("classifiers/desk/models/v1/config.json")
    assert release_prefix(store, "classifiers/desk", "desk", "uid-1", retain=False) == 4
    assert sorted(store.list("classifiers")) == ["classifiers/desk2/models/v1/config.json"]
    assert sorted(store.list("datasets")) == ["datasets/desk2/v1/manifest.json"]


def test_a_store_that_refuses_the_operator_is_reported_not_taken_for_no_feedback(s3, monkeypatch):
    """A real S3 answering AccessDenied-like errors (wrong secret): the operator's observation
    says the store is unavailable instead of reading it as "no corrections, no cycle"."""
    from ontask.api import TaskClassifierSpec
    from ontask.operator.children import Children
    from ontask.operator.context import Context
    from ontask.operator.reconcile import Observed

    monkeypatch.setenv("S3_ENDPOINT", s3.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    spec = TaskClassifierSpec.model_validate({"data": {"source": "synthetic"}})
    ctx = Context("refused", "ns", "uid", spec, store_uri=f"s3://refused-{uuid.uuid4().hex[:6]}")
    obs = Observed()
    Children(ctx)._observe_feedback(obs, 0)
    assert obs.store_error is not None and obs.store_error.startswith(ctx.store_uri)
    assert obs.feedback is None and obs.cycle_marker is None


def test_without_keys_the_store_uses_the_pods_cloud_identity(s3, monkeypatch, tmp_path):
    """No AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (no Secret named): the store asks the pod's
    identity endpoint, as on EKS Pod Identity (a container-credentials URI and a projected token
    file; IRSA's web-identity token goes through the same provider), here a local endpoint that
    hands out the S3 server's keys with a session token."""
    import http.server
    import json
    import threading

    from ontask.store import open_store, s3_config_from_env

    asked: list[str] = []

    class Identity(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            asked.append(self.headers.get("Authorization", ""))
            body = json.dumps(
                {
                    "AccessKeyId": s3.access_key,
                    "SecretAccessKey": s3.secret_key,
                    "Token": "session-token",
                    "Expiration": "2099-01-01T00:00:00Z",
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Identity)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        token = tmp_path / "eks-pod-identity-token"
        token.write_text("projected-service-account-token")
        for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("S3_ENDPOINT", s3.endpoint)
        monkeypatch.setenv(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI", f"http://127.0.0.1:{server.server_port}/v1/credentials"
        )
        monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", str(token))
        config = s3_config_from_env()
        assert (config.access_key, config.secret_key) == (None, None)
        store = open_store(f"s3://identity-{uuid.uuid4().hex[:8]}/classifiers/c")
        store.put_bytes("owner.json", b"{}")
        assert store.get_bytes("owner.json") == b"{}"
        assert asked and asked[0] == "projected-service-account-token"
    finally:
        server.shutdown()
    # Half a key pair is a mistake, said as one.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "only-the-id")
    with pytest.raises(StoreError, match="half an S3 key pair"):
        s3_config_from_env()


def test_a_predictors_keys_read_its_model_and_screenshots_but_never_write(s3, s3_config, monkeypatch, tmp_path):
    """With the chart's storage.readOnlySecretName, the student's environment (as the operator
    writes it and a kubelet resolves its Secret references) carries the read-only keys: they fetch
    the model and read a screenshot reference, and a write is refused by the S3 server itself;
    the data Job's environment keeps the keys that write."""
    from ontask.api import TaskClassifierSpec
    from ontask.models.loading import local_copy
    from ontask.operator.kube_children import context_for
    from ontask.operator.local import container_env
    from ontask.operator.manifests import data_job, inference_service
    from ontask.operator.settings import OperatorSettings
    from ontask.serving.server import _image_store, add_arguments, resolve_settings
    from ontask.serving.settings import ServingSettings

    assert s3.read_only_access_key, "S3 servers from before the read-only identity: restart `make servers-up`"
    bucket = f"ro-{uuid.uuid4().hex[:8]}"
    writer = S3Store(s3_config, bucket)
    checkpoint = {"config.json": b'{"model_type": "qwen2_5_vl"}', "tokenizer_config.json": b"{}"}
    for name, body in checkpoint.items():
        writer.put_bytes(f"classifiers/c/models/v1/{name}", body)
    writer.put_bytes("captures/shot.png", b"\x89PNG screenshot")

    # The chart fixes the installation's store (ONTASK_STORE), which the spec's storage.bucket
    # (left at its default here) does not override.
    installation = {
        "ONTASK_S3_SECRET": "s3-keys",
        "ONTASK_S3_READ_ONLY_SECRET": "s3-read",
        "ONTASK_STORE": f"s3://{bucket}",
    }
    settings = OperatorSettings.from_env({**installation, "ONTASK_CHILD_S3_ENDPOINT": s3.endpoint})
    spec = TaskClassifierSpec.model_validate(
        {"data": {"source": "synthetic"}, "feedback": {"screenshotUriPrefixes": [f"s3://{bucket}/captures/"]}}
    )
    assert spec.storage.bucket != bucket
    ctx = context_for({"name": "c", "namespace": "team", "uid": "u"}, spec, settings)
    secrets = {
        "s3-keys": {"AWS_ACCESS_KEY_ID": s3.access_key, "AWS_SECRET_ACCESS_KEY": s3.secret_key},
        "s3-read": {"AWS_ACCESS_KEY_ID": s3.read_only_access_key, "AWS_SECRET_ACCESS_KEY": s3.read_only_secret_key},
    }
    student = inference_service(ctx, "student", f"s3://{bucket}/classifiers/c/models/v1", "v1")
    container = student["spec"]["predictor"]["containers"][0]
    env = container_env(container, secrets)
    assert env["AWS_ACCESS_KEY_ID"] == s3.read_only_access_key
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    serving = ServingSettings.from_env()
    # The predictor's command line, run with its environment: screenshot references point into the
    # installation's bucket, under the prefixes the spec allows.
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = resolve_settings(parser.parse_args(container["args"][1:]))
    assert (args.image_bucket, args.image_prefixes) == (bucket, (f"s3://{bucket}/captures/",))

    folder = local_copy(f"s3://{bucket}/classifiers/c/models/v1", serving.s3, cache_root=tmp_path / "models")
    assert {p.name: p.read_bytes() for p in folder.iterdir() if not p.name.startswith(".")} == checkpoint
    images = _image_store(serving, args.image_bucket)
    assert images.get_bytes("captures/shot.png", max_bytes=1024) == b"\x89PNG screenshot"
    with pytest.raises(StoreError, match="AccessDenied"):
        images.put_bytes("classifiers/c/models/v1/config.json", b"{}")
    with pytest.raises(StoreError, match="AccessDenied"):
        images.put_bytes("captures/new.png", b"x")
    assert writer.get_bytes("classifiers/c/models/v1/config.json") == checkpoint["config.json"]
    assert not writer.exists("captures/new.png")

    # The data Job writes datasets: its environment holds the read-write keys.
    job_env = container_env(data_job(ctx, "c")["spec"]["template"]["spec"]["containers"][0], secrets)
    assert (job_env["AWS_ACCESS_KEY_ID"], job_env["AWS_SECRET_ACCESS_KEY"]) == (s3.access_key, s3.secret_key)
