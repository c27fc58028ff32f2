"""A verl-compatible custom reward: point verl's `custom_reward_function.path` at this file and
`.name` at `compute_score`.

verl passes no images to reward functions, so what the judge and the verifier need travels in
`extra_info`: the task, the window evidence (`windows`, a list or its JSON), and optionally the
judge's probability (`judge_p_on_task`, on every row the judge labelled), a human correction
(`correction`, the plain label a person gave) and the weights (`reward_weights`, default: the
spec's training.rewardWeights defaults; a scorer with nothing to say shares its weight out as
`Weights.available` does, as ontask's trainer does). Every exported row carries these keys.

The verifier's rules come from the config verl was started with: `ontask export verl` writes the
rules it exports with beside its config and names that file in
`custom_reward_function.reward_kwargs.verifier_config`, which verl passes to every call; without
it the verifier scores with the built-in rules.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Optional

from ontask.api import RewardWeights
from ontask.rewards.components import Weights, hybrid_reward
from ontask.verify import VerifierConfig, builtin_verifier_config, read_verifier_config, score_windows


def _weights(extra: dict[str, Any]) -> Weights:
    raw = extra.get("reward_weights") or {}
    d = RewardWeights()
    return Weights(
        float(raw.get("binary", d.binary)), float(raw.get("judge", d.judge)), float(raw.get("verifier", d.verifier))
    )


@lru_cache(maxsize=4)
def _rules(path: Optional[str]) -> VerifierConfig:
    # verl calls the reward once per sampled answer: the named file is parsed once, not each time.
    return builtin_verifier_config() if path is None else read_verifier_config(path)


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: str,
    extra_info: Optional[dict] = None,
    verifier_config: Optional[str] = None,
    **kwargs: Any,
) -> dict[str, float]:
    """verl's reward signature; returns {"score": ..., "binary", "judge", "verifier", ...}.
    `verifier_config`: the rules file the export names in its reward_kwargs (None: the built-in
    rules)."""
    extra = dict(extra_info or {})
    windows = extra.get("windows") or []
    if isinstance(windows, str):
        windows = json.loads(windows or "[]")
    verifier_p = None
    task = extra.get("task")
    if task:
        verifier_p, _ = score_windows(task, windows, _rules(verifier_config))
    judge_p = extra.get("judge_p_on_task")
    judge_p = float(judge_p) if judge_p is not None else None
    reward = hybrid_reward(
        solution_str, ground_truth, _weights(extra), judge_p, verifier_p, extra.get("correction") or None
    )
    return reward.as_dict()
