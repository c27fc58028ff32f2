"""Classification metrics of on-task/off-task predictions: pure functions over lists, checked
against hand-computed values in the tests."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Optional, Sequence

from ontask.labels import LABELS, label_of


@dataclass
class ClassScores:
    precision: float
    recall: float
    f1: float
    support: int


def confusion(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, dict[str, int]]:
    """counts[true label][predicted label]."""
    counts = {t: {p: 0 for p in LABELS} for t in LABELS}
    for t, p in zip(truth, predicted, strict=True):
        counts[t][p] += 1
    return counts


def per_class(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, ClassScores]:
    m = confusion(truth, predicted)
    out = {}
    for c in LABELS:
        tp = m[c][c]
        fp = sum(m[t][c] for t in LABELS if t != c)
        fn = sum(m[c][p] for p in LABELS if p != c)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[c] = ClassScores(precision, recall, f1, tp + fn)
    return out


def accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    return sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth) if truth else 0.0


def reliability(truth: Sequence[str], p_on: Sequence[float], bins: int = 10) -> list[dict[str, float]]:
    """Reliability diagram bins over the confidence of the predicted label (0.5..1)."""
    edges = [0.5 + 0.5 * i / bins for i in range(bins + 1)]
    out = []
    for lo, hi in zip(edges, edges[1:]):
        rows = [(t, p) for t, p in zip(truth, p_on) if lo <= max(p, 1 - p) < hi or (hi == 1.0 and max(p, 1 - p) == 1.0)]
        if not rows:
            continue
        conf = sum(max(p, 1 - p) for _, p in rows) / len(rows)
        acc = sum(label_of(p) == t for t, p in rows) / len(rows)
        out.append({"lo": lo, "hi": hi, "count": len(rows), "confidence": conf, "accuracy": acc})
    return out


def ece(truth: Sequence[str], p_on: Sequence[float], bins: int = 10) -> float:
    """Expected calibration error: the count-weighted gap between confidence and accuracy."""
    n = len(truth)
    return (
        sum(b["count"] / n * abs(b["accuracy"] - b["confidence"]) for b in reliability(truth, p_on, bins)) if n else 0.0
    )


def summary(
    truth: Sequence[str],
    p_on: Sequence[float],
    hard: Optional[Sequence[bool]] = None,
    latencies_ms: Optional[Sequence[float]] = None,
) -> dict[str, Any]:
    """Everything a report shows for one system on one dataset."""
    predicted = [label_of(p) for p in p_on]
    out: dict[str, Any] = {
        "n": len(truth),
        "accuracy": accuracy(truth, predicted),
        "per_class": {c: asdict(s) for c, s in per_class(truth, predicted).items()},
        "confusion": confusion(truth, predicted),
        "ece": ece(truth, p_on),
        "reliability": reliability(truth, p_on),
    }
    if hard is not None:
        idx = [i for i, h in enumerate(hard) if h]
        out["hard_n"] = len(idx)
        out["hard_accuracy"] = accuracy([truth[i] for i in idx], [predicted[i] for i in idx]) if idx else None
    if latencies_ms:
        ordered = sorted(latencies_ms)
        pick = lambda q: ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]  # noqa: E731
        out["latency_ms"] = {"p50": pick(0.5), "p90": pick(0.9), "p99": pick(0.99)}
    return out
