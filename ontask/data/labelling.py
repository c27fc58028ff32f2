"""Bootstrap labels for a customer's unlabelled screenshots: the judge's and the verifier's
P(on-task), weighted; a row neither is sure enough about stays unlabelled (and is not trained on)."""

from __future__ import annotations

from typing import Any, Optional

from ontask.labels import OFF, ON


def judge_verifier_labeller(judge=None, verifier=None, judge_weight: float = 0.5, min_confidence: float = 0.6):
    """A labeller for `prepare`: (image, task, windows) -> (label, source) or None. `judge` is
    (image, task, windows) -> P(on-task) (ontask.judge.remote.image_judge: in-process or a
    judge service)."""
    if judge is None and verifier is None:
        raise ValueError("a labeller needs the judge, the verifier or both")
    if judge is None:
        judge_weight = 0.0
    elif verifier is None:
        judge_weight = 1.0

    def label(image, task: str, windows: list[dict[str, Any]]) -> Optional[tuple[str, str]]:
        p = 0.0
        if verifier is not None and judge_weight < 1:
            p += (1 - judge_weight) * verifier.verify(task, image, windows or None).score
        if judge is not None and judge_weight > 0:
            p += judge_weight * judge(image, task, windows or None)
        if max(p, 1 - p) < min_confidence:
            return None
        return (ON if p >= 0.5 else OFF), ("judge" if judge_weight > 0 else "verifier")

    return label
