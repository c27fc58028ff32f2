"""A verl-compatible custom reward: point verl's `custom_reward_function.path` at this file and
`.name` at `compute_score`.

verl passes no images to reward functions, so what the judge and the verifier need travels in
`extra_info`: the task, the window evidence (`windows`, a list or its JSON), and optionally a
precomputed judge probability (`judge_p_on_task`), a human correction (`correction`) and the
weights (`reward_weights`, default binary 0.3 / judge 0.5 / verifier 0.2; when no judge
probability is given, its weight is spread over the others).
"""

from __future__ import annotations

import json
from typing import Any, Optional

from ontask.rewards.components import Weights, hybrid_reward


def _weights(extra: dict[str, Any], have_judge: bool) -> Weights:
    raw = extra.get("reward_weights") or {}
    w = Weights(float(raw.get("binary", 0.3)), float(raw.get("judge", 0.5)), float(raw.get("verifier", 0.2)))
    if not have_judge and w.judge:
        rest = w.binary + w.verifier
        if rest > 0:
            return Weights(w.binary / rest, 0.0, w.verifier / rest)
        return Weights(1.0, 0.0, 0.0)
    return w


def compute_score(
    data_source: str, solution_str: str, ground_truth: str, extra_info: Optional[dict] = None, **kwargs: Any
) -> dict[str, float]:
    """verl's reward signature; returns {"score": ..., "binary", "judge", "verifier", ...}."""
    extra = dict(extra_info or {})
    windows = extra.get("windows") or []
    if isinstance(windows, str):
        windows = json.loads(windows or "[]")
    verifier_p = None
    task = extra.get("task")
    if task:
        from ontask.verify.verifier import score_windows

        verifier_p, _ = score_windows(task, windows, _config())
    judge_p = extra.get("judge_p_on_task")
    judge_p = float(judge_p) if judge_p is not None else None
    weights = _weights(extra, judge_p is not None)
    reward = hybrid_reward(solution_str, ground_truth, weights, judge_p, verifier_p, extra.get("correction"))
    return reward.as_dict()


_CONFIG = None


def _config():
    global _CONFIG
    if _CONFIG is None:
        from ontask.verify.verifier import VerifierConfig

        _CONFIG = VerifierConfig.load()
    return _CONFIG
