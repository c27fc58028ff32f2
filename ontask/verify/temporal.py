"""Temporal consistency over a session's consecutive screenshots: a lone off-task frame inside
an on-task run is down-weighted (a glance at a notification is not a context switch)."""

from __future__ import annotations

from typing import Sequence

from ontask.labels import ON_TASK_FROM


def smooth_sequence(scores: Sequence[float], neighbour_weight: float = 0.5) -> list[float]:
    """Scores (P(on-task)) of consecutive frames, with each lone off-task frame between two
    on-task frames pulled toward its neighbours' mean by neighbour_weight."""
    out = list(scores)
    for i in range(1, len(scores) - 1):
        if scores[i] < ON_TASK_FROM <= scores[i - 1] and scores[i + 1] >= ON_TASK_FROM:
            mean = (scores[i - 1] + scores[i + 1]) / 2
            out[i] = (1 - neighbour_weight) * scores[i] + neighbour_weight * mean
    return out


def adjust_with_history(history: Sequence[float], current: float, neighbour_weight: float = 0.5) -> float:
    """Streaming form: an off-task frame right after an on-task run (at least 2 frames) is
    pulled toward that run's mean; history is the session's previous scores, oldest first."""
    recent = list(history)[-2:]
    if current < ON_TASK_FROM and len(recent) == 2 and all(s >= ON_TASK_FROM for s in recent):
        mean = sum(recent) / len(recent)
        return (1 - neighbour_weight) * current + neighbour_weight * mean
    return current
