"""Running the operator process (the `ontask operator` command and the chart's Deployment)."""

from __future__ import annotations

import asyncio
import logging
import os
import zlib
from typing import Optional, Sequence

import kopf


def run_operator(
    namespaces: Sequence[str] = (),
    liveness: Optional[str] = "http://0.0.0.0:8080/healthz",
    standalone: bool = False,
    log_level: str = "info",
    metrics_port: int = 0,
) -> None:
    """Run kopf with ontask's handlers until stopped; all namespaces when none are given;
    Prometheus metrics on `metrics_port` (0: none).

    Unless standalone, replicas elect a leader through kopf peering (the chart's "ontask"
    peering object): each takes a distinct priority from its pod name, the highest live one
    works and the others wait; when it dies its peering entry expires and the next one resumes."""
    import ontask.operator.handlers  # noqa: F401 - registers the handlers

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if metrics_port:
        from ontask.operator import metrics

        metrics.serve(metrics_port)
    settings = kopf.OperatorSettings()
    # Given its namespaces, the operator needs no cluster-wide listing of namespaces or CRDs (and
    # the chart grants none): kopf takes the names as given and scans resources once at startup.
    settings.scanning.disabled = bool(namespaces)
    asyncio.run(
        kopf.operator(
            settings=settings,
            clusterwide=not namespaces,
            namespaces=list(namespaces),
            liveness_endpoint=liveness,
            standalone=standalone,
            peering_name=None if standalone else os.environ.get("ONTASK_PEERING", "ontask"),
            priority=None if standalone else peering_priority(),
        )
    )


def peering_priority() -> int:
    """ONTASK_PEERING_PRIORITY, or a stable number from the pod name: kopf freezes every replica
    when two share a priority, so each replica needs its own."""
    if os.environ.get("ONTASK_PEERING_PRIORITY"):
        return int(os.environ["ONTASK_PEERING_PRIORITY"])
    return 1 + zlib.crc32(os.environ.get("POD_NAME", os.uname().nodename).encode()) % 1_000_000
