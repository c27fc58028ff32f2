"""Running the operator process (the `ontask operator` command and the chart's Deployment)."""

from __future__ import annotations

import asyncio
import logging
from typing import Optional, Sequence

import kopf


def run_operator(
    namespaces: Sequence[str] = (),
    liveness: Optional[str] = "http://0.0.0.0:8080/healthz",
    standalone: bool = False,
    log_level: str = "info",
) -> None:
    """Run kopf with ontask's handlers until stopped; all namespaces when none are given."""
    import ontask.operator.handlers  # noqa: F401 - registers the handlers

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(
        kopf.operator(
            clusterwide=not namespaces,
            namespaces=list(namespaces),
            liveness_endpoint=liveness,
            standalone=standalone,
        )
    )
