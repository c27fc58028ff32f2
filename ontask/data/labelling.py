"""Bootstrap labels for a customer's unlabelled screenshots: the judge's and the verifier's
P(on-task), weighted; a row neither is sure enough about stays unlabelled (and is not trained on)."""

from __future__ import annotations

from typing import Any, NamedTuple, Optional

from ontask.labels import OFF, ON


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
        p, p_judge = 0.0, None
        if verifier is not None and judge_weight < 1:
            p += (1 - judge_weight) * verifier.verify(task, image, windows or None).score
        if judge is not None and judge_weight > 0:
            p_judge = judge(image, task, windows or None)
            p += judge_weight * p_judge
        if max(p, 1 - p) < min_confidence:
            return None
        return Labelled(ON if p >= 0.5 else OFF, "judge" if judge_weight > 0 else "verifier", p_judge)

    return label
