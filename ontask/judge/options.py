"""Pure functions: a verdict as a probability from the logits of the answer tokens."""

from __future__ import annotations

import math
from typing import Sequence


def option_token_ids(tokenize, options: tuple[str, str]) -> tuple[list[int], int, int]:
    """(common prefix ids, first distinguishing id of option 0, of option 1).

    The two answers may share leading tokens (a BPE may split "on-task" and "off-task" after
    a shared piece); the verdict is read where they first differ, after feeding the prefix.
    """
    a, b = tokenize(options[0]), tokenize(options[1])
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    if n == len(a) or n == len(b):
        raise ValueError(f"options {options!r} are not distinguishable by their tokens ({a} vs {b})")
    return a[:n], a[n], b[n]


def two_way_probability(logit_a: float, logit_b: float) -> float:
    """P(option a) when the answer is one of a or b: softmax over just the two logits."""
    m = max(logit_a, logit_b)
    ea, eb = math.exp(logit_a - m), math.exp(logit_b - m)
    return ea / (ea + eb)


def from_logprobs(top: Sequence[tuple[str, float]], option_a: str, option_b: str, floor: float = -30.0) -> float:
    """P(option a) from an OpenAI-style top-logprobs list of (token, logprob) at the first
    answer position; a token missing from the list gets the floor logprob."""

    def best(option: str) -> float:
        found = [lp for tok, lp in top if tok.strip() and option.startswith(tok.strip())]
        return max(found) if found else floor

    return two_way_probability(best(option_a), best(option_b))


def bidirectional(p_forward: float, p_swapped: float) -> float:
    """The average of P(on-task) asked in both option orders: cancels a first-position bias."""
    return (p_forward + p_swapped) / 2.0
