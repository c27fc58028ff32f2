"""KServe's real controller manager (v0.20, built from the Go module proxy by
scripts/servers/build.sh), run against the test API server the way its Deployment runs in a
cluster: in namespace `kserve`, under its own ServiceAccount bound to its upstream ClusterRole,
with its upstream CRDs, its `inferenceservice-config` ConfigMap, and its webhooks (the
InferenceService defaulter and validator, the pod mutator that injects the storage initializer)
registered under their upstream names and reached through their Service.

Two settings differ from a default install, both because this machine has no network layer:
Standard (raw Deployment) is the default deployment mode, since no Knative can run here, and no
Ingress is created, since no ingress controller would serve it. Its webhook certificate comes
from a test CA (a cluster uses cert-manager), written where controller-runtime reads it
($TMPDIR/k8s-webhook-server/serving-certs). The Deployments it creates are rolled out by the
kube-controller-manager's deployment and ReplicaSet controllers into pods, which no kubelet
runs: a test plays that part.
"""

from __future__ import annotations

import base64
import copy
import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from ontask.operator.local import free_port

from .certs import CertAuthority
from .incluster import account_kubeconfig, account_with_role, apply, kubectl, service_here
from .kube import KubeEndpoints
from .proc import ServerProcess, bin_path, cache_dir

NAMESPACE = "kserve"
ACCOUNT = "kserve-controller-manager"
SERVICE = "kserve-webhook-server-service"
CONFIGMAP = "inferenceservice-config"


def manifests_dir() -> Path:
    path = cache_dir() / "kserve"
    if not (path / ".complete").exists() or not bin_path("kserve-manager").exists():
        raise FileNotFoundError(f"{path} is missing: run `make servers` (scripts/servers/build.sh kserve)")
    return path


def config_map(upstream: dict[str, Any]) -> dict[str, Any]:
    """The upstream ConfigMap with Standard as the default mode and no Ingress (see above)."""
    out = copy.deepcopy(upstream)
    data = out["data"]
    deploy = json.loads(data["deploy"])
    deploy["defaultDeploymentMode"] = "Standard"
    ingress = json.loads(data["ingress"])
    ingress["disableIngressCreation"] = True
    data["deploy"], data["ingress"] = json.dumps(deploy), json.dumps(ingress)
    out["metadata"] = {"name": CONFIGMAP, "namespace": NAMESPACE}
    return out


def webhook_configurations(upstream: list[dict[str, Any]], ca_bundle: bytes) -> list[dict[str, Any]]:
    """The upstream webhook configurations as its kustomization installs them: each webhook's
    Service set to the manager's, with the CA that cert-manager would inject."""
    out = []
    for doc in upstream:
        doc = copy.deepcopy(doc)
        doc["metadata"] = {"name": doc["metadata"]["name"]}
        for hook in doc["webhooks"]:
            hook["clientConfig"]["service"].update({"name": SERVICE, "namespace": NAMESPACE, "port": 443})
            hook["clientConfig"]["caBundle"] = base64.b64encode(ca_bundle).decode()
        out.append(doc)
    return out


class KServeController:
    """Installs and starts KServe's controller manager; stop() ends it and removes its webhook
    configurations (their failurePolicy is Fail: left behind, they would refuse every
    InferenceService once the server is gone)."""

    def __init__(self, workdir: Path, kube: KubeEndpoints):
        self.workdir, self.kube = workdir, kube
        self.proc: ServerProcess | None = None
        self.hooks: list[dict[str, Any]] = []

    def _install(self, webhook_port: int, tmpdir: Path) -> None:
        manifests = manifests_dir()
        kubectl(self.kube, "apply", "--server-side", "--force-conflicts", "-f", str(manifests / "crds"))
        kubectl(self.kube, "wait", "--for=condition=Established", "--timeout=90s", "-f", str(manifests / "crds"))
        ca = CertAuthority(self.workdir / "pki")
        certs = tmpdir / "k8s-webhook-server" / "serving-certs"
        certs.mkdir(parents=True, exist_ok=True)
        crt, key = ca.issue("tls", SERVICE, server=True, dns_names=(f"{SERVICE}.{NAMESPACE}.svc",))
        (certs / "tls.crt").write_bytes(crt.read_bytes())
        (certs / "tls.key").write_bytes(key.read_bytes())
        upstream_hooks = [d for d in yaml.safe_load_all((manifests / "webhook.yaml").read_text()) if d]
        self.hooks = webhook_configurations(upstream_hooks, ca.cert_path.read_bytes())
        apply(
            self.kube,
            [
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
                *account_with_role(ACCOUNT, NAMESPACE, yaml.safe_load((manifests / "role.yaml").read_text())),
                config_map(yaml.safe_load((manifests / "configmap.yaml").read_text())),
                *service_here(SERVICE, NAMESPACE, "webhook-server", webhook_port),
            ],
        )

    def start(self) -> "KServeController":
        webhook_port, probe_port = free_port(), free_port()
        tmpdir = self.workdir / "tmp"
        self._install(webhook_port, tmpdir)
        kubeconfig = account_kubeconfig(self.kube, ACCOUNT, NAMESPACE, self.workdir / "kserve.kubeconfig")
        self.proc = ServerProcess(
            "kserve-manager",
            [
                bin_path("kserve-manager"),
                "--metrics-addr=0",
                f"--health-probe-addr=127.0.0.1:{probe_port}",
                f"--webhook-port={webhook_port}",
            ],
            self.workdir,
            env={"KUBECONFIG": str(kubeconfig), "POD_NAMESPACE": NAMESPACE, "TMPDIR": str(tmpdir)},
        ).start()
        self.proc.wait_until(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{probe_port}/readyz", timeout=3).status == 200,
            timeout=120,
            what="ready (/readyz)",
        )
        # Registered once the server answers, as a cluster's rollout orders them.
        apply(self.kube, self.hooks)
        time.sleep(1)  # the API server's webhook informer picks the configurations up
        return self

    def tail(self, lines: int = 40) -> str:
        return self.proc.tail(lines) if self.proc else "(not started)"

    def stop(self) -> None:
        for hook in self.hooks:
            kind = hook["kind"].lower()
            kubectl(self.kube, "delete", kind, hook["metadata"]["name"], "--ignore-not-found")
        if self.proc is not None:
            self.proc.stop()
