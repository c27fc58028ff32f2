"""Rewards for GRPO: binary, judge, verifier, human override, hybrid; and verl's entry point."""

from ontask.rewards.components import Reward, Weights, binary_reward, hybrid_reward, parse_answer, probability_reward
from ontask.rewards.verl import compute_score

__all__ = ["Reward", "Weights", "binary_reward", "compute_score", "hybrid_reward", "parse_answer", "probability_reward"]
