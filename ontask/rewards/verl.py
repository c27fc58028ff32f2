"""A verl-compatible custom reward: point verl's `custom_reward_function.path` at this file and
`.name` at `compute_score`.

verl passes no images to reward functions, so what the judge and the verifier need travels in
`extra_info`: the task, the window evidence (`windows`, a list or its JSON), and optionally the
judge's probability (`judge_p_on_task`, on every row the judge labelled), a human correction
(`correction`, the plain label a person gave) and the weights (`reward_weights`, default binary
0.3 / judge 0.5 / verifier 0.2; a scorer with nothing to say shares its weight out as
`Weights.available` does, as ontask's trainer does). Every exported row carries these keys.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from ontask.rewards.components import Weights, hybrid_reward


def _weights(extra: dict[str, Any]) -> Weights:
    raw = extra.get("reward_weights") or {}
    d = Weights()
    return Weights(
        float(raw.get("binary", d.binary)), float(raw.get("judge", d.judge)), float(raw.get("verifier", d.verifier))
    )


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
    reward = hybrid_reward(
        solution_str, ground_truth, _weights(extra), judge_p, verifier_p, extra.get("correction") or None
    )
    return reward.as_dict()


_CONFIG = None


def _config():
    global _CONFIG
    if _CONFIG is None:
        from ontask.verify.verifier import VerifierConfig

        _CONFIG = VerifierConfig.load()
    return _CONFIG
