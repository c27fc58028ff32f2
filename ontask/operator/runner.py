"""Running the operator process (the `ontask operator` command and the chart's Deployment)."""

from __future__ import annotations

import asyncio
import logging
from typing import Optional, Sequence

import kopf

from ontask.operator.settings import OperatorSettings


def run_operator(
    settings: OperatorSettings,
    namespaces: Sequence[str] = (),
    liveness: Optional[str] = "http://0.0.0.0:8080/healthz",
    standalone: bool = False,
    log_level: str = "info",
    metrics_port: int = 0,
) -> None:
    """Run kopf with ontask's handlers until stopped, with the installation's `settings` in kopf's
    memo (`memo.settings` in every handler); all namespaces when none are given; Prometheus
    metrics on `metrics_port` (0: none).

    Unless standalone, replicas elect a leader through kopf peering (the chart's "ontask"
    peering object): each takes a distinct priority from its pod name, the highest live one
    works and the others wait; when it dies its peering entry expires and the next one resumes."""
    import ontask.operator.handlers  # noqa: F401 - registers the handlers

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if metrics_port:
        from ontask.operator import metrics

        metrics.serve(metrics_port)
    kopf_settings = kopf.OperatorSettings()
    # Given its namespaces, the operator needs no cluster-wide listing of namespaces or CRDs (and
    # the chart grants none): kopf takes the names as given and scans resources once at startup.
    kopf_settings.scanning.disabled = bool(namespaces)
    kopf_settings.peering.lifetime = settings.peering_lifetime
    asyncio.run(
        kopf.operator(
            settings=kopf_settings,
            memo=kopf.Memo(settings=settings),
            clusterwide=not namespaces,
            namespaces=list(namespaces),
            liveness_endpoint=liveness,
            standalone=standalone,
            peering_name=None if standalone else settings.peering_name,
            priority=None if standalone else settings.replica_priority(),
        )
    )
