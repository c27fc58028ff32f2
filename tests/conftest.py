"""Session fixtures: the real servers, started once on first use and stopped at the end
(also when tests fail). Servers started by `make servers-up` are reused when running."""

from __future__ import annotations

import shutil
import subprocess
import time
import zlib
from pathlib import Path
from typing import Callable, Iterator, Sequence

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from ontask.store import S3Config
from realservers import (
    KServeController,
    KubeEndpoints,
    RealServers,
    S3Endpoint,
    bin_path,
    running_state,
    upstream_crds,
)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """The tiny Qwen2.5-VL of ontask.models.tiny, built once per session for each seed (and
    tokenizer corpus). `tiny_vlm(seed)` is the shared folder, which a test reads and never writes
    into; `tiny_vlm(seed, copy_to=path)` is a copy of its own at `path`, for a test that changes
    the folder or names it."""
    from ontask.models.tiny import build_tiny_vlm

    root = tmp_path_factory.mktemp("tiny-vlm")
    built: dict[tuple[int, tuple[str, ...]], Path] = {}

    def folder(seed: int = 0, copy_to: Path | None = None, corpus: Sequence[str] = ()) -> Path:
        key = (seed, tuple(corpus))
        if key not in built:
            built[key] = build_tiny_vlm(root / f"seed{seed}-{len(built)}", seed=seed, corpus=corpus)
        if copy_to is None:
            return built[key]
        shutil.copytree(built[key], copy_to)
        return Path(copy_to)

    return folder


@pytest.fixture(scope="session")
def real_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServers]:
    servers = RealServers(tmp_path_factory.mktemp("servers"))
    state = running_state()
    if state:
        # Reuse what `make servers-up` runs; this session does not own (or stop) them.
        if state.get("kube"):
            k = state["kube"]
            servers.kube_endpoints = KubeEndpoints(
                k["url"],
                Path(k["admin_kubeconfig"]),
                Path(k["user_kubeconfig"]),
                k["user_name"],
                Path(k["ca_file"]),
                Path(k["audit_log"]),
            )
            servers.training_operator_shared = bool(state.get("training_operator"))
        servers.kafka_bootstrap = state.get("kafka")
        if state.get("s3"):
            servers.s3_endpoint = S3Endpoint(**state["s3"])
    yield servers
    servers.stop(remove=False)


@pytest.fixture(scope="session")
def kube(real_servers: RealServers) -> KubeEndpoints:
    """A real kube-apiserver (+ etcd, kube-controller-manager) with admin and non-admin kubeconfigs."""
    return real_servers.kube()


@pytest.fixture(scope="session")
def kafka_bootstrap(real_servers: RealServers) -> str:
    """host:port of a real Kafka broker (KRaft)."""
    return real_servers.kafka()


@pytest.fixture(scope="session")
def s3(real_servers: RealServers) -> S3Endpoint:
    """A real S3 endpoint (SeaweedFS) with credentials."""
    return real_servers.s3()


@pytest.fixture(scope="session")
def s3_config(s3: S3Endpoint) -> S3Config:
    return S3Config(s3.endpoint, s3.access_key, s3.secret_key)


@pytest.fixture(scope="session")
def admin_api(kube: KubeEndpoints) -> k8s.ApiClient:
    """A kubernetes-client ApiClient logged in as a cluster admin."""
    return k8s_config.new_client_from_config(config_file=str(kube.admin_kubeconfig))


