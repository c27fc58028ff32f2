"""Batch drawing: uniform without a curriculum, easy rows first with easy-first."""

import random

import pytest

from ontask.trainers.curriculum import draw_batch, hard_share


def test_none_is_the_uniform_draw_the_trainer_always_made():
    rows = list(range(20))
    assert draw_batch(rows, [r < 5 for r in rows], 6, "none", 0.0, random.Random(3)) == random.Random(3).sample(rows, 6)


def test_easy_first_starts_with_easy_rows_and_ends_at_the_datas_own_share():
    rows = list(range(40))
    hard = [r < 10 for r in rows]  # a quarter hard
    rng = random.Random(0)
    assert not any(hard[r] for r in draw_batch(rows, hard, 8, "easy-first", 0.0, rng))
    assert sum(hard[r] for r in draw_batch(rows, hard, 8, "easy-first", 0.25, rng)) == 1  # 8 * .25 * .5
    assert sum(hard[r] for r in draw_batch(rows, hard, 8, "easy-first", 0.9, rng)) == 2


def test_a_short_pool_is_topped_up_from_the_other():
    rows = list(range(6))
    hard = [True] * 5 + [False]  # one easy row, four wanted
    batch = draw_batch(rows, hard, 4, "easy-first", 0.0, random.Random(1))
    assert len(set(batch)) == 4 and 5 in batch


def test_an_unknown_curriculum_is_named_in_the_error():
    with pytest.raises(ValueError, match="hardest-first"):
        hard_share("hardest-first", 0.5, 0.5)  # type: ignore[arg-type]


def test_a_batch_is_always_distinct_rows_of_the_asked_size():
    draw = random.Random(7)
    for _ in range(500):
        n_rows, n, progress = draw.randint(1, 30), draw.randint(1, 40), draw.random()
        rows = list(range(n_rows))
        hard = [draw.random() < draw.random() for _ in rows]
        batch = draw_batch(rows, hard, n, "easy-first", progress, random.Random(draw.random()))
        assert len(batch) == min(n, n_rows) == len(set(batch)), (n_rows, n, progress, hard)
