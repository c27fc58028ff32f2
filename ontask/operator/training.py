"""The training backends: a classifier's first training and its sync cycles run as a Kubeflow
PyTorchJob (the v1 training operator, `kubeflow.org/v1`) or as a Kubeflow Trainer v2 TrainJob
(`trainer.kubeflow.org/v1alpha1`, which runs a JobSet through a ClusterTrainingRuntime). Both
are behind one interface: the reconcile plan asks for a "train" or "cycle" child and reads back
Running, Succeeded or Failed with the controller's message; which kind carries it is decided
here, once per operator, from the installation's setting or, by default, from what the cluster
serves (the API server's resource list).

The PyTorchJob stays the one description of a training run (`manifests.training_job`); a
TrainJob is translated from it, so what a pod gets (args, environment, resources, volumes,
placement) is the same whichever controller runs it. Trainer v2 takes the pod's fixed shape
(security contexts, restart policy, backoff limit) from its runtime, which ontask also builds
(`training_runtime`), and the per-job parts from the TrainJob's trainer and pod overrides."""

from __future__ import annotations

import copy
import logging
import threading
import time
from typing import Any, Callable, Literal, Optional

from kubernetes import client as k8s

from ontask.operator.pods import CONTAINER_SECURITY, POD_SECURITY, serialize

log = logging.getLogger("ontask.operator")

Backend = Literal["PyTorchJob", "TrainJob"]
BackendSetting = Literal["auto", "PyTorchJob", "TrainJob"]

PYTORCHJOB = ("kubeflow.org", "v1", "pytorchjobs")
TRAINJOB = ("trainer.kubeflow.org", "v1alpha1", "trainjobs")
CLUSTER_RUNTIME = ("trainer.kubeflow.org", "v1alpha1", "clustertrainingruntimes")
RESOURCES = {"PyTorchJob": PYTORCHJOB, "TrainJob": TRAINJOB}
# The runtime ontask makes when the installation names none of its own (chart: training.runtime).
DEFAULT_RUNTIME = "ontask-grpo"

# Trainer v2's fixed names: the runtime's replicated job and container that the torch plugin
# fills (PET_* environment, port 29400), found by this ancestor label.
NODE = "node"
ANCESTOR_LABEL = "trainer.kubeflow.org/trainjob-ancestor-step"
# The restarts a training pod gets before its job fails: the PyTorchJob's runPolicy.backoffLimit.
BACKOFF_LIMIT = 3


def served_backends(api: k8s.ApiClient) -> set[Backend]:
    """The training kinds the cluster serves, from the API server's resource lists (discovery,
    which every authenticated user may read)."""
    out: set[Backend] = set()
    for backend, (group, version, plural) in RESOURCES.items():
        try:
            found, _, _ = api.call_api(
                f"/apis/{group}/{version}", "GET", response_type="object", auth_settings=["BearerToken"]
            )
        except k8s.ApiException as e:
            if e.status == 404:  # the group/version is not served: no such CRD
                continue
            raise
        if any(r.get("name") == plural for r in (found or {}).get("resources") or []):
            out.add(backend)  # type: ignore[arg-type]
    return out


def choose_backend(setting: BackendSetting, served: set[Backend]) -> Backend:
    """The backend for `setting`: a named one as is (a cluster that does not serve it gets a
    CRDMissing condition on the classifier, which says what to install); `auto` picks what the
    cluster serves. With both served, PyTorchJob stays: it is what ontask ran before Trainer v2,
    so upgrading ontask on a cluster with both changes nothing until the chart says TrainJob.

    >>> choose_backend("auto", {"TrainJob"}), choose_backend("auto", {"TrainJob", "PyTorchJob"})
    ('TrainJob', 'PyTorchJob')
    >>> choose_backend("auto", set()), choose_backend("TrainJob", set())
    ('PyTorchJob', 'TrainJob')
    """
    if setting != "auto":
        return setting
    return "TrainJob" if served == {"TrainJob"} else "PyTorchJob"


class BackendResolver:
    """The `auto` choice, made from discovery and kept: asked again only while the cluster serves
    neither kind (the CRDs may be installed after the operator), at most every `retry` seconds."""

    def __init__(self, discover: Callable[[], set[Backend]], retry: float = 30.0):
        self.discover, self.retry = discover, retry
        self._lock = threading.Lock()
        self._chosen: Optional[Backend] = None
        self._asked_at = float("-inf")
        self._last: Backend = "PyTorchJob"

    def __call__(self, setting: BackendSetting) -> Backend:
        if setting != "auto":
            return setting
        with self._lock:
            if self._chosen is None and time.monotonic() - self._asked_at >= self.retry:
                self._asked_at = time.monotonic()
                try:
                    served = self.discover()
                except Exception as e:  # noqa: BLE001 - discovery failing must not stop reconciling
                    log.warning("cannot list the cluster's training kinds (%s); using %s", e, self._last)
                    return self._last
                self._last = choose_backend("auto", served)
                if served:
                    self._chosen = self._last
                    log.info("training backend: %s (the cluster serves %s)", self._chosen, sorted(served))
            return self._chosen or self._last


