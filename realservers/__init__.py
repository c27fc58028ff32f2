"""Real servers for the integration tests, the benchmarks and the demo, built from package
registries by scripts/servers/.

Nothing here is a fake: etcd + kube-apiserver + kube-controller-manager, an Apache Kafka
broker, SeaweedFS's S3 gateway and Helm run as the real programs on 127.0.0.1. Only the
kubelet is missing (tests/kubelet_standin.py plays it). The Kubeflow training operator's real
controller runs against the API server (training_operator.py), and so does KServe's controller
manager (kserve.py), for the tests that need it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Optional

from .kafka import KafkaBroker
from .kserve import KServeController
from .kube import KubeCluster, KubeEndpoints
from .proc import bin_path, cache_dir, upstream_crds
from .s3 import S3Endpoint, SeaweedS3
from .training_operator import TrainingOperator

__all__ = ["RealServers", "KServeController", "KubeEndpoints", "S3Endpoint", "state_file", "bin_path", "upstream_crds"]


def state_file() -> Path:
    """Where `make servers-up` records the running servers."""
    return cache_dir() / "run" / "servers.json"


class RealServers:
    """Starts each server on first use; stop() ends what this object started."""

    def __init__(self, root: Optional[Path] = None):
        self.root = Path(root or tempfile.mkdtemp(prefix="ontask-servers-"))
        self._kube: Optional[KubeCluster] = None
        self._kafka: Optional[KafkaBroker] = None
        self._s3: Optional[SeaweedS3] = None
        self._training_operator: Optional[TrainingOperator] = None
        self.training_operator_shared = False  # one runs for the shared API server (make servers-up)
        self.kube_endpoints: Optional[KubeEndpoints] = None
        self.kafka_bootstrap: Optional[str] = None
        self.s3_endpoint: Optional[S3Endpoint] = None

    def kube(self) -> KubeEndpoints:
        if self.kube_endpoints is None:
            self._kube = KubeCluster(self.root / "kube")
            self.kube_endpoints = self._kube.start()
        return self.kube_endpoints

    def kafka(self) -> str:
        if self.kafka_bootstrap is None:
            self._kafka = KafkaBroker(self.root / "kafka")
            self.kafka_bootstrap = self._kafka.start()
        return self.kafka_bootstrap

    def s3(self) -> S3Endpoint:
        if self.s3_endpoint is None:
            self._s3 = SeaweedS3(self.root / "s3")
            self.s3_endpoint = self._s3.start()
        return self.s3_endpoint

    def training_operator(self) -> Optional[TrainingOperator]:
        """The Kubeflow training operator's controller, against this API server (started once)."""
        if self._training_operator is None and not self.training_operator_shared:
            self._training_operator = TrainingOperator(self.root / "training-operator", self.kube()).start()
        return self._training_operator

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far by the Kafka broker and the S3 server, where this object started them."""
        servers = {"kafka": self._kafka, "s3": self._s3}
        return {name: server.proc.cpu_seconds() for name, server in servers.items() if server is not None}

    def stop(self, remove: bool = True) -> None:
        for server in (self._training_operator, self._kube, self._kafka, self._s3):
            if server is not None:
                server.stop()
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)

    def to_state(self) -> dict:
        return {
            "pid": os.getpid(),
            "root": str(self.root),
            "kube": {k: str(v) for k, v in asdict(self.kube_endpoints).items()} if self.kube_endpoints else None,
            "kafka": self.kafka_bootstrap,
            "s3": asdict(self.s3_endpoint) if self.s3_endpoint else None,
            "training_operator": self._training_operator is not None or self.training_operator_shared,
        }


def running_state() -> Optional[dict]:
    """The state of servers started by `make servers-up`, if they are still running."""
    path = state_file()
    if not path.exists():
        return None
    state = json.loads(path.read_text())
    try:
        os.kill(state["pid"], 0)
    except (ProcessLookupError, PermissionError):
        return None
    return state