def wait_for(predicate, timeout: float = 60.0, what: str = "condition", diagnose=lambda: "", interval: float = 0.5):
    """Poll predicate() until it returns something truthy (returned); fail naming `what`, the last
    value and diagnose()'s text."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}\n{diagnose()}")


def consume(bootstrap: str, topic: str, n: int, timeout_ms: int = 20000) -> list:
    """Up to n records of a topic from the beginning, with kafka-python in a fresh group."""
    import uuid

    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=timeout_ms,
        group_id=f"t-{uuid.uuid4().hex[:6]}",
    )
    out = []
    try:
        for msg in consumer:
            out.append(msg)
            if len(out) >= n:
                break
    finally:
        consumer.close()
    return out


def console_produce(bootstrap: str, topic: str, key: str, value: str, separator: str = "|") -> None:
    """Send one keyed record with Kafka's own console producer, as a person types it (the key,
    `separator`, the value); the producer's stderr fails the test if it does not exit cleanly."""
    from realservers.kafka import java_cmd

    out = subprocess.run(
        java_cmd(
            "org.apache.kafka.tools.ConsoleProducer",
            "--bootstrap-server",
            bootstrap,
            "--topic",
            topic,
            "--property",
            "parse.key=true",
            "--property",
            f"key.separator={separator}",
            heap="256m",
        ),
        input=f"{key}{separator}{value}\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr


def run_cli(
    binary: str, *args: str, kubeconfig: Path | None = None, input: str | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run a real CLI (kubectl, helm) built by scripts/servers/build.sh."""
    cmd = [str(bin_path(binary)), *args]
    if kubeconfig is not None:
        cmd += ["--kubeconfig", str(kubeconfig)]
    return subprocess.run(cmd, capture_output=True, text=True, input=input, timeout=120, check=check)


@pytest.fixture(scope="session")
def crd_installed(kube: KubeEndpoints) -> None:
    """The chart's TaskClassifier CRD applied to the real API server and established."""
    chart = REPO / "charts" / "ontask"
    for crd in (chart / "files" / "crds", chart / "crds"):  # the TaskClassifier CRD; kopf's peering CRDs
        out = run_cli("kubectl", "apply", "--server-side", "-f", str(crd), kubeconfig=kube.admin_kubeconfig)
        assert out.returncode == 0, out.stderr
    # The children's kinds with their real upstream CRDs, so the API server checks every child
    # the operator writes against KServe's and the training operator's own schemas.
    out = run_cli("kubectl", "apply", "--server-side", "-f", str(upstream_crds()), kubeconfig=kube.admin_kubeconfig)
    assert out.returncode == 0, out.stderr
    # A large CRD has no status for a moment after it is applied, and `kubectl wait` errors on
    # that instead of waiting: asked again until established.
    deadline = time.monotonic() + 90
    while True:
        out = run_cli(
            "kubectl",
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/taskclassifiers.ontask.dev",
            "crd/clusterkopfpeerings.kopf.dev",
            "crd/pytorchjobs.kubeflow.org",
            "crd/inferenceservices.serving.kserve.io",
            "crd/clusterservingruntimes.serving.kserve.io",
            kubeconfig=kube.admin_kubeconfig,
        )
        if out.returncode == 0 or "accessor error" not in out.stderr or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert out.returncode == 0, out.stderr
    # KServe's Hugging Face runtime, as KServe installs it: what serves a judge with runtime vllm.
    runtimes = upstream_crds() / "runtimes"
    out = run_cli("kubectl", "apply", "--server-side", "-f", str(runtimes), kubeconfig=kube.admin_kubeconfig)
    assert out.returncode == 0, out.stderr


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG file whose header claims width x height pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    idat = zlib.compress(b"\x00" * (width * 3 + 1) * 4)  # a few rows; the header is what matters
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture(scope="session")
def training_operator(real_servers: RealServers, crd_installed: None):
    """The Kubeflow training operator's real controller (and its webhook) against the test API
    server: it turns PyTorchJobs into pods, which the kubelet stand-in runs."""
    return real_servers.training_operator()


@pytest.fixture(scope="module")
def kserve_controller(real_servers: RealServers, crd_installed: None, tmp_path_factory):
    """KServe's real controller manager (Standard mode) for one module: while it runs it owns
    every InferenceService's status, so the modules that play KServe with the kubelet stand-in
    (Serverless mode, which needs Knative) run without it."""
    controller = KServeController(tmp_path_factory.mktemp("kserve"), real_servers.kube()).start()
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def trainer_v2(real_servers: RealServers, crd_installed: None, tmp_path_factory):
    """Kubeflow Trainer v2's controller manager and JobSet's controller (and their webhooks) for
    one module, with their upstream CRDs: they turn TrainJobs into JobSets, Jobs and pods, which
    the kubelet stand-in runs."""
    from realservers.trainer import TrainerV2, available

    why = available()
    if why is not None:  # make test builds them: missing is a failure, not a skip
        pytest.fail(f"Kubeflow Trainer v2 is not built: {why} (run `bash scripts/servers/build.sh trainer`)")
    controllers = TrainerV2(tmp_path_factory.mktemp("trainer"), real_servers.kube())
    try:
        yield controllers.start()
    finally:
        controllers.stop()
