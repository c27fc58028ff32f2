"""Fitting the hybrid of the student and the verifier (ontask.models.hybrid): the student's weight
w, fitted on labelled rows, so that a student that learned nothing gets no weight and the hybrid
is never far below the better of its parts. Pure functions."""

from __future__ import annotations

import random
from typing import Sequence

from ontask.evaluation.metrics import accuracy
from ontask.labels import ON, label_of
from ontask.models.hybrid import HybridFit, mix

GRID = tuple(i / 10 for i in range(11))


def fit_weight(p_student: Sequence[float], p_verifier: Sequence[float], truth: Sequence[str]) -> float:
    """The student's weight on a grid of tenths: the smallest weight with the best accuracy (the
    verifier is trusted unless the student adds right answers).

    Example:
        >>> truth = ["on-task", "off-task", "on-task", "off-task"]
        >>> fit_weight([0.9, 0.9, 0.9, 0.9], [0.8, 0.2, 0.3, 0.4], truth)  # a student that says one label
        0.0
        >>> fit_weight([0.9, 0.1, 0.8, 0.2], [0.8, 0.2, 0.3, 0.4], truth)  # one that knows the third row
        0.4
    """

    def score(w: float) -> tuple[float, float]:
        p = mix(p_student, p_verifier, w)
        return (-sum((q >= 0.5) == (t == ON) for q, t in zip(p, truth)), w)

    return min(GRID, key=score)


def cross_fitted(
    p_student: Sequence[float], p_verifier: Sequence[float], truth: Sequence[str], folds: int = 2
) -> tuple[list[float], list[float]]:
    """Hybrid probabilities where each row's weight was fitted on the other folds, so the figure is
    not measured on the rows that chose it; and the fold weights. Folds are a seeded shuffle, not
    positions: datasets list a screenshot's on-task and off-task rows next to each other, and
    folds by parity would fit on one label and score the other (measured: 0.64 instead of 0.93)."""
    n = len(truth)
    order = list(range(n))
    random.Random(0).shuffle(order)
    fold_of = {i: pos % folds for pos, i in enumerate(order)}
    out = [0.0] * n
    weights = []
    for k in range(folds):
        fit = [i for i in range(n) if fold_of[i] != k]
        held = [i for i in range(n) if fold_of[i] == k]
        w = (
            fit_weight([p_student[i] for i in fit], [p_verifier[i] for i in fit], [truth[i] for i in fit])
            if fit
            else 0.0
        )
        weights.append(w)
        for i in held:
            out[i] = w * p_student[i] + (1 - w) * p_verifier[i]
    return out, weights


def _accuracy(p: Sequence[float], truth: Sequence[str]) -> float:
    return accuracy(truth, [label_of(q) for q in p])


def fit_hybrid(
    p_student: Sequence[float], p_verifier: Sequence[float], truth: Sequence[str], fitted_on: str
) -> HybridFit:
    """Fit the weight on these rows and record what each part scores on them.

    Example:
        >>> f = fit_hybrid([0.9, 0.9], [0.8, 0.2], ["on-task", "off-task"], "d:v1 val")
        >>> f.student_weight, f.accuracy["verifier"]
        (0.0, 1.0)
    """
    w = fit_weight(p_student, p_verifier, truth) if truth else 0.0
    return HybridFit(
        student_weight=w,
        fitted_on=fitted_on,
        rows=len(truth),
        accuracy={
            "student": _accuracy(p_student, truth),
            "verifier": _accuracy(p_verifier, truth),
            "hybrid": _accuracy(mix(p_student, p_verifier, w), truth),
        },
    )
