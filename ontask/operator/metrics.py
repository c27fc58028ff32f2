"""The operator's Prometheus metrics, served on --metrics-port (the chart's ServiceMonitor scrapes
them): every classifier's phase, accuracy and feedback counts as its status says, and the
reconcile passes by outcome."""

from __future__ import annotations

from typing import Any, Optional, get_args

from prometheus_client import Counter, Gauge, start_http_server

from ontask.api import Phase

RECONCILES = Counter("ontask_operator_reconciles_total", "Reconcile passes by outcome.", ["outcome"])
PHASE = Gauge(
    "ontask_classifier_phase", "1 for a classifier's current phase, 0 for the others.", ["namespace", "name", "phase"]
)
ACCURACY = Gauge("ontask_classifier_accuracy", "Held-out accuracy of the serving version.", ["namespace", "name"])
FEEDBACK = Gauge(
    "ontask_classifier_corrections",
    "Corrections by what became of them (received: buffered, rejected: dead-lettered).",
    ["namespace", "name", "kind"],
)
CYCLE = Gauge("ontask_classifier_cycle", "Sync cycles decided so far.", ["namespace", "name"])


def serve(port: int) -> None:
    """Serve /metrics on every interface at `port` (a background thread)."""
    start_http_server(port)


def observe(namespace: str, name: str, status: Optional[dict[str, Any]]) -> None:
    """Set a classifier's gauges from its status (as written, camelCase)."""
    if not status:
        return
    for phase in get_args(Phase):
        PHASE.labels(namespace, name, phase).set(1.0 if status.get("phase") == phase else 0.0)
    accuracy = (status.get("metrics") or {}).get("accuracy")
    if accuracy is not None:
        ACCURACY.labels(namespace, name).set(accuracy)
    for kind, value in (status.get("feedback") or {}).items():
        if isinstance(value, (int, float)):
            FEEDBACK.labels(namespace, name, kind).set(value)
    CYCLE.labels(namespace, name).set(status.get("cycle") or 0)


def forget(namespace: str, name: str) -> None:
    """Drop a deleted classifier's series."""
    for gauge in (PHASE, ACCURACY, FEEDBACK, CYCLE):
        for labels in list(gauge._metrics):  # noqa: SLF001 - prometheus_client has no public way to list them
            if labels[:2] == (namespace, name):
                gauge.remove(*labels)
