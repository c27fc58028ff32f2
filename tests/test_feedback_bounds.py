"""What one correction and the collector's state may weigh: a correction whose windows and note
pass feedback.maxEvidenceBytes is dead-lettered; windows live beside the screenshots in the store,
never in state.json, and go with them at retention; a state that would pass
feedback.maxStateBytes sheds its corrections of least value, and the classifier's status says so."""

from __future__ import annotations

import io
import json
from typing import Optional

from PIL import Image

from ontask.api import FeedbackSpec, TaskClassifierSpec, TaskClassifierStatus
from ontask.feedback import Collector, encode_correction, make_correction
from ontask.feedback.buffer import Entry, priority
from ontask.feedback.cycle import correction_examples
from ontask.feedback.evidence import read_evidence
from ontask.feedback.state import State
from ontask.operator.reconcile import Observed, plan
from ontask.store import LocalStore
from ontask.store_paths import classifier_prefix, feedback_packs_prefix, feedback_state_key
from tests.kafka_doubles import DeadLetters, Record

NOW = 1_700_000_000.0


def _png(i: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 40), (i * 40 % 256, i * 7 % 256, 160)).save(buf, format="PNG")
    return buf.getvalue()


def _record(offset: int, task: str, windows: list[dict], image: Optional[bytes] = None, **kw) -> Record:
    c = make_correction("desk", task, "off-task", image=image or _png(offset), id=f"c-{offset}", windows=windows, **kw)
    key, value = encode_correction(c)
    return Record(key, value, offset)


def _collector(tmp_path, clock=lambda: NOW, **spec) -> tuple[Collector, LocalStore, DeadLetters]:
    store = LocalStore(tmp_path)
    collector = Collector("desk", FeedbackSpec(**spec), store, "unused:9092", clock=clock)
    dead = collector.intake.producer = DeadLetters()
    return collector, store, dead


def _apply(collector: Collector, records: list[Record]) -> int:
    added, packs, forgotten = collector.process(records)
    collector._save_behind(packs, forgotten)
    collector.flush()
    return added


def _window(title: str, focused: bool = False) -> dict:
    return {"app": "Chromium", "title": title, "url": "https://news.example.com/", "focused": focused}


def test_a_correction_over_the_evidence_limit_is_dead_lettered_with_its_reason(tmp_path):
    collector, _, dead = _collector(tmp_path, max_evidence_bytes=4096)
    try:
        heavy = [_window("x" * 1000) for _ in range(8)]  # 8 kB of titles
        noted = _record(2, "write the report", [_window("Report")], note="€" * 1400)  # 4.2 kB in UTF-8
        # Page texts count too: 9 windows of 500 bytes each, short titles.
        paged = _record(4, "write the report", [dict(_window("Untitled"), pageText="p" * 500) for _ in range(9)])
        records = [_record(1, "write the report", heavy), noted, _record(3, "file taxes", heavy[:2]), paged]
        added = _apply(collector, records)
    finally:
        collector.close()
    assert added == 1 and dead.reasons == ["oversized-evidence"] * 3
    assert collector.state.dead_letter_reasons == {"oversized-evidence": 3}
    assert list(collector.state.buffer.entries) == ["c-3"]


def test_windows_live_beside_the_screenshots_and_go_with_them_at_retention(tmp_path):
    now = [NOW]
    collector, store, _ = _collector(tmp_path, clock=lambda: now[0], screenshot_retention_hours=1)
    try:
        windows = [_window("Match report - BBC Sport", focused=True), _window("Inbox (3) - Mail")]
        _apply(collector, [_record(i, f"answer ticket {i}", windows) for i in range(3)])
        state_bytes = store.get_bytes(feedback_state_key(classifier_prefix("desk")))
        assert b"BBC Sport" not in state_bytes and b"news.example.com" not in state_bytes
        entries = collector.state.buffer.ranked(NOW)
        assert all(read_evidence(store, e) == windows for e in entries)
        rows = list(correction_examples(store, entries))
        assert len(rows) == 3 and all(r.windows == windows for r in rows)

        now[0] = NOW + 2 * 3600
        assert collector.sweep_retention() == 3
        assert all(e.evidence_key is None and e.image_key is None for e in collector.state.buffer.entries.values())
        assert list(store.list(feedback_packs_prefix(classifier_prefix("desk")))) == []
    finally:
        collector.close()


