"""The Kubeflow training operator's real controller (v1.9, built from the Go module proxy by
scripts/servers/build.sh), run against the test API server the way its Deployment runs in a
cluster: in namespace `kubeflow`, under its own ServiceAccount bound to its upstream ClusterRole,
its validating webhook registered under the upstream name and reached through its Service.

What a cluster has and this machine does not is supplied the smallest way: the Service's
EndpointSlice points at this machine's address (the API server resolves webhook Services through
EndpointSlices when started with --enable-aggregator-routing), and the ServiceAccount's token
comes from the TokenRequest API into a kubeconfig instead of a projected volume, and the webhook
certificates its rotator writes to a Secret are copied to the folder the Secret's volume would be
mounted at (what a kubelet does for its pod; in a mount namespace of its own where the machine
allows one, since that folder's path is fixed in its code). Pods it creates
never run by themselves: tests/kubelet_standin.py plays the kubelet.
"""

from __future__ import annotations

import base64
import copy
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import yaml

from ontask.operator.local import free_port

from .incluster import account_kubeconfig, account_with_role, apply, kubectl, service_here
from .kube import KubeEndpoints
from .proc import ServerProcess, bin_path, cache_dir, upstream_crds

NAMESPACE = "kubeflow"
SERVICE = "training-operator"
ACCOUNT = "training-operator"
WEBHOOK_CONFIGURATION = "validator.training-operator.kubeflow.org"  # the name its cert rotator patches
CERT_SECRET = "training-operator-webhook-cert"
# Where its Deployment mounts that Secret; the path is fixed in the operator's code.
CERT_DIR = Path("/tmp/k8s-webhook-server/serving-certs")


def private_mounts() -> bool:
    """Whether processes here can get a mount namespace of their own (root, util-linux's
    unshare): then each training operator sees its own CERT_DIR, and two test sessions on one
    machine do not overwrite each other's certificates."""
    if not shutil.which("unshare"):
        return False
    probe = ["unshare", "--mount", "--propagation", "private", "true"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


def manifests_dir() -> Path:
    """The upstream manifests build.sh copied beside the binary (webhook configuration, ClusterRole)."""
    path = cache_dir() / "training-operator"
    if not (path / ".complete").exists():
        raise FileNotFoundError(f"{path} is missing: run `make servers` (scripts/servers/build.sh training-operator)")
    return path


def webhook_configuration(upstream: dict) -> dict:
    """The upstream ValidatingWebhookConfiguration as its kustomization installs it: renamed, and
    each webhook's Service set to the operator's in `kubeflow`."""
    out = copy.deepcopy(upstream)
    out["metadata"] = {"name": WEBHOOK_CONFIGURATION}
    for hook in out["webhooks"]:
        hook["clientConfig"]["service"].update({"name": SERVICE, "namespace": NAMESPACE, "port": 443})
    return out


class TrainingOperator:
    """Installs and starts the training operator; stop() ends it (what it installed stays)."""

    def __init__(self, workdir: Path, kube: KubeEndpoints):
        self.workdir, self.kube = workdir, kube
        self.proc: ServerProcess | None = None
        # Where the certificates are "mounted": a folder of this run bound over CERT_DIR in the
        # operator's own mount namespace, or CERT_DIR itself (one test session at a time).
        self.private = private_mounts()
        self.cert_dir = workdir / "serving-certs" if self.private else CERT_DIR

    def _kubectl(self, *args: str, input: str | None = None) -> str:
        return kubectl(self.kube, *args, input=input)

    def _install(self, webhook_port: int) -> None:
        manifests = manifests_dir()
        role = yaml.safe_load((manifests / "role.yaml").read_text())
        hooks = webhook_configuration(yaml.safe_load((manifests / "webhook.yaml").read_text()))
        docs = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
            *account_with_role(ACCOUNT, NAMESPACE, role),
            # The rotator fills this Secret with the CA and serving certificate; it must exist.
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": CERT_SECRET, "namespace": NAMESPACE}},
            *service_here(SERVICE, NAMESPACE, "webhook-server", webhook_port),
            hooks,
        ]
        self._kubectl(
            "apply", "--server-side", "--force-conflicts", "-f", str(upstream_crds() / "kubeflow.org_pytorchjobs.yaml")
        )
        apply(self.kube, docs)

    def _crd_established(self) -> bool:
        crd = json.loads(self._kubectl("get", "crd", "pytorchjobs.kubeflow.org", "-o", "json"))
        return any(
            c["type"] == "Established" and c["status"] == "True"
            for c in (crd.get("status") or {}).get("conditions", [])
        )

    def _mount_certificates(self) -> None:
        """Copy the certificates its rotator issued into CERT_DIR, once they are in the Secret."""

        def issued() -> bool:
            secret = json.loads(self._kubectl("get", "secret", CERT_SECRET, "-n", NAMESPACE, "-o", "json"))
            data = secret.get("data") or {}
            if not all(k in data for k in ("ca.crt", "tls.crt", "tls.key")):
                return False
            for k in ("ca.crt", "tls.crt", "tls.key"):
                (self.cert_dir / k).write_bytes(base64.b64decode(data[k]))
            return True

        assert self.proc is not None
        self.proc.wait_until(issued, timeout=60, what="issuing its webhook certificates")

    def start(self) -> "TrainingOperator":
        webhook_port, probe_port = free_port(), free_port()
        self._install(webhook_port)
        shutil.rmtree(self.cert_dir, ignore_errors=True)  # a previous cluster's certificates
        self.cert_dir.mkdir(parents=True)
        deadline = time.monotonic() + 60
        while not self._crd_established():  # its controller watches PyTorchJobs from the start
            if time.monotonic() > deadline:
                raise TimeoutError("the PyTorchJob CRD was not established within 60 s")
            time.sleep(0.5)
        kubeconfig = account_kubeconfig(self.kube, ACCOUNT, NAMESPACE, self.workdir / "training-operator.kubeconfig")
        argv: list = []
        if self.private:
            bind = f'mkdir -p {CERT_DIR} && mount --bind "$0" {CERT_DIR} && exec "$@"'
            argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", bind, self.cert_dir]
        self.proc = ServerProcess(
            "training-operator",
            [
                *argv,
                bin_path("training-operator"),
                f"--kubeconfig={kubeconfig}",
                "--enable-scheme=pytorchjob",  # the only kind ontask creates
                f"--webhook-server-port={webhook_port}",
                "--metrics-bind-address=0",
                f"--health-probe-bind-address=127.0.0.1:{probe_port}",
            ],
            self.workdir,
            env={"MY_POD_NAMESPACE": NAMESPACE},
        ).start()
        self._mount_certificates()
        # Ready once its certificates are issued, the webhook configuration carries their CA and
        # the webhook server listens (its readiness check is that of its Deployment).
        self.proc.wait_until(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{probe_port}/readyz", timeout=3).status == 200,
            timeout=120,
            what="ready (/readyz)",
        )
        return self

    def tail(self, lines: int = 40) -> str:
        return self.proc.tail(lines) if self.proc else "(not started)"

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
