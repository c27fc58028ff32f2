"""Kubeflow Trainer v2's controller manager and JobSet's controller (built from the Go module
proxy by scripts/servers/build.sh, target `trainer`), run against the test API server the way
their Deployments run in a cluster: each in its upstream namespace (kubeflow-system,
jobset-system), under its own ServiceAccount bound to its upstream ClusterRole, its webhooks
registered under the names its certificate rotator patches and reached through its Service.

As for the v1 training operator (realservers/training_operator.py), what a cluster has and this
machine does not is supplied the smallest way: each Service's EndpointSlice points at this
machine, the ServiceAccount token comes from the TokenRequest API into a kubeconfig, and the
certificates each rotator writes to its Secret are copied to the folder that Secret's volume
would be mounted at. Both controllers (and the training operator) read their certificates from
the same fixed path, so each runs in a mount namespace of its own (util-linux's unshare, as
root); without one they cannot run side by side, and `available()` says so. The pods JobSet's
Jobs make never run by themselves: tests/kubelet_standin.py plays the kubelet.
"""

from __future__ import annotations

import base64
import copy
import json
import shutil
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

from ontask.operator.local import free_port

from .incluster import account_kubeconfig, account_with_role, apply, kubectl, service_here
from .kube import KubeEndpoints
from .proc import ServerProcess, bin_path, cache_dir
from .training_operator import CERT_DIR, private_mounts

TRAINER_CRDS = (
    "trainjobs.trainer.kubeflow.org",
    "trainingruntimes.trainer.kubeflow.org",
    "clustertrainingruntimes.trainer.kubeflow.org",
    "jobsets.jobset.x-k8s.io",
)


def manifests_dir() -> Path:
    """The upstream manifests build.sh copied beside the binaries (CRDs, webhooks, ClusterRoles)."""
    path = cache_dir() / "trainer"
    if not (path / ".complete").exists():
        raise FileNotFoundError(f"{path} is missing: run `make servers` (scripts/servers/build.sh trainer)")
    return path


def available() -> Optional[str]:
    """None when Trainer v2 and JobSet can run here, else why not (for a test's skip)."""
    try:
        manifests_dir()
        bin_path("trainer-controller-manager")
        bin_path("jobset-controller")
    except FileNotFoundError as e:
        return str(e)
    if not private_mounts():
        return (
            "Trainer v2, JobSet and the training operator read their certificates from one fixed path: "
            "running them side by side needs mount namespaces (unshare, as root)"
        )
    return None


def crds() -> Path:
    """The folder of the upstream CRDs: TrainJob, TrainingRuntime, ClusterTrainingRuntime, JobSet."""
    return manifests_dir() / "crds"