def _entry(i: int, source: str, task: str) -> Entry:
    return Entry(f"c{i}", f"k{i}", f"h{i}", f"packs/{i}.bin", task, "off-task", source, NOW)


def test_a_state_over_its_limit_sheds_the_corrections_of_least_value_first():
    state = State.empty(capacity=1000)
    for i in range(300):
        state.buffer.add(_entry(i, "judge" if i % 3 == 0 else "user", "t" * 500), NOW)
    assert len(state.to_json()) > 200_000
    data, evicted = state.to_json_within(180_000, NOW)
    assert len(data) <= 180_000 < len(data) + 600
    assert evicted and all(e.source == "judge" for e in evicted)  # the judge's weigh least
    kept = min(priority(e, NOW) for e in state.buffer.entries.values())
    assert max(priority(e, NOW) for e in evicted) <= kept
    assert state.counts.evicted_for_size == len(evicted) and json.loads(data)["counts"]["evicted_for_size"] > 0
    again, none = state.to_json_within(180_000, NOW)
    assert none == [] and again == data  # within the limit: nothing more goes


def test_a_collector_at_its_state_limit_keeps_taking_corrections_and_the_status_says_so(tmp_path):
    limit = 1024 * 1024
    collector, store, dead = _collector(tmp_path, max_state_bytes=limit, buffer_size=100_000)
    image = _png(1)
    try:
        for batch in range(6):  # about 2.2 kB of state a correction: 1 MiB holds about 470
            records = [
                _record(batch * 100 + i, f"{batch * 100 + i} " + "t" * 1990, [], image=image) for i in range(100)
            ]
            assert _apply(collector, records) == 100
    finally:
        collector.close()
    stored = store.get_bytes(feedback_state_key(classifier_prefix("desk")))
    counts = collector.state.counts
    assert len(stored) <= limit and counts.buffered == 600 and counts.evicted_for_size > 0 and dead.reasons == []
    assert len(collector.state.buffer.entries) == 600 - counts.evicted_for_size
    # No pack outlives every correction that named it.
    packs = set(store.list(feedback_packs_prefix(classifier_prefix("desk"))))
    assert packs == collector.state.buffer.stored_keys()

    spec = TaskClassifierSpec.model_validate(
        {"data": {"source": "synthetic"}, "feedback": {"maxStateBytes": limit, "bufferSize": 100_000}}
    )
    observed = {**State.from_json(stored, 100_000).observed_counts(), "state_bytes": len(stored)}
    status = plan(spec, TaskClassifierStatus(), Observed(feedback=observed)).status
    c = next(c for c in status.conditions if c.type == "FeedbackConnected")
    assert (c.status, c.reason) == ("True", "StateAtLimit")
    assert f"{counts.evicted_for_size} evicted" in c.message and "maxStateBytes (1,048,576 bytes" in c.message


def test_the_state_benchmark_builds_its_entries_as_intake_does(monkeypatch):
    """benchmarks/bench_feedback_state.py builds its 10,000 entries through the intake's own
    types; a change to them (a field moved) once made the benchmark fail only when `make bench`
    ran. A few entries here keep it in step."""
    from benchmarks import bench_feedback_state as bench

    monkeypatch.setattr(bench, "N", 3)
    spec = FeedbackSpec()
    state, sent = bench._entries(spec)
    data, shed = state.to_json_within(spec.max_state_bytes, bench.NOW)
    assert len(state.buffer.entries) == 3 and len(sent) == 3 and not shed
    assert all(e.near_key.startswith("px:") and e.evidence_key for e in state.buffer.entries.values())
    assert len(data) < 20_000
