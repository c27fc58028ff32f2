"""Several systems side by side on the same labelled screenshots: students, the prompt
baseline (the judge model answering a long instruction by free text), the verifier alone, and
the hybrid (a student and the verifier, the student's weight fitted on held-out rows)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Union

from PIL import Image

from ontask.data.dataset import row_meta, row_windows
from ontask.evaluation.hybrid import cross_fitted
from ontask.evaluation.metrics import summary
from ontask.labels import label_of
from ontask.models.hybrid import HybridFit
from ontask.verify import VerifierConfig, builtin_verifier_config, model_verifier_config, score_windows


@dataclass
class Item:
    image: Image.Image
    task: str
    windows: list[dict[str, Any]]
    label: str
    hard: bool = False
    groups: dict[str, str] = field(default_factory=dict)  # breakdowns: app, hard-case family


def _groups(row: dict[str, Any], windows: list[dict[str, Any]]) -> dict[str, str]:
    focused = next((w for w in windows if w.get("focused")), None)
    app = row_meta(row).get("app") or (focused or {}).get("app") or "-"
    return {"app": str(app), "family": row["extra_info"].get("hard_kind") or "-"}


def items_of(ds, rows: list[dict[str, Any]]) -> list[Item]:
    out = []
    for r in rows:
        windows = row_windows(r)
        out.append(
            Item(
                ds.image(r),
                r["extra_info"]["task"],
                windows,
                r["reward_model"]["ground_truth"],
                bool(r["extra_info"]["hard"]),
                _groups(r, windows),
            )
        )
    return out


def breakdown(items: list[Item], p: dict[str, list[float]], key: str) -> dict[str, dict[str, tuple[float, int]]]:
    """{group: {system: (accuracy, n)}} of one slice's items, grouped by items' `groups[key]`.

    Example:
        >>> xs = [Item(None, "t", [], "on-task", groups={"app": "vim"}),
        ...       Item(None, "t", [], "off-task", groups={"app": "vim"})]
        >>> breakdown(xs, {"verifier": [0.9, 0.8]}, "app")
        {'vim': {'verifier': (0.5, 2)}}
    """
    out: dict[str, dict[str, tuple[float, int]]] = {}
    for name, probs in p.items():
        hits: dict[str, list[int]] = {}
        for x, q in zip(items, probs):
            g = x.groups.get(key, "-")
            hits.setdefault(g, []).append(int(label_of(q) == x.label))
        for g, h in hits.items():
            out.setdefault(g, {})[name] = (sum(h) / len(h), len(h))
    return dict(sorted(out.items()))


def _summaries(sets: dict[str, list[Item]], p: dict[str, list[float]]) -> dict[str, Any]:
    return {s: summary([x.label for x in items], p[s], [x.hard for x in items]) for s, items in sets.items()}


def student_probabilities(
    student, sets: dict[str, list[Item]]
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


def verifier_probabilities(config: VerifierConfig, sets: dict[str, list[Item]]) -> dict[str, list[float]]:
    """The verifier's P(on-task) of each item under `config`'s rules."""
    return {s: [score_windows(x.task, x.windows, config)[0] for x in items] for s, items in sets.items()}


def served_probabilities(
    hybrid: Optional[HybridFit],
    verifier_config: VerifierConfig,
    p_student: dict[str, list[float]],
    sets: dict[str, list[Item]],
) -> dict[str, list[float]]:
    """P(on-task) as the predictor answers it: the hybrid with the verifier (scoring with the
    model's rules, `verifier_config`) where the model carries a fit and the row has window
    evidence, the student alone otherwise (HybridFit.combine)."""
    if hybrid is None:
        return p_student
    return {
        s: [
            hybrid.combine(q, score_windows(x.task, x.windows, verifier_config)[0] if x.windows else None)
            for x, q in zip(items, p_student[s])
        ]
        for s, items in sets.items()
    }


def compare(
    sets: dict[str, list[Item]],
    students: dict[str, str],
    judge_uri: Optional[str] = None,
    hybrid_of: Union[str, Sequence[str], None] = None,
    pixels: bool = False,
    probabilities: Optional[dict[str, dict[str, list[float]]]] = None,
) -> dict[str, dict[str, Any]]:
    """{system: {slice: metrics summary}} for every system on every slice.

    `hybrid_of` (a student's name, or several) also get a row as served, mixed with the verifier.
    The verifier (alone, and in the prompt baseline's task words) scores with the rules of the
    (first) `hybrid_of` model (the built-in rules without one); every student reads its prompts,
    and its hybrid scores, with its own rules.
    pixels: also the verifier reading the screenshot alone (OCR), as if no window evidence came.
    probabilities: when given, filled with {system: {slice: P(on-task) per item}}."""
    from ontask.models.classifier import PromptBaseline, StudentClassifier
    from ontask.models.loading import local_copy

    hybrids = [hybrid_of] if isinstance(hybrid_of, str) else list(hybrid_of or [])
    cfg = model_verifier_config(local_copy(students[hybrids[0]])) if hybrids else builtin_verifier_config()
    results: dict[str, dict[str, Any]] = {}
    if judge_uri:
        baseline = PromptBaseline.load(judge_uri, cfg)
        results["prompt baseline (judge, free text)"] = _summaries(
            sets,
            {
                s: baseline.p_on_task([x.image for x in items], [x.task for x in items], [x.windows for x in items])
                for s, items in sets.items()
            },
        )
    verifier_p = verifier_probabilities(cfg, sets)
    results["verifier alone"] = _summaries(sets, verifier_p)
    kept = probabilities if probabilities is not None else {}
    kept["verifier alone"] = verifier_p
    if pixels:
        from ontask.verify.ocr import TitleReader

        reader = TitleReader()
        seen: dict[str, list[dict[str, Any]]] = {}  # one OCR pass per screenshot, whatever its tasks

        def read(image: Image.Image) -> list[dict[str, Any]]:
            key = hashlib.sha1(image.tobytes()).hexdigest()
            if key not in seen:
                seen[key] = reader.windows(image)
            return seen[key]

        ocr_p = {s: [score_windows(x.task, read(x.image), cfg)[0] for x in items] for s, items in sets.items()}
        results["verifier from pixels (OCR)"] = _summaries(sets, ocr_p)
        kept["verifier from pixels (OCR)"] = ocr_p
    for name, uri in students.items():
        student = StudentClassifier.load(uri)
        p, latencies = student_probabilities(student, sets)
        results[name] = _summaries(sets, p)
        kept[name] = p
        for s, items in sets.items():
            results[name][s]["latency_ms"] = summary([x.label for x in items], p[s], latencies_ms=latencies[s])[
                "latency_ms"
            ]
        if name in hybrids:
            # As served: the weight `ontask train` fitted on its validation rows. A model without
            # that record gets its weight fitted on the other half of each slice (cross-fitting).
            # Either way a student that learned nothing gets none, and no row scores a weight it chose.
            hybrid, weights = {}, {}
            for s, items in sets.items():
                if student.hybrid is not None:
                    hybrid[s] = served_probabilities(student.hybrid, student.verifier_config, {s: p[s]}, {s: items})[s]
                    weights[s] = [student.hybrid.student_weight]
                else:
                    hybrid[s], weights[s] = cross_fitted(p[s], verifier_p[s], [x.label for x in items])
            results[f"{name} + verifier (hybrid)"] = _summaries(sets, hybrid)
            for s in sets:
                results[f"{name} + verifier (hybrid)"][s]["student_weights"] = weights[s]
                results[f"{name} + verifier (hybrid)"][s]["weight_from"] = (
                    student.hybrid.fitted_on if student.hybrid is not None else "cross-fitted on this slice"
                )
            kept[f"{name} + verifier (hybrid)"] = hybrid
    return results
