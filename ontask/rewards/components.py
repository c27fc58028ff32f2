"""Reward components as pure functions: binary correctness, judge, verifier, human override,
and their weighted hybrid."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ontask.api import RewardWeights
from ontask.labels import OFF, ON


def parse_answer(text: str) -> Optional[str]:
    """The label a sampled answer gives: exactly one of the two answers (surrounding whitespace
    aside), the format serving reads from the answers' first tokens; anything else is malformed
    (None), so the policy is never paid for text that serving would not read as its label.

    >>> parse_answer(" on-task "), parse_answer("The person is on-task"), parse_answer("On-Task")
    ('on-task', None, None)
    """
    t = (text or "").strip()
    return t if t in (ON, OFF) else None


def binary_reward(answer: Optional[str], ground_truth: str) -> float:
    """1 when the parsed answer equals the label, else 0 (a malformed answer gets 0)."""
    return 1.0 if answer is not None and answer == ground_truth else 0.0


def probability_reward(answer: Optional[str], p_on_task: Optional[float]) -> float:
    """The probability a scorer (judge or verifier) gives to the sampled answer."""
    if answer is None or p_on_task is None:
        return 0.0
    return p_on_task if answer == ON else 1.0 - p_on_task


@dataclass(frozen=True)
class Weights:
    binary: float
    judge: float
    verifier: float

    @classmethod
    def from_spec(cls, weights: Optional[RewardWeights] = None) -> "Weights":
        """The spec's training.rewardWeights (its defaults when none are given: the one place
        the default weights are written).

        >>> Weights.from_spec(RewardWeights(binary=1.0, judge=0.0, verifier=0.0))
        Weights(binary=1.0, judge=0.0, verifier=0.0)
        """
        w = weights or RewardWeights()
        return cls(w.binary, w.judge, w.verifier)

    def available(self, judge: bool, verifier: bool) -> "Weights":
        """The weights for a row where only some scorers have a say: a missing scorer's weight is
        shared out over the others in proportion to theirs (all to the binary reward when none is
        left). The one rule for ontask's trainer and the verl reward.

        >>> Weights(0.3, 0.5, 0.2).available(judge=False, verifier=True)
        Weights(binary=0.6, judge=0.0, verifier=0.4)
        >>> Weights(0.0, 1.0, 0.0).available(judge=False, verifier=False)
        Weights(binary=1.0, judge=0.0, verifier=0.0)
        """
        j = self.judge if judge else 0.0
        v = self.verifier if verifier else 0.0
        total = self.binary + j + v
        if total <= 0:
            return Weights(1.0, 0.0, 0.0)
        scale = (self.binary + self.judge + self.verifier) / total
        return Weights(round(self.binary * scale, 12), round(j * scale, 12), round(v * scale, 12))


@dataclass(frozen=True)
class Reward:
    score: float
    binary: float
    judge: float
    verifier: float
    malformed: bool
    overridden: bool

    def as_dict(self) -> dict:
        return {
            "score": self.score,
            "binary": self.binary,
            "judge": self.judge,
            "verifier": self.verifier,
            "malformed": float(self.malformed),
            "overridden": float(self.overridden),
        }


def hybrid_reward(
    answer_text: str,
    ground_truth: str,
    weights: Weights,
    judge_p_on: Optional[float] = None,
    verifier_p_on: Optional[float] = None,
    correction: Optional[str] = None,
) -> Reward:
    """Weighted sum of the components. A human correction for this sample wins over all:
    the score is then 1 for agreeing with it and 0 otherwise. A missing judge or verifier
    probability shares its weight out over the others (Weights.available)."""
    weights = weights.available(judge_p_on is not None, verifier_p_on is not None)
    answer = parse_answer(answer_text)
    b = binary_reward(answer, correction or ground_truth)
    j = probability_reward(answer, judge_p_on)
    v = probability_reward(answer, verifier_p_on)
    if correction is not None:
        return Reward(b, b, j, v, answer is None, True)
    score = weights.binary * b + weights.judge * j + weights.verifier * v
    return Reward(score, b, j, v, answer is None, False)
