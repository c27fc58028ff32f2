"""Prometheus metrics of the predictors, served on KServe's /metrics with its own."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter("ontask_predict_requests_total", "Prediction requests by outcome.", ["model", "outcome"])
LATENCY = Histogram(
    "ontask_predict_latency_seconds",
    "Server-side latency of a prediction request.",
    ["model"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BATCH_ROWS = Histogram(
    "ontask_predict_batch_rows",
    "Rows the model scored together in one call (requests batched by the micro-batcher).",
    ["model"],
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
LABELS = Counter("ontask_predictions_total", "Predictions by label.", ["model", "label"])
LOW_CONFIDENCE = Counter("ontask_low_confidence_total", "Predictions below the judge threshold.", ["model"])
JUDGE_CHECKS = Counter("ontask_judge_checks_total", "Background judge checks by result.", ["model", "result"])
EVIDENCE = Counter("ontask_evidence_total", "Where the window evidence came from.", ["model", "source"])
