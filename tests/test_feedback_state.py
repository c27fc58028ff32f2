"""The collector's durable state across an upgrade: a state.json that a running deployment wrote
before the state became typed is read whole, a collector started on it resumes where it stopped
and moves the windows it kept inline into the store, and what it writes back keeps the same
layout otherwise (the operator of either version reads it)."""

from __future__ import annotations

import io
import json

from PIL import Image

from ontask.api import FeedbackSpec
from ontask.feedback import Collector, encode_correction, make_correction
from ontask.feedback.evidence import read_evidence
from ontask.feedback.state import State
from ontask.store import LocalStore
from ontask.store_paths import classifier_prefix, feedback_state_key
from tests.kafka_doubles import DeadLetters, Record

# Written by the collector of ontask 725efbe (string-keyed dicts), byte for byte.
STATE_BEFORE_TYPES = (
    '{"buffer":{"capacity":100,"entries":[{"id":"c-1","content_key":"k1","image_sha256":"h1","image_key":'
    '"classifiers/desk/feedback/packs/1700000000-ab.bin","task":"answer refund tickets","label":"off-task",'
    '"source":"user","received_at":1700000000.5,"windows":[{"app":"Firefox","title":"YouTube","url":'
    '"https://youtube.com","focused":true}],"predicted_label":"on-task","confidence":0.62,"model_version":"v1",'
    '"session_id":"s1","edge_case":true,"cycle":null,"image_range":[0,5120],"user_id":"alice","near_key":"px:n1"},'
    '{"id":"c-2","content_key":"k2","image_sha256":"h2","image_key":null,"task":"write the report","label":'
    '"on-task","source":"reviewer","received_at":1690000000.0,"windows":[],"predicted_label":null,"confidence":'
    'null,"model_version":null,"session_id":null,"edge_case":false,"cycle":1,"image_range":null,"user_id":null,'
    '"near_key":null}],"seen":["c-1","k1","px:n1","c-2","k2"]},"counts":{"buffered":2,"dead_lettered":3,'
    '"dead_letter_failed":0,"dead_letter_failed_in_a_row":0,"duplicates":1,"evicted":0,"other_classifier":0,'
    '"screenshots_expired":0,"cycle_datasets_expired":0,"reviewer_downgraded":0,"over_user_cap":1},"offsets":'
    '{"0":7,"1":2},"cycle":{"number":1,"new":1,"first_new_at":1700000000.5,"by_user":{"alice":1}},'
    '"dead_letter_reasons":{"bad-json":2,"user-cap":1}}'
)


def test_a_state_written_before_the_types_is_read_whole_and_written_back_in_the_same_layout_without_windows():
    state = State.from_json(STATE_BEFORE_TYPES.encode(), capacity=100)
    assert state.offsets == {"0": 7, "1": 2}
    assert (state.counts.buffered, state.counts.dead_lettered, state.counts.over_user_cap) == (2, 3, 1)
    assert (state.cycle.number, state.cycle.new, state.cycle.by_user) == (1, 1, {"alice": 1})
    assert state.dead_letter_reasons == {"bad-json": 2, "user-cap": 1}
    first, second = state.buffer.entries.values()
    assert (first.image_range, first.user_id) == ([0, 5120], "alice")
    assert state.buffer.inline_windows == {"c-1": [WINDOW]}  # for the collector to move into the store
    assert (second.image_key, second.cycle) == (None, 1)
    assert state.buffer.is_duplicate("new-id", "k1")  # what it has seen stays seen
    # What status.feedback shows for it.
    assert state.observed_counts()["buffered"] == 2 and state.observed_counts()["pending"] == 1
    expected = json.loads(STATE_BEFORE_TYPES)
    for e in expected["buffer"]["entries"]:
        del e["windows"]
        e.update(evidence_key=None, evidence_range=None)
    expected["counts"].update(evicted_for_size=0, over_source_cap=0, judge_downgraded=0)  # counted since
    expected["cycle"]["by_source"] = {}
    assert json.loads(state.to_json()) == expected


WINDOW = {"app": "Firefox", "title": "YouTube", "url": "https://youtube.com", "focused": True}


def test_an_older_state_without_the_later_counts_reads_them_as_zero():
    old = json.loads(STATE_BEFORE_TYPES)
    del old["counts"]["over_user_cap"], old["counts"]["reviewer_downgraded"], old["cycle"]["by_user"]
    state = State.from_json(json.dumps(old).encode(), capacity=10)
    assert state.counts.over_user_cap == 0 and state.cycle.by_user == {} and state.buffer.capacity == 10


def _record(i: int, offset: int, user: str) -> Record:
    buf = io.BytesIO()
    Image.new("RGB", (64, 40), (i * 40 % 256, 90, 160)).save(buf, format="PNG")
    c = make_correction("desk", f"task {i}", "on-task", image=buf.getvalue(), id=f"new-{i}", user_id=user)
    key, value = encode_correction(c)
    return Record(key, value, offset)


def test_a_collector_started_on_that_state_resumes_where_it_stopped(tmp_path):
    store = LocalStore(tmp_path)
    store.put_bytes(feedback_state_key(classifier_prefix("desk")), STATE_BEFORE_TYPES.encode(), "application/json")
    spec = FeedbackSpec(buffer_size=100, max_corrections_per_user=1)
    collector = Collector("desk", spec, store, "unused:9092")
    dead = collector.intake.producer = DeadLetters()
    try:
        # Offset 6 was processed before the restart (redelivered: skipped); alice already used her
        # allowance for this cycle; bob did not.
        added, packs, _ = collector.process([_record(1, 6, "bob"), _record(2, 7, "alice"), _record(3, 8, "bob")])
        packs.wait()
        collector.save_state()
    finally:
        collector.close()
    assert added == 1 and dead.reasons == ["user-cap"]
    stored = store.get_bytes(feedback_state_key(classifier_prefix("desk")))
    assert b"windows" not in stored and b"YouTube" not in stored
    assert read_evidence(store, collector.state.buffer.entries["c-1"]) == [WINDOW]
    saved = json.loads(stored)
    assert saved["offsets"] == {"0": 9, "1": 2}
    assert saved["counts"]["buffered"] == 3 and saved["counts"]["over_user_cap"] == 2
    assert saved["cycle"] == {
        "number": 1,
        "new": 2,
        "first_new_at": 1700000000.5,
        "by_user": {"alice": 1, "bob": 1},
        "by_source": {},
    }
