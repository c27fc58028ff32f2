"""Evaluating a served model on a dataset version's slices (ontask.evaluation.gate decides a
candidate's promotion from two such evaluations on a cycle's gate slices)."""

from __future__ import annotations

from typing import Any, Optional

from ontask.data.dataset import list_versions, read_version
from ontask.evaluation.compare import Item, items_of, served_probabilities, student_probabilities
from ontask.evaluation.gate import FAMILY_SLICE, REGRESSION_SLICE, is_regression_row
from ontask.evaluation.metrics import summary
from ontask.labels import LABELS, label_of
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


def gate_sets(store: Store, dataset: str, version: Optional[str] = None) -> tuple[str, dict[str, list[Item]]]:
    """A cycle dataset's gate slices: its held-out corrections (with their variants) and the
    regression set: the part of the replayed dataset's validation split its manifest names, and
    every reviewed correction that an earlier cycle of the same dataset held out (a reviewer's
    label is trusted, and a held-out correction is never trained on, by its id). Neither slice
    holds a row the candidate trained on or was fitted on."""
    ds = read_version(store, dataset, version)
    sets = {}
    if rows := rows_of(ds, "holdout"):
        sets[FAMILY_SLICE] = items_of(ds, rows)
    regression: list[Item] = []
    named = ds.manifest.get("made_by", {}).get("regression")
    if named:
        reg = read_version(store, named["dataset"], named["version"])
        rows = [r for r in rows_of(reg, named.get("split", "val")) if is_regression_row(r["extra_info"]["id"])]
        regression += items_of(reg, rows)
    regression += reviewed_regression_items(store, dataset, ds.version)
    if regression:
        sets[REGRESSION_SLICE] = regression
    return ds.version, sets


def reviewed_regression_items(store: Store, dataset: str, before: str) -> list[Item]:
    """The reviewed corrections that versions of `dataset` earlier than `before` held out, each
    once (a correction buffered twice lands in two versions)."""
    seen: set[str] = set()
    out: list[Item] = []
    for n in list_versions(store, dataset):
        if n >= int(before.lstrip("v")):
            break
        earlier = read_version(store, dataset, f"v{n}")
        rows = [
            r
            for r in rows_of(earlier, "holdout")
            if r["extra_info"].get("hard_kind") == "correction"
            and r["extra_info"]["label_source"] == "reviewer"
            and r["extra_info"]["id"] not in seen
        ]
        seen.update(r["extra_info"]["id"] for r in rows)
        out += items_of(earlier, rows)
    return out


def evaluate(model_uri: str, sets: dict[str, list[Item]], s3=None, max_pixels: Optional[int] = None) -> dict[str, Any]:
    """Metrics of one model per split as it is served (its hybrid with the verifier when it has a
    fit, at the pixel budget serving gives it: what users get and what the promotion gate
    compares; its verifier scores with the rules the model was trained with), with the latency of
    each answer; the student alone under "student_alone", and which of the two answered under
    "answers"."""
    student = StudentClassifier.load(model_uri, max_pixels=max_pixels, s3=s3)
    p, latencies = student_probabilities(student, sets)
    served = served_probabilities(student.hybrid, student.verifier_config, p, sets)
    h = student.hybrid
    out: dict[str, Any] = {
        "model": model_uri,
        "answers": "student alone" if h is None else f"hybrid (student weight {h.student_weight:.1f})",
        "student_alone": {},
    }
    for s, items in sets.items():
        truth, hard = [x.label for x in items], [x.hard for x in items]
        out[s] = summary(truth, served[s], hard, latencies[s])
        out[s]["correct"] = [label_of(q) == t for q, t in zip(served[s], truth)]  # the gate pairs rows
        out["student_alone"][s] = summary(truth, p[s], hard)
    return out