def _json_patch(doc: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """The `replace` operations of a kustomize JSON patch (all that the upstream patches use)."""
    out = copy.deepcopy(doc)
    for op in ops:
        assert op["op"] == "replace", op
        *parents, last = [int(p) if p.isdigit() else p for p in op["path"].strip("/").split("/")]
        target = out
        for p in parents:
            target = target[p]
        target[last] = op["value"]
    return out


@dataclass
class Controller:
    """One controller-runtime manager as its Deployment would run it."""

    name: str  # the binary, and this run's folder
    namespace: str
    account: str
    role: dict[str, Any]  # its upstream ClusterRole
    secret: str  # where its rotator writes the webhook certificates
    service: str  # its webhook Service
    hooks: list[dict[str, Any]]  # webhook configurations, named as its rotator patches them
    config: dict[str, Any]  # its Configuration (webhook port, probes, cert management)


class TrainerV2:
    """Installs the CRDs and starts JobSet's controller, then Trainer v2's; stop() ends both."""

    def __init__(self, workdir: Path, kube: KubeEndpoints):
        self.workdir, self.kube = workdir, kube
        self.procs: list[ServerProcess] = []

    def _kubectl(self, *args: str, input: str | None = None) -> str:
        return kubectl(self.kube, *args, input=input)

    def _controllers(self) -> list[Controller]:
        m = manifests_dir()
        load = lambda p: [d for d in yaml.safe_load_all((m / p).read_text()) if d]  # noqa: E731

        def hooks(docs: list[dict], names: dict[str, str], service: str, namespace: str) -> list[dict]:
            out = []
            for d in docs:
                d = {**d, "metadata": {"name": names[d["kind"]]}}
                for hook in d["webhooks"]:
                    hook["clientConfig"]["service"].update({"name": service, "namespace": namespace, "port": 443})
                out.append(d)
            return out

        # JobSet: its pod webhooks only for JobSet's pods (the upstream kustomize patches).
        jobset_hooks = []
        for d in load("jobset/webhook.yaml"):
            patch = "mutating-patch.yaml" if d["kind"] == "MutatingWebhookConfiguration" else "validating-patch.yaml"
            jobset_hooks.append(_json_patch(d, yaml.safe_load((m / "jobset" / patch).read_text())))
        (jobset_role,) = load("jobset/role.yaml")
        jobset_role["metadata"] = {"name": "jobset-manager-role"}
        (trainer_role,) = load("role.yaml")
        return [
            Controller(
                name="jobset-controller",
                namespace="jobset-system",
                account="jobset-controller-manager",
                role=jobset_role,
                secret="jobset-webhook-server-cert",
                service="jobset-webhook-service",
                hooks=hooks(
                    jobset_hooks,
                    {
                        "MutatingWebhookConfiguration": "jobset-mutating-webhook-configuration",
                        "ValidatingWebhookConfiguration": "jobset-validating-webhook-configuration",
                    },
                    "jobset-webhook-service",
                    "jobset-system",
                ),
                config={
                    "apiVersion": "config.jobset.x-k8s.io/v1alpha1",
                    "kind": "Configuration",
                    "leaderElection": {"leaderElect": False},
                    "internalCertManagement": {
                        "enable": True,
                        "webhookServiceName": "jobset-webhook-service",
                        "webhookSecretName": "jobset-webhook-server-cert",
                    },
                },
            ),
            Controller(
                name="trainer-controller-manager",
                namespace="kubeflow-system",
                account="kubeflow-trainer-controller-manager",
                role=trainer_role,
                secret="kubeflow-trainer-webhook-cert",
                service="kubeflow-trainer-controller-manager",
                hooks=hooks(
                    load("webhook.yaml"),
                    {"ValidatingWebhookConfiguration": "validator.trainer.kubeflow.org"},
                    "kubeflow-trainer-controller-manager",
                    "kubeflow-system",
                ),
                config={
                    "apiVersion": "config.trainer.kubeflow.org/v1alpha1",
                    "kind": "Configuration",
                    # Its loader dereferences webhook.host, which its defaults leave unset (as upstream's file sets it).
                    "webhook": {"host": ""},
                    "leaderElection": {"leaderElect": False},
                    "certManagement": {
                        "enable": True,
                        "webhookServiceName": "kubeflow-trainer-controller-manager",
                        "webhookSecretName": "kubeflow-trainer-webhook-cert",
                    },
                },
            ),
        ]

    def install_crds(self) -> None:
        self._kubectl("apply", "--server-side", "--force-conflicts", "-f", str(crds()))
        deadline = time.monotonic() + 90
        while not all(self._established(c) for c in TRAINER_CRDS):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the CRDs {TRAINER_CRDS} were not established within 90 s")
            time.sleep(0.5)

    def _established(self, crd: str) -> bool:
        got = json.loads(self._kubectl("get", "crd", crd, "-o", "json"))
        conditions = (got.get("status") or {}).get("conditions") or []  # none yet, just after apply
        return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

    def _start(self, c: Controller) -> ServerProcess:
        workdir = self.workdir / c.name
        certs = workdir / "serving-certs"
        shutil.rmtree(certs, ignore_errors=True)
        certs.mkdir(parents=True)
        webhook_port, probe_port = free_port(), free_port()
        apply(
            self.kube,
            [
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": c.namespace}},
                *account_with_role(c.account, c.namespace, c.role),
                # The rotator fills this Secret with the CA and serving certificate; it must exist.
                {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": c.secret, "namespace": c.namespace}},
                *service_here(c.service, c.namespace, "webhook-server", webhook_port),
                *c.hooks,
            ],
        )
        config = {
            **c.config,
            "webhook": {**c.config.get("webhook", {}), "port": webhook_port},
            "health": {"healthProbeBindAddress": f"127.0.0.1:{probe_port}"},
            "metrics": {"bindAddress": "0"},
        }
        (workdir / "config.yaml").write_text(yaml.safe_dump(config))
        kubeconfig = account_kubeconfig(self.kube, c.account, c.namespace, workdir / "kubeconfig")
        # Its certificate folder is fixed in its code: this run's folder is bound over it in a
        # mount namespace of its own.
        bind = f'mkdir -p {CERT_DIR} && mount --bind "$0" {CERT_DIR} && exec "$@"'
        proc = ServerProcess(
            c.name,
            [
                *["unshare", "--mount", "--propagation", "private", "sh", "-c", bind, str(certs)],
                str(bin_path(c.name)),
                f"--config={workdir / 'config.yaml'}",
                f"--kubeconfig={kubeconfig}",
            ],
            workdir,
        ).start()
        self.procs.append(proc)

        def issued() -> bool:  # what the kubelet does with the Secret's volume
            secret = json.loads(self._kubectl("get", "secret", c.secret, "-n", c.namespace, "-o", "json"))
            data = secret.get("data") or {}
            if not all(k in data for k in ("ca.crt", "tls.crt", "tls.key")):
                return False
            for k in ("ca.crt", "tls.crt", "tls.key"):
                (certs / k).write_bytes(base64.b64decode(data[k]))
            return True

        proc.wait_until(issued, timeout=90, what="issuing its webhook certificates")
        # Ready once the webhook configurations carry the CA and the webhook server listens.
        proc.wait_until(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{probe_port}/readyz", timeout=3).status == 200,
            timeout=120,
            what="ready (/readyz)",
        )
        return proc

    def start(self) -> "TrainerV2":
        self.install_crds()
        for c in self._controllers():  # JobSet first: Trainer v2 makes JobSets through its webhook
            self._start(c)
        return self

    def tail(self, lines: int = 40) -> str:
        return "\n".join(f"--- {p.name}\n{p.tail(lines)}" for p in self.procs) or "(not started)"

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.stop()
        self.procs = []
