"""Every key of the artifact store, named in one place.

    datasets/<name>/v<N>/                  a dataset version (manifest.json, data.parquet, images/)
    classifiers/<c>/models/<vN>/           a trained model version (a Qwen2.5-VL folder)
    classifiers/<c>/metrics/<vN>.jsonl     its training metrics (appended while it trains)
    classifiers/<c>/evaluations/<vN>.json  a candidate's evaluation and promotion decision
    classifiers/<c>/checkpoints/<dataset>-<version>/step-<N>/, latest.json
    classifiers/<c>/feedback/state.json    the collector's buffer, offsets and counts
    classifiers/<c>/feedback/screenshots/<sha256>.png
    classifiers/<c>/feedback/cycles/cycle-<N>.json   a sync cycle's marker

`<c>` prefixes are what :func:`classifier_prefix` returns; the functions below take it.
"""

from __future__ import annotations


def classifier_prefix(name: str) -> str:
    return f"classifiers/{name}"


def models_prefix(prefix: str) -> str:
    return f"{prefix}/models"


def model_key(prefix: str, version: str) -> str:
    return f"{prefix}/models/{version}"


def metrics_prefix(prefix: str) -> str:
    return f"{prefix}/metrics/"


def metrics_key(prefix: str, version: str) -> str:
    return f"{prefix}/metrics/{version}.jsonl"


def evaluation_key(prefix: str, version: str) -> str:
    return f"{prefix}/evaluations/{version}.json"


def checkpoints_prefix(prefix: str, dataset: str, dataset_version: str) -> str:
    return f"{prefix}/checkpoints/{dataset}-{dataset_version}"


def feedback_state_key(prefix: str) -> str:
    return f"{prefix}/feedback/state.json"


def feedback_screenshot_key(prefix: str, digest: str) -> str:
    return f"{prefix}/feedback/screenshots/{digest}.png"


def cycle_marker_key(prefix: str, number: int) -> str:
    return f"{prefix}/feedback/cycles/cycle-{number}.json"


def dataset_prefix(name: str, version: str | None = None) -> str:
    """`datasets/<name>`, or one version's folder (`version` as stored: "v3")."""
    return f"datasets/{name}" if version is None else f"datasets/{name}/{version}"
