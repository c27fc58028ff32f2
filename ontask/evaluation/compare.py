"""Several systems side by side on the same labelled screenshots: students, the prompt
baseline (the judge model answering a long instruction by free text), the verifier alone, and
the hybrid (a student and the verifier averaged)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from PIL import Image

from ontask.data.dataset import row_windows
from ontask.evaluation.metrics import summary


@dataclass
class Item:
    image: Image.Image
    task: str
    windows: list[dict[str, Any]]
    label: str
    hard: bool = False


def items_of(ds, rows: list[dict[str, Any]]) -> list[Item]:
    return [Item(ds.image(r), r["extra_info"]["task"], row_windows(r), r["reward_model"]["ground_truth"],
                 bool(r["extra_info"]["hard"])) for r in rows]


def _summaries(sets: dict[str, list[Item]], p: dict[str, list[float]]) -> dict[str, Any]:
    return {s: summary([x.label for x in items], p[s], [x.hard for x in items]) for s, items in sets.items()}


def student_probabilities(student, sets: dict[str, list[Item]]
                          ) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """P(on-task) of each item, one request at a time as served, and each answer's latency in ms."""
    import time

    p: dict[str, list[float]] = {}
    latencies: dict[str, list[float]] = {}
    for s, items in sets.items():
        p[s], latencies[s] = [], []
        for x in items:
            t0 = time.perf_counter()
            p[s] += student.p_on_task([x.image], [x.task], [x.windows])
            latencies[s].append((time.perf_counter() - t0) * 1000)
    return p, latencies


def compare(sets: dict[str, list[Item]], students: dict[str, str], judge_uri: Optional[str] = None,
            hybrid_of: Optional[str] = None) -> dict[str, dict[str, Any]]:
    """{system: {slice: metrics summary}} for every system on every slice."""
    from ontask.serving.classify import PromptBaseline, StudentClassifier
    from ontask.verify import VerifierConfig, score_windows

    cfg = VerifierConfig.load()
    results: dict[str, dict[str, Any]] = {}
    if judge_uri:
        baseline = PromptBaseline.load(judge_uri)
        results["prompt baseline (judge, free text)"] = _summaries(sets, {
            s: baseline.p_on_task([x.image for x in items], [x.task for x in items], [x.windows for x in items])
            for s, items in sets.items()})
    verifier_p = {s: [score_windows(x.task, x.windows, cfg)[0] for x in items] for s, items in sets.items()}
    results["verifier alone"] = _summaries(sets, verifier_p)
    for name, uri in students.items():
        p, latencies = student_probabilities(StudentClassifier.load(uri), sets)
        results[name] = _summaries(sets, p)
        for s, items in sets.items():
            results[name][s]["latency_ms"] = summary([x.label for x in items], p[s],
                                                     latencies_ms=latencies[s])["latency_ms"]
        if name == hybrid_of:
            results[f"{name} + verifier (hybrid)"] = _summaries(
                sets, {s: [(a + b) / 2 for a, b in zip(p[s], verifier_p[s])] for s in sets})
    return results
