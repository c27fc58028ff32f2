"""Pure functions: the judge's verdict as a probability from its answer's logprobs (the answer
tokens themselves are the student's, in ontask.models.answer)."""

from __future__ import annotations

from typing import Sequence

from ontask.models.answer import two_way_probability


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
