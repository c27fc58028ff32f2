"""What a controller that runs as a Deployment in a cluster needs from the test API server when
it runs here as a local process instead: kubectl as the admin, a kubeconfig for its own
ServiceAccount (the token its projected volume would hold), and its webhook Service pointed at
this machine (the API server resolves webhook Services through EndpointSlices when started with
--enable-aggregator-routing)."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import Any

import yaml

from .kube import KubeEndpoints
from .proc import bin_path


def kubectl(kube: KubeEndpoints, *args: str, input: str | None = None) -> str:
    """kubectl as the admin; raises with its stderr when it fails."""
    out = subprocess.run(
        [str(bin_path("kubectl")), "--kubeconfig", str(kube.admin_kubeconfig), *args],
        capture_output=True,
        text=True,
        input=input,
        timeout=120,
    )
    if out.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args[:3])}: {out.stderr.strip()}")
    return out.stdout


def apply(kube: KubeEndpoints, docs: list[dict[str, Any]]) -> None:
    kubectl(kube, "apply", "--server-side", "--force-conflicts", "-f", "-", input=yaml.safe_dump_all(docs))


def host_address() -> str:
    """This machine's first non-loopback IPv4 address: an EndpointSlice may not point at 127.0.0.1."""
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=False).stdout.split()
    for addr in out:
        try:
            socket.inet_pton(socket.AF_INET, addr)
        except OSError:
            continue
        if not addr.startswith("127."):
            return addr
    raise RuntimeError(
        "a controller's webhook is reached through a Service, whose EndpointSlice needs a "
        f"non-loopback IPv4 address, and this machine has none (hostname -I: {out})"
    )


def service_here(name: str, namespace: str, port_name: str, port: int) -> list[dict[str, Any]]:
    """A Service on port 443 whose one endpoint is `port` on this machine."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"ports": [{"name": port_name, "port": 443, "protocol": "TCP", "targetPort": 9443}]},
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{name}-this-machine",
                "namespace": namespace,
                "labels": {
                    "kubernetes.io/service-name": name,
                    "endpointslice.kubernetes.io/managed-by": "ontask-tests",
                },
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [host_address()], "conditions": {"ready": True}}],
            "ports": [{"name": port_name, "port": port, "protocol": "TCP"}],
        },
    ]


def account_with_role(account: str, namespace: str, role: dict[str, Any]) -> list[dict[str, Any]]:
    """A ServiceAccount bound to an upstream ClusterRole, as a controller's manifests install it."""
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account, "namespace": namespace}},
        role,
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": account},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": role["metadata"]["name"],
            },
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
        },
    ]


def account_kubeconfig(kube: KubeEndpoints, account: str, namespace: str, path: Path) -> Path:
    """A kubeconfig that authenticates as the ServiceAccount (a TokenRequest token)."""
    token = kubectl(kube, "create", "token", account, "-n", namespace, "--duration=48h").strip()
    cfg = yaml.safe_load(kube.admin_kubeconfig.read_text())
    cfg["users"] = [{"name": account, "user": {"token": token}}]
    cfg["contexts"] = [{"name": account, "context": {"cluster": cfg["clusters"][0]["name"], "user": account}}]
    cfg["current-context"] = account
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg))
    return path
