"""Which prompts a training step draws: uniformly, or easy rows first with the share of hard
rows rising over the run.

A row is easy when the verifier's rules, reading its window evidence, already give its label
with confidence; hard when they give the other label or hesitate. Rows without window evidence
fall back on the dataset's hard-case flag. The rules, not the flag, come first because a
customer's screenshots carry no flags, and on the real-screens set every row names a family.

Pure functions of (rows, step, total steps, rng), so every rank of a distributed run draws the
same batch from the same seed.
"""

from __future__ import annotations

import random
from typing import Optional, Sequence, TypeVar, get_args

from ontask.api import Curriculum
from ontask.models.answer import ON

CURRICULA: tuple[str, ...] = get_args(Curriculum)

T = TypeVar("T")

# Verifier scores within this distance of 0.5 count as hesitation.
UNSURE_MARGIN = 0.15


def is_hard(label: str, verifier_p_on: Optional[float], flagged: bool) -> bool:
    """Whether a row is hard for the curriculum (see the module docstring).

    >>> is_hard("on-task", 0.9, True), is_hard("on-task", 0.6, False), is_hard("off-task", 0.9, False)
    (False, True, True)
    >>> is_hard("off-task", None, True)
    True
    """
    if verifier_p_on is None:
        return flagged
    p_label = verifier_p_on if label == ON else 1.0 - verifier_p_on
    return p_label < 0.5 + UNSURE_MARGIN


def hard_share(curriculum: Curriculum, natural_share: float, progress: float) -> float:
    """The share of hard rows a batch should hold at `progress` (0 at the first step, 1 at the
    last). easy-first rises linearly from 0 to the data's own share at half the run and keeps
    that share afterwards, so the second half trains on the data as it is.

    >>> hard_share("easy-first", 0.4, 0.0), hard_share("easy-first", 0.4, 0.25), hard_share("easy-first", 0.4, 0.9)
    (0.0, 0.2, 0.4)
    >>> hard_share("none", 0.4, 0.0)
    0.4
    """
    if curriculum == "none":
        return natural_share
    if curriculum == "easy-first":
        return natural_share * min(1.0, max(0.0, 2.0 * progress))
    raise ValueError(f"unknown curriculum {curriculum!r}: expected one of {', '.join(CURRICULA)}")


def draw_batch(
    rows: Sequence[T], hard: Sequence[bool], n: int, curriculum: Curriculum, progress: float, rng: random.Random
) -> list[T]:
    """n rows without replacement. With "none", a uniform sample (the same draw as
    ``rng.sample``); with "easy-first", round(n * hard_share) hard rows and the rest easy ones,
    topped up from the other pool when one runs short."""
    n = min(n, len(rows))
    if curriculum == "none":
        return rng.sample(list(rows), n)
    hard_rows = [r for r, h in zip(rows, hard) if h]
    easy_rows = [r for r, h in zip(rows, hard) if not h]
    want_hard = round(n * hard_share(curriculum, len(hard_rows) / max(1, len(rows)), progress))
    k_hard = min(len(hard_rows), max(want_hard, n - len(easy_rows)))
    batch = rng.sample(hard_rows, k_hard) + rng.sample(easy_rows, n - k_hard)
    rng.shuffle(batch)
    return batch
