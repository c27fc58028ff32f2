"""GRPO training of the student: pure objective functions, shared-prefix rollouts, the loop."""

from ontask.trainers.grpo import (
    entropy,
    group_advantages,
    groups_with_signal,
    grpo_objective,
    kl_low_var,
    masked_mean,
    policy_loss,
)
from ontask.trainers.rollout import completion_logprobs, sample_group

__all__ = [
    "completion_logprobs",
    "entropy",
    "group_advantages",
    "groups_with_signal",
    "grpo_objective",
    "kl_low_var",
    "masked_mean",
    "policy_loss",
    "sample_group",
]
