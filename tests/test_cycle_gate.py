"""The collector writes a cycle's data only when the operator decided the previous cycle (one
cycle in flight, as the operator trains them), and the first only once the classifier's own
dataset, which cycles replay, exists."""

from ontask.data import generate, write_version
from ontask.feedback.cycle import next_cycle_open, write_decision
from ontask.store import LocalStore


def test_the_next_cycle_opens_once_the_previous_is_decided(tmp_path):
    store = LocalStore(tmp_path)
    prefix = "classifiers/focus"
    assert not next_cycle_open(store, prefix, 0, "focus")  # no dataset to replay yet
    write_version(store, "focus", list(generate(4, seed=1)), "ontask/synthetic", {})
    assert next_cycle_open(store, prefix, 0, "focus")
    assert not next_cycle_open(store, prefix, 1, "focus")  # cycle 1's data written, not decided
    write_decision(store, prefix, 1, "NotPromoted")
    write_decision(store, prefix, 1, "NotPromoted")  # again after a crash: harmless
    assert next_cycle_open(store, prefix, 1, "focus") and not next_cycle_open(store, prefix, 2, "focus")
