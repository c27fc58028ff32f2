"""Bootstrap labels for a customer's unlabelled screenshots: the judge's and the verifier's
P(on-task), weighted; a row neither is sure enough about stays unlabelled (and is not trained on)."""

from __future__ import annotations

from typing import Any, NamedTuple, Optional

from ontask.labels import label_of
from ontask.models.hybrid import mix


class Labelled(NamedTuple):
    """A labeller's answer: the fused label, who gave it, and the judge's own P(on-task) (None
    where no judge took part), which the student's reward learns from."""

    label: str
    source: str
    judge_p_on: Optional[float] = None


def judge_verifier_labeller(judge=None, verifier=None, judge_weight: float = 0.5, min_confidence: float = 0.6):
    """A labeller for `prepare`: (image, task, windows) -> Labelled or None. `judge` is
    (image, task, windows) -> P(on-task) (ontask.judge.remote.image_judge: in-process or a
    judge service)."""
    if judge is None and verifier is None:
        raise ValueError("a labeller needs the judge, the verifier or both")
    if judge is None:
        judge_weight = 0.0
    elif verifier is None:
        judge_weight = 1.0

    def label(image, task: str, windows: list[dict[str, Any]]) -> Optional[Labelled]:
        # Only a scorer with a say is asked (its P is 0.0 otherwise, weighted by 0).
        p_verifier = verifier.verify(task, image, windows or None).score if judge_weight < 1 else 0.0
        p_judge = judge(image, task, windows or None) if judge_weight > 0 else None
        p = mix(p_judge or 0.0, p_verifier, judge_weight)
        if max(p, 1 - p) < min_confidence:
            return None
        return Labelled(label_of(p), "judge" if judge_weight > 0 else "verifier", p_judge)

    return label
