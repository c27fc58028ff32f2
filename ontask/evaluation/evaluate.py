"""Evaluating a student on a dataset version: the held-out split and the corrected edge cases,
and the comparison that decides a candidate's promotion."""

from __future__ import annotations

import time
from typing import Any, Optional

from ontask.data.dataset import read_version, row_windows
from ontask.evaluation.metrics import summary
from ontask.serving.classify import StudentClassifier
from ontask.store import Store


def rows_of(ds, split: str) -> list[dict[str, Any]]:
    """Labelled rows of a split; "corrections" is the corrected edge cases themselves (any split;
    their variants are not in this slice)."""
    labelled = [r for r in ds.rows if r["reward_model"]["ground_truth"] in ("on-task", "off-task")]
    if split == "corrections":
        return [r for r in labelled if r["extra_info"].get("hard_kind") == "correction"
                and r["extra_info"]["label_source"] in ("user", "reviewer", "judge")]
    return [r for r in labelled if r["extra_info"]["split"] == split]


def evaluate_rows(classifier: StudentClassifier, ds, rows: list[dict[str, Any]]) -> dict[str, Any]:
    truth, p_on, hard, latencies = [], [], [], []
    for r in rows:
        image = ds.image(r)
        t0 = time.perf_counter()
        (p,) = classifier.p_on_task([image], [r["extra_info"]["task"]], [row_windows(r)])
        latencies.append((time.perf_counter() - t0) * 1000)
        truth.append(r["reward_model"]["ground_truth"])
        p_on.append(p)
        hard.append(bool(r["extra_info"]["hard"]))
    return summary(truth, p_on, hard, latencies)


def evaluate(model_uri: str, store: Store, dataset: str, version: Optional[str] = None,
             splits: tuple[str, ...] = ("val", "corrections"), s3=None) -> dict[str, Any]:
    """Metrics of one model per split of a dataset version (splits without rows are left out)."""
    classifier = StudentClassifier.load(model_uri, s3=s3)
    ds = read_version(store, dataset, version)
    out: dict[str, Any] = {"model": model_uri, "dataset": dataset, "version": ds.version}
    for split in splits:
        rows = rows_of(ds, split)
        if rows:
            out[split] = evaluate_rows(classifier, ds, rows)
    return out


def promotion_decision(candidate: dict[str, Any], serving: dict[str, Any], min_gain: float) -> dict[str, Any]:
    """Promote when the candidate's accuracy on held-out rows and corrected edge cases together
    (weighted by rows) beats the serving model's by at least min_gain."""
    def pooled(e: dict[str, Any]) -> float:
        parts = [e[s] for s in ("val", "corrections") if s in e]
        n = sum(p["n"] for p in parts)
        return sum(p["accuracy"] * p["n"] for p in parts) / n if n else 0.0

    gain = pooled(candidate) - pooled(serving)
    promote = gain >= min_gain
    reason = (f"accuracy {pooled(candidate):.3f} vs {pooled(serving):.3f} (gain {gain:+.3f} "
              f"{'>=' if promote else '<'} promoteIfGain {min_gain:+.3f})")
    return {"promote": promote, "gain": gain, "candidate_accuracy": pooled(candidate),
            "serving_accuracy": pooled(serving), "reason": reason}
