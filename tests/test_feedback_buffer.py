"""The buffer's rules: dedupe by id and by content, eviction of the least valuable, priority order."""

from ontask.api import FeedbackSpec
from ontask.feedback.buffer import Buffer, Entry, priority
from ontask.feedback.cycle import cycle_due
from ontask.feedback.state import CycleProgress

NOW = 1_000_000.0


def entry(i, **kw):
    base = dict(
        id=f"c{i}",
        content_key=f"k{i}",
        image_sha256=f"s{i}",
        image_key=f"img/{i}.png",
        task="t",
        label="off-task",
        source="user",
        received_at=NOW,
    )
    return Entry(**{**base, **kw})


def test_duplicates_by_id_and_by_content_are_refused():
    b = Buffer(10)
    assert b.add(entry(1), NOW).outcome == "added"
    assert b.add(entry(1, content_key="other"), NOW).outcome == "duplicate"
    assert b.add(entry(2, content_key="k1"), NOW).outcome == "duplicate"
    assert len(b.entries) == 1


def test_priority_prefers_wrong_unsure_edge_cases_from_people_and_recent():
    plain = entry(0, source="judge")
    assert priority(entry(0, source="user"), NOW) > priority(plain, NOW)
    assert (
        priority(entry(0, predicted_label="on-task", confidence=0.55), NOW)
        > priority(entry(0, predicted_label="on-task", confidence=0.99), NOW)
        > priority(entry(0), NOW)
    )
    assert priority(entry(0, edge_case=True), NOW) > priority(entry(0), NOW)
    assert priority(entry(0), NOW) > priority(entry(0, received_at=NOW - 30 * 86400), NOW)
    assert priority(entry(0, image_key=None), NOW) < priority(plain, NOW)


def test_a_full_buffer_evicts_the_least_valuable_and_survives_a_round_trip():
    b = Buffer(3)
    b.add(entry(1, source="judge"), NOW)
    b.add(entry(2, edge_case=True), NOW)
    b.add(entry(3, predicted_label="on-task", confidence=0.6), NOW)
    result = b.add(entry(4), NOW)
    assert result.evicted.id == "c1" and set(b.entries) == {"c2", "c3", "c4"}
    assert [e.id for e in b.ranked(NOW)][:2] == ["c3", "c2"]
    again = Buffer.from_dict(b.to_dict())
    assert set(again.entries) == set(b.entries) and again.is_duplicate("c1", "x")  # evicted, still remembered


def test_a_cycle_is_due_after_cycle_every_or_the_maximum_wait():
    spec = FeedbackSpec(cycle_every=20, max_cycle_wait_minutes=60)
    assert not cycle_due(CycleProgress(new=19, first_new_at=NOW), spec, NOW + 60)
    assert cycle_due(CycleProgress(new=20, first_new_at=NOW), spec, NOW + 60)
    assert cycle_due(CycleProgress(new=1, first_new_at=NOW), spec, NOW + 3600)
    assert not cycle_due(CycleProgress(new=0, first_new_at=None), spec, NOW + 99999)