def training_runtime(name: str = DEFAULT_RUNTIME, image: str = "ghcr.io/ontask/ontask:0.1.0") -> dict[str, Any]:
    """The ClusterTrainingRuntime ontask's TrainJobs run on: one replicated job of torchrun nodes
    (Trainer v2's torch plugin sets their PET_* rendezvous), each pod under the restricted Pod
    Security Standard with no ServiceAccount token, restarted in place up to BACKOFF_LIMIT times,
    as a PyTorchJob's are. The image is a placeholder: each TrainJob names its own."""
    container = k8s.V1Container(name=NODE, image=image, security_context=CONTAINER_SECURITY)
    pod = k8s.V1PodSpec(
        containers=[container],
        restart_policy="OnFailure",
        security_context=POD_SECURITY,
        automount_service_account_token=False,
    )
    job = {
        "name": NODE,
        "template": {
            "metadata": {"labels": {ANCESTOR_LABEL: "trainer"}},
            "spec": {"backoffLimit": BACKOFF_LIMIT, "template": {"spec": serialize(pod)}},
        },
    }
    return {
        "apiVersion": "trainer.kubeflow.org/v1alpha1",
        "kind": "ClusterTrainingRuntime",
        "metadata": {
            "name": name,
            "labels": {"trainer.kubeflow.org/framework": "torch", "app.kubernetes.io/managed-by": "ontask"},
        },
        "spec": {
            "mlPolicy": {"numNodes": 1, "torch": {"numProcPerNode": 1}},
            "template": {"spec": {"replicatedJobs": [job]}},
        },
    }


# Pod fields a TrainJob's pod override carries (Trainer v2.1's PodTemplateOverrideSpec); the
# rest of a PyTorchJob's pod (security contexts, restart policy) comes from the runtime.
_OVERRIDDEN = ("serviceAccountName", "nodeSelector", "affinity", "tolerations", "volumes", "imagePullSecrets")


def as_trainjob(pytorchjob: dict[str, Any], runtime: str = DEFAULT_RUNTIME) -> dict[str, Any]:
    """The TrainJob that runs what `pytorchjob` (from manifests.training_job) describes, on the
    ClusterTrainingRuntime `runtime`: its Master and Workers become numNodes torchrun nodes, each
    running `ontask train` under torchrun (which reads the PET_* rendezvous Trainer v2 sets) with
    one process per GPU; the container's environment, resources, volumes and the pod's placement
    are carried over. What Trainer v2.1 cannot set per job (a priority class) is left out and
    logged; Kueue's queue label on the TrainJob's metadata is what Trainer v2 reads instead."""
    spec = pytorchjob["spec"]
    replicas = spec["pytorchReplicaSpecs"]
    master = replicas["Master"]["template"]
    pod = master.get("spec") or {}
    container = pod["containers"][0]
    nodes = sum(r.get("replicas", 1) for r in replicas.values())
    args = list(container.get("args") or [])
    if container.get("command") != ["torchrun"]:  # a one-GPU PyTorchJob runs `ontask train` itself
        args = ["--module", "ontask.cli", *args]
    trainer: dict[str, Any] = {
        "image": container["image"],
        "command": ["torchrun"],
        "args": args,
        "numNodes": nodes,
        "numProcPerNode": int(spec.get("nprocPerNode") or 1),
    }
    if container.get("env"):
        trainer["env"] = copy.deepcopy(container["env"])
    if container.get("resources"):
        trainer["resourcesPerNode"] = copy.deepcopy(container["resources"])
    override: dict[str, Any] = {k: copy.deepcopy(pod[k]) for k in _OVERRIDDEN if pod.get(k)}
    if container.get("volumeMounts"):
        override["containers"] = [{"name": NODE, "volumeMounts": copy.deepcopy(container["volumeMounts"])}]
    if pod.get("priorityClassName"):
        log.warning(
            "TrainJob %s: Trainer v2 sets no priority class per job; %r is not applied (name it in the runtime)",
            pytorchjob["metadata"]["name"],
            pod["priorityClassName"],
        )
    job: dict[str, Any] = {
        "apiVersion": "trainer.kubeflow.org/v1alpha1",
        "kind": "TrainJob",
        "metadata": copy.deepcopy(pytorchjob["metadata"]),
        "spec": {
            "runtimeRef": {"name": runtime, "apiGroup": "trainer.kubeflow.org", "kind": "ClusterTrainingRuntime"},
            "trainer": trainer,
        },
    }
    template_meta = master.get("metadata") or {}
    if override or template_meta.get("labels") or template_meta.get("annotations"):
        entry: dict[str, Any] = {"targetJobs": [{"name": NODE}]}
        if template_meta.get("labels") or template_meta.get("annotations"):
            entry["metadata"] = {k: dict(template_meta[k]) for k in ("labels", "annotations") if template_meta.get(k)}
        if override:
            entry["spec"] = override
        job["spec"]["podTemplateOverrides"] = [entry]
    return job
