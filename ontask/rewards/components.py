"""Reward components as pure functions: binary correctness, judge, verifier, human override,
and their weighted hybrid."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from ontask.labels import OFF, ON

_ON_RE = re.compile(r"\bon[\s_-]?task\b")
_OFF_RE = re.compile(r"\boff[\s_-]?task\b")


def parse_answer(text: str) -> Optional[str]:
    """The label a sampled answer gives, or None when it is malformed (neither, or both)."""
    t = (text or "").lower()
    on, off = bool(_ON_RE.search(t)), bool(_OFF_RE.search(t))
    if on == off:
        return None
    return ON if on else OFF


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
    binary: float = 0.3
    judge: float = 0.5
    verifier: float = 0.2


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
    probability gives that component 0 (its weight should then be 0 too)."""
    answer = parse_answer(answer_text)
    b = binary_reward(answer, correction or ground_truth)
    j = probability_reward(answer, judge_p_on)
    v = probability_reward(answer, verifier_p_on)
    if correction is not None:
        return Reward(b, b, j, v, answer is None, True)
    score = weights.binary * b + weights.judge * j + weights.verifier * v
    return Reward(score, b, j, v, answer is None, False)
