"""A real Kubernetes control plane on 127.0.0.1: etcd 3.6, kube-apiserver, kube-controller-manager.

No kubelet: pods never run. The controller-manager is there for garbage collection of owned
objects and namespace deletion.
"""

from __future__ import annotations

import ssl
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from ontask.operator.local import free_port

from .certs import CertAuthority, service_account_keys
from .proc import ServerProcess, bin_path

ADMIN_USER = "ontask-admin"
NON_ADMIN_USER = "ontask-user"


@dataclass
class KubeEndpoints:
    """What tests get: the API URL and kubeconfigs for an admin and a non-admin user."""

    url: str
    admin_kubeconfig: Path
    user_kubeconfig: Path
    user_name: str
    ca_file: Path
    audit_log: Path  # one JSON line per request (Metadata level), for counting who asks what


def write_kubeconfig(path: Path, url: str, ca: Path, cert: Path, key: Path, user: str) -> Path:
    """A kubeconfig for one client-certificate user."""
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "ontask-test", "cluster": {"server": url, "certificate-authority": str(ca)}}],
        "users": [{"name": user, "user": {"client-certificate": str(cert), "client-key": str(key)}}],
        "contexts": [{"name": user, "context": {"cluster": "ontask-test", "user": user, "namespace": "default"}}],
        "current-context": user,
    }
    path.write_text(yaml.safe_dump(cfg))
    return path


class KubeCluster:
    """Starts etcd, kube-apiserver and kube-controller-manager; stop() ends them."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.procs: list[ServerProcess] = []
        self.endpoints: KubeEndpoints | None = None

    def start(self) -> KubeEndpoints:
        pki = self.workdir / "pki"
        ca = CertAuthority(pki)
        serving_crt, serving_key = ca.issue("apiserver", "kube-apiserver", server=True)
        admin_crt, admin_key = ca.issue("admin", ADMIN_USER, groups=("system:masters",))
        user_crt, user_key = ca.issue("user", NON_ADMIN_USER, groups=("ontask-testers",))
        sa_key, sa_pub = service_account_keys(pki)

        # Every request at Metadata level, once it completed (watches once they started).
        audit_policy = self.workdir / "audit-policy.yaml"
        audit_policy.write_text(
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n"
        )
        audit_log = self.workdir / "audit.log"
        etcd_port, etcd_peer, api_port = free_port(), free_port(), free_port()
        etcd = ServerProcess(
            "etcd",
            [
                bin_path("etcd"),
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
                f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
                f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
                f"--initial-cluster=default=http://127.0.0.1:{etcd_peer}",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
            self.workdir,
        ).start()
        self.procs.append(etcd)
        etcd.wait_until(lambda: urllib.request.urlopen(f"http://127.0.0.1:{etcd_port}/health", timeout=2).status == 200)

        url = f"https://127.0.0.1:{api_port}"
        api = ServerProcess(
            "kube-apiserver",
            [
                bin_path("kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                f"--cert-dir={pki}",
                f"--tls-cert-file={serving_crt}",
                f"--tls-private-key-file={serving_key}",
                f"--client-ca-file={ca.cert_path}",
                f"--secure-port={api_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--allow-privileged=true",
                # Webhook Services resolve through their EndpointSlices (no cluster IP routes here),
                # which is how the training operator's webhook is reached.
                "--enable-aggregator-routing=true",
                "--disable-admission-plugins=ServiceAccount",
                # As on hardened clusters: setting blockOwnerDeletion on a child needs the right to
                # update the owner's finalizers.
                "--enable-admission-plugins=OwnerReferencesPermissionEnforcement",
                "--authorization-mode=RBAC",
                f"--service-account-issuer={url}",
                f"--service-account-key-file={sa_pub}",
                f"--service-account-signing-key-file={sa_key}",
                f"--audit-policy-file={audit_policy}",
                f"--audit-log-path={audit_log}",
                "--audit-log-format=json",
                "--audit-log-maxsize=200",
                "--v=1",
            ],
            self.workdir,
        ).start()
        self.procs.append(api)
        ctx = ssl.create_default_context(cafile=str(ca.cert_path))
        ctx.load_cert_chain(str(admin_crt), str(admin_key))
        api.wait_until(
            lambda: urllib.request.urlopen(f"{url}/readyz", context=ctx, timeout=3).status == 200,
            timeout=120,
            what="ready (/readyz)",
        )

        admin_cfg = write_kubeconfig(
            self.workdir / "admin.kubeconfig", url, ca.cert_path, admin_crt, admin_key, ADMIN_USER
        )
        user_cfg = write_kubeconfig(
            self.workdir / "user.kubeconfig", url, ca.cert_path, user_crt, user_key, NON_ADMIN_USER
        )

        kcm = ServerProcess(
            "kube-controller-manager",
            [
                bin_path("kube-controller-manager"),
                f"--kubeconfig={admin_cfg}",
                f"--authentication-kubeconfig={admin_cfg}",
                f"--authorization-kubeconfig={admin_cfg}",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                "--leader-elect=false",
                # Deployments roll out into ReplicaSets and pods, and Jobs into pods, as in a
                # cluster (KServe's Standard mode is Deployments); the tests' kubelet stand-in
                # runs the pods, and these controllers write the status of what made them.
                "--controllers=garbagecollector,namespace,deployment,replicaset,job",
                f"--cert-dir={self.workdir / 'kcm-certs'}",
                "--v=1",
            ],
            self.workdir,
        ).start()
        self.procs.append(kcm)
        self.endpoints = KubeEndpoints(url, admin_cfg, user_cfg, NON_ADMIN_USER, ca.cert_path, audit_log)
        return self.endpoints

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()
