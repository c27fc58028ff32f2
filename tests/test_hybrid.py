"""The hybrid's student weight: fitted on held-out rows, none for a student that learned nothing."""

from __future__ import annotations

import random

from ontask.evaluation.hybrid import cross_fitted, fit_weight


def _accuracy(p, truth):
    return sum((q >= 0.5) == (t == "on-task") for q, t in zip(p, truth)) / len(truth)


class TestCrossFitted:
    def test_a_student_that_says_one_label_gets_no_weight_even_when_rows_come_in_label_pairs(self):
        # Datasets list each screenshot's on-task row next to its off-task row: folds by position
        # would fit on one label and score the other.
        truth = ["on-task", "off-task"] * 40
        rng = random.Random(1)
        verifier = [0.8 if t == "on-task" else 0.45 for t in truth]  # right, if narrowly on off-task rows
        verifier[:6] = [0.4, 0.6, 0.4, 0.6, 0.4, 0.6]  # the verifier's few misses
        student = [0.99 - 0.02 * rng.random() for _ in truth]  # "on-task", whatever the screen
        hybrid, weights = cross_fitted(student, verifier, truth)
        assert weights == [0.0, 0.0]
        assert _accuracy(hybrid, truth) == _accuracy(verifier, truth)

    def test_a_student_that_knows_what_the_verifier_misses_gets_weight_and_the_hybrid_beats_both(self):
        truth = ["on-task", "off-task"] * 40
        verifier = [0.8 if t == "on-task" else 0.3 for t in truth]
        verifier[::8] = [0.4] * len(verifier[::8])  # the verifier misses every fourth on-task row
        student = [0.7 if t == "on-task" else 0.45 for t in truth]
        student[1::16] = [0.6] * len(student[1::16])  # the student misses other rows
        hybrid, weights = cross_fitted(student, verifier, truth)
        assert all(w > 0 for w in weights)
        assert _accuracy(hybrid, truth) > max(_accuracy(student, truth), _accuracy(verifier, truth))


def test_fit_weight_prefers_the_verifier_on_a_tie():
    truth = ["on-task", "off-task"]
    assert fit_weight([0.9, 0.1], [0.9, 0.1], truth) == 0.0


class TestServedProbabilities:
    """What the promotion gate compares is what the predictor answers."""

    def _items(self):
        from ontask.evaluation.compare import Item

        youtube = [{"app": "Firefox", "title": "Cat videos - YouTube", "url": None, "focused": True}]
        return [
            Item(None, "Write the quarterly sales report", youtube, "off-task"),
            Item(None, "Write the quarterly sales report", [], "on-task"),  # no window evidence
        ]

    def test_a_student_without_weight_answers_as_the_verifier_and_alone_where_it_has_no_evidence(self):
        from ontask.evaluation.compare import served_probabilities
        from ontask.models.hybrid import HybridFit
        from ontask.verify import builtin_verifier_config

        items = self._items()
        fit = HybridFit(student_weight=0.0, fitted_on="d:v1 val", rows=10, accuracy={})
        served = served_probabilities(fit, builtin_verifier_config(), {"val": [0.9, 0.8]}, {"val": items})["val"]
        assert served[0] < 0.5  # the verifier's answer on a video: the student's 0.9 has no weight
        assert served[1] == 0.8  # the student's own answer where the verifier had nothing to read

    def test_a_model_without_a_fit_is_served_alone(self):
        from ontask.evaluation.compare import served_probabilities
        from ontask.verify import builtin_verifier_config

        p = {"val": [0.9, 0.8]}
        assert served_probabilities(None, builtin_verifier_config(), p, {"val": self._items()}) is p
