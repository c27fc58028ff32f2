"""Evaluation metrics against values computed by hand on a small fixed set."""

import pytest

from ontask.evaluation.metrics import accuracy, confusion, ece, per_class, reliability, summary

TRUTH = ["on-task", "on-task", "on-task", "off-task", "off-task", "off-task", "off-task", "on-task"]
P_ON = [0.9, 0.7, 0.4, 0.2, 0.6, 0.1, 0.45, 0.95]
# predicted: on on off off on off off on -> TP(on)=3, FN(on)=1, FP(on)=1, TN=3


def test_confusion_accuracy_and_per_class_by_hand():
    predicted = ["on-task" if p >= 0.5 else "off-task" for p in P_ON]
    assert confusion(TRUTH, predicted) == {
        "on-task": {"on-task": 3, "off-task": 1},
        "off-task": {"on-task": 1, "off-task": 3},
    }
    assert accuracy(TRUTH, predicted) == 6 / 8
    on = per_class(TRUTH, predicted)["on-task"]
    assert (on.precision, on.recall, on.support) == (3 / 4, 3 / 4, 4)
    assert on.f1 == pytest.approx(0.75)


def test_ece_by_hand():
    # confidences: .9 .7 .6 .8 .6 .9 .55 .95 ; correct: y y n y n y y y
    # bins of width .05: [.55,.6): .55(y) ; [.6,.65): .6(n) .6(n) ; [.7,.75): .7(y) ; [.8,.85): .8(y) ;
    # [.9,.95): .9(y) .9(y) ; [.95,1]: .95(y)
    expected = (
        (1 / 8) * abs(1 - 0.55)
        + (2 / 8) * abs(0 - 0.6)
        + (1 / 8) * abs(1 - 0.7)
        + (1 / 8) * abs(1 - 0.8)
        + (2 / 8) * abs(1 - 0.9)
        + (1 / 8) * abs(1 - 0.95)
    )
    assert ece(TRUTH, P_ON, bins=10) == pytest.approx(expected)
    assert sum(b["count"] for b in reliability(TRUTH, P_ON)) == 8


def test_summary_has_the_hard_slice_and_latency_percentiles():
    s = summary(
        TRUTH,
        P_ON,
        hard=[False, False, True, False, True, False, False, False],
        latencies_ms=[10, 20, 30, 40, 50, 60, 70, 80],
    )
    assert s["hard_n"] == 2 and s["hard_accuracy"] == 0.0
    assert s["latency_ms"]["p50"] == 50 and s["n"] == 8
