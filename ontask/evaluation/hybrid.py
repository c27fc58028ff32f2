"""Fitting the hybrid of the student and the verifier (ontask.models.hybrid) on labelled held-out
rows: the student's temperature by log-loss, then its weight w, the best accuracy first (so that
a student that learned nothing gets no weight and the hybrid is never far below the better of its
parts) and among those by log-loss (so the served probability is calibrated). Pure functions."""

from __future__ import annotations

import math
import random
from typing import Sequence

from ontask.evaluation.metrics import accuracy
from ontask.labels import ON, label_of
from ontask.models.hybrid import HybridFit, calibrated, mix

GRID = tuple(i / 10 for i in range(11))
TEMPERATURES = (0.25, 0.35, 0.5, 0.7, 1.0, 1.4, 2.0, 2.8, 4.0, 5.6, 8.0)


def log_loss(p: Sequence[float], truth: Sequence[str]) -> float:
    """Mean negative log-likelihood of the labels under P(on-task).

    >>> round(log_loss([0.9, 0.2], ["on-task", "off-task"]), 4)
    0.1643
    """
    eps = 1e-6
    return -sum(math.log(min(max(q if t == ON else 1 - q, eps), 1.0)) for q, t in zip(p, truth)) / max(1, len(p))


def _mixed(p_student: Sequence[float], p_verifier: Sequence[float], w: float) -> list[float]:
    return [mix(s, v, w) for s, v in zip(p_student, p_verifier)]


def fit_temperature(p_student: Sequence[float], truth: Sequence[str]) -> float:
    """The student's temperature on a grid, by log-loss (1.0 on a tie: left as it is).

    >>> fit_temperature([0.99, 0.01, 0.99, 0.01], ["on-task", "off-task", "off-task", "on-task"])  # wrong half the time
    8.0
    """
    return min(
        TEMPERATURES, key=lambda t: (round(log_loss([calibrated(q, t) for q in p_student], truth), 9), abs(t - 1.0))
    )


def fit_weight(p_student: Sequence[float], p_verifier: Sequence[float], truth: Sequence[str]) -> float:
    """The student's weight on a grid of tenths: 0 unless some weight answers more rows right than
    the verifier alone (the verifier is trusted unless the student adds right answers); else,
    among the weights with the best accuracy, the one with the lowest log-loss.

    Example:
        >>> truth = ["on-task", "off-task", "on-task", "off-task"]
        >>> fit_weight([0.9, 0.9, 0.9, 0.9], [0.8, 0.2, 0.3, 0.4], truth)  # a student that says one label
        0.0
        >>> fit_weight([0.9, 0.1, 0.8, 0.2], [0.8, 0.2, 0.3, 0.4], truth)  # one that knows the third row
        1.0
    """

    def hits(w: float) -> int:
        return sum(label_of(q) == t for q, t in zip(_mixed(p_student, p_verifier, w), truth))

    best = max(hits(w) for w in GRID)
    if hits(0.0) == best:
        return 0.0
    return min(
        (w for w in GRID if hits(w) == best),
        key=lambda w: (round(log_loss(_mixed(p_student, p_verifier, w), truth), 9), w),
    )


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
            out[i] = mix(p_student[i], p_verifier[i], w)
    return out, weights


def _accuracy(p: Sequence[float], truth: Sequence[str]) -> float:
    return accuracy(truth, [label_of(q) for q in p])


def fit_hybrid(
    p_student: Sequence[float], p_verifier: Sequence[float], truth: Sequence[str], fitted_on: str
) -> HybridFit:
    """Fit the student's temperature and weight on these rows and record what each part scores
    on them (and the hybrid's log-loss).

    Example:
        >>> f = fit_hybrid([0.9, 0.9], [0.8, 0.2], ["on-task", "off-task"], "d:v1 val")
        >>> f.student_weight, f.accuracy["verifier"]
        (0.0, 1.0)
    """
    t = fit_temperature(p_student, truth) if truth else 1.0
    p_cal = [calibrated(q, t) for q in p_student]
    w = fit_weight(p_cal, p_verifier, truth) if truth else 0.0
    return HybridFit(
        student_weight=w,
        student_temperature=t,
        fitted_on=fitted_on,
        rows=len(truth),
        accuracy={
            "student": _accuracy(p_student, truth),
            "verifier": _accuracy(p_verifier, truth),
            "hybrid": _accuracy(_mixed(p_cal, p_verifier, w), truth),
        },
    )
