"""Evaluating a served model on a dataset version: the held-out split and the corrected edge
cases (ontask.evaluation.gate decides a candidate's promotion from two such evaluations)."""

from __future__ import annotations

from typing import Any, Optional

from ontask.data.dataset import read_version
from ontask.evaluation.compare import Item, items_of, served_probabilities, student_probabilities
from ontask.evaluation.metrics import summary
from ontask.labels import LABELS
from ontask.models.classifier import StudentClassifier
from ontask.store import Store


def rows_of(ds, split: str) -> list[dict[str, Any]]:
    """Labelled rows of a split; "corrections" is the corrected edge cases themselves (any split;
    their variants are not in this slice)."""
    labelled = [r for r in ds.rows if r["reward_model"]["ground_truth"] in LABELS]
    if split == "corrections":
        return [
            r
            for r in labelled
            if r["extra_info"].get("hard_kind") == "correction"
            and r["extra_info"]["label_source"] in ("user", "reviewer", "judge")
        ]
    return [r for r in labelled if r["extra_info"]["split"] == split]


def evaluation_sets(
    store: Store, dataset: str, version: Optional[str] = None, splits: tuple[str, ...] = ("val", "corrections")
) -> tuple[str, dict[str, list[Item]]]:
    """The dataset version's name and its labelled items per split (splits without rows left out),
    read once however many models are evaluated on them."""
    ds = read_version(store, dataset, version)
    return ds.version, {s: items_of(ds, rows) for s in splits if (rows := rows_of(ds, s))}


def evaluate(model_uri: str, sets: dict[str, list[Item]], s3=None) -> dict[str, Any]:
    """Metrics of one model per split as it is served (its hybrid with the verifier when it has a
    fit: what users get and what the promotion gate compares), with the latency of each answer;
    the student alone under "student_alone", and which of the two answered under "answers"."""
    student = StudentClassifier.load(model_uri, s3=s3)
    p, latencies = student_probabilities(student, sets)
    served = served_probabilities(student.hybrid, p, sets)
    h = student.hybrid
    out: dict[str, Any] = {
        "model": model_uri,
        "answers": "student alone" if h is None else f"hybrid (student weight {h.student_weight:.1f})",
        "student_alone": {},
    }
    for s, items in sets.items():
        truth, hard = [x.label for x in items], [x.hard for x in items]
        out[s] = summary(truth, served[s], hard, latencies[s])
        out["student_alone"][s] = summary(truth, p[s], hard)
    return out
