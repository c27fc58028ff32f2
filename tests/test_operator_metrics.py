"""The operator's Prometheus metrics follow each classifier's status and forget a deleted one."""

from prometheus_client import REGISTRY

from ontask.operator import metrics


def _value(metric: str, **labels) -> float | None:
    return REGISTRY.get_sample_value(metric, labels)


def test_a_classifiers_status_becomes_its_series_and_a_deleted_one_leaves_none():
    status = {
        "phase": "Serving",
        "cycle": 2,
        "metrics": {"accuracy": 0.875},
        "feedback": {"received": 40, "rejected": 3, "pending": 12},
    }
    metrics.observe("team-a", "focus", status)
    assert _value("ontask_classifier_phase", namespace="team-a", name="focus", phase="Serving") == 1.0
    assert _value("ontask_classifier_phase", namespace="team-a", name="focus", phase="Training") == 0.0
    assert _value("ontask_classifier_accuracy", namespace="team-a", name="focus") == 0.875
    assert _value("ontask_classifier_corrections", namespace="team-a", name="focus", kind="rejected") == 3.0
    assert _value("ontask_classifier_cycle", namespace="team-a", name="focus") == 2.0
    metrics.observe("team-a", "focus", {**status, "phase": "Syncing"})
    assert _value("ontask_classifier_phase", namespace="team-a", name="focus", phase="Serving") == 0.0
    metrics.observe("team-b", "focus", status)
    metrics.forget("team-a", "focus")
    assert _value("ontask_classifier_phase", namespace="team-a", name="focus", phase="Syncing") is None
    assert _value("ontask_classifier_cycle", namespace="team-a", name="focus") is None
    assert _value("ontask_classifier_cycle", namespace="team-b", name="focus") == 2.0  # another namespace's stays
