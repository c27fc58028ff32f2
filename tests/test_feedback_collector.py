"""The collector against the real Kafka broker and the real S3: exact accounting of 1,000
corrections with faulty ones mixed in, a SIGKILL in the middle, a broker restart, a message
from Kafka's own console producer, and a cycle's dataset."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid

from kafka import KafkaProducer
from PIL import Image

from ontask.api import FeedbackSpec
from ontask.data import read_version
from ontask.feedback import Collector, encode_correction, make_correction
from ontask.feedback.evidence import read_evidence
from ontask.feedback.retention import sweep_cycle_datasets
from ontask.feedback.state import Counts, CycleProgress
from ontask.images import ImageLimits
from ontask.store import S3Store
from ontask.store_paths import feedback_pack_key, pack_created
from realservers.kafka import KafkaBroker
from realservers.predictors import s3_env
from tests.conftest import REPO, bomb_png, console_produce, consume, wait_for

CLASSIFIER = "fb-test"


def png(i: int, size=(48, 32)) -> bytes:
    rng = random.Random(i)
    img = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    img.putpixel((i % size[0], (i // size[0]) % size[1]), (i % 256, 7, 9))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def good(i: int, **kw) -> tuple[bytes, bytes]:
    c = make_correction(
        CLASSIFIER,
        f"write chapter {i % 7} of the thesis",
        "off-task" if i % 3 else "on-task",
        image=png(i),
        id=kw.pop("id", f"c-{i}"),
        **kw,
    )
    return encode_correction(c)


def faulty_stream(n: int, seed: int = 0) -> tuple[list[tuple[bytes, bytes]], dict[str, int]]:
    """n records, 10% faulty: 20 each of bad JSON, missing field, unknown label, oversized image,
    and 20 duplicates (10 resent ids, 10 same content under a new id)."""
    records = [good(i) for i in range(n - 100)]
    key = CLASSIFIER.encode()
    faults = []
    for j in range(20):
        faults.append((key, b'{"id": "broken-%d", "classifier": ' % j))
        doc = json.loads(good(10_000 + j)[1])
        del doc["task"]
        faults.append((key, json.dumps(doc).encode()))
        doc = json.loads(good(20_000 + j)[1])
        doc["correctedLabel"] = "sleeping"
        faults.append((key, json.dumps(doc).encode()))
        big = Image.effect_noise((400, 300), 90).convert("RGB")
        buf = io.BytesIO()
        big.save(buf, format="PNG")  # ~360 kB: over the collector's 200 kB limit in this test
        faults.append(
            encode_correction(make_correction(CLASSIFIER, "t", "on-task", image=buf.getvalue(), id=f"big-{j}"))
        )
    for j in range(10):
        faults.append(records[j])  # the same id again
        doc = json.loads(records[20 + j][1])
        doc["id"] = f"again-{j}"  # same screenshot, task and label under a new id
        faults.append((key, json.dumps(doc).encode()))
    mixed = records + faults
    random.Random(seed).shuffle(mixed)
    # A duplicate must come after its original to be the one dropped: move originals first.
    originals = {records[j][1] for j in range(30)}
    mixed.sort(key=lambda kv: 0 if kv[1] in originals else 1)
    return mixed, {"bad-json": 20, "missing-field": 20, "unknown-label": 20, "oversized-image": 20}


def produce(bootstrap: str, topic: str, records) -> None:
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_request_size=2_000_000)
    for k, v in records:
        p.send(topic, key=k, value=v)
    p.flush()
    p.close()


def total(counts: dict) -> int:
    return counts["buffered"] + counts["dead_lettered"] + counts["duplicates"]


def collected(spec: FeedbackSpec, store, bootstrap: str, n: int, **settings) -> Collector:
    """A collector of CLASSIFIER that has consumed `n` records, closed."""
    collector = Collector(CLASSIFIER, spec, store, bootstrap, **settings)
    try:
        run_until(collector, n, timeout=90)
    finally:
        collector.close()
    return collector


def run_until(collector: Collector, n: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while total(collector.state.counts.model_dump()) < n and time.monotonic() < deadline:
        collector.poll_once(500)
    assert total(collector.state.counts.model_dump()) == n, collector.state.counts
    collector.flush()  # the last batch in the store, as an idle poll would make it


def test_1000_corrections_with_100_faulty_are_accounted_exactly(kafka_bootstrap, s3_config):
    topic = f"corrections-{uuid.uuid4().hex[:6]}"
    records, reasons = faulty_stream(1000)
    produce(kafka_bootstrap, topic, records)
    store = S3Store(s3_config, "feedback-test", f"exact-{uuid.uuid4().hex[:6]}")
    spec = FeedbackSpec(topic=topic, buffer_size=5000)
    collector = Collector(CLASSIFIER, spec, store, kafka_bootstrap, limits=ImageLimits(200_000))
    try:
        run_until(collector, 1000)
    finally:
        collector.close()
    counts = collector.state.counts.model_dump()
    assert (counts["buffered"], counts["dead_lettered"], counts["duplicates"]) == (900, 80, 20)
    assert collector.state.dead_letter_reasons == reasons
    dead = consume(kafka_bootstrap, spec.dead_letters(), 80)
    assert len(dead) == 80
    got = {}
    for r in dead:
        h = dict(r.headers)
        got[h["ontask-reason"].decode()] = got.get(h["ontask-reason"].decode(), 0) + 1
        assert h["ontask-source"].decode().startswith(f"{topic}/0/")
    assert got == reasons
    # Only references stay in the buffer; the screenshots are in S3, a poll's together in a few
    # packs, and each reads back whole from its byte range.
    state = json.loads(store.get_bytes("classifiers/fb-test/feedback/state.json"))
    assert len(state["buffer"]["entries"]) == 900
    assert "screenshotBase64" not in json.dumps(state)
    packs = list(store.list("classifiers/fb-test/feedback/screenshots"))
    assert 0 < len(packs) < 100 and all(pack_created(k) is not None for k in packs)
    for e in state["buffer"]["entries"]:
        assert e["image_key"] in packs, e
        assert hashlib.sha256(store.get_range(e["image_key"], *e["image_range"])).hexdigest() == e["image_sha256"]


def _collector_process(bootstrap, s3, bucket, topic, workdir):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ontask.cli",
            "feedback",
            "collect",
            "--classifier",
            CLASSIFIER,
            "--store",
            f"s3://{bucket}/kill",
            "--bootstrap",
            bootstrap,
            "--topic",
            topic,
        ],
        cwd=REPO,
        env={**os.environ, **s3_env(s3), "PYTHONPATH": str(REPO)},
        stdout=open(workdir / "collector.out", "ab"),
        stderr=subprocess.STDOUT,
    )


def _durable_counts(store) -> dict:
    try:
        return json.loads(store.get_bytes("classifiers/fb-test/feedback/state.json"))["counts"]
    except Exception:  # noqa: BLE001 - not written yet
        return {"buffered": 0, "duplicates": 0, "dead_lettered": 0}


def _wait_for(predicate, timeout: float, what: str, proc=None, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"collector exited with {proc.returncode}: {log.read_text()[-2000:]}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}: {log.read_text()[-2000:] if log else ''}")


def test_sigkill_in_the_middle_loses_nothing_and_counts_nothing_twice(kafka_bootstrap, s3, s3_config, tmp_path):
    topic = f"kill-{uuid.uuid4().hex[:6]}"
    bucket = f"kill-{uuid.uuid4().hex[:6]}"
    produce(kafka_bootstrap, topic, [good(i) for i in range(1500)])
    store = S3Store(s3_config, bucket, "kill")
    log = tmp_path / "collector.out"
    proc = _collector_process(kafka_bootstrap, s3, bucket, topic, tmp_path)
    # Kill as soon as one batch is durable: the next one is in flight.
    at_kill = _wait_for(lambda: _durable_counts(store)["buffered"], 120, "a first durable batch", proc, log)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert 0 < at_kill < 1500
    proc = _collector_process(kafka_bootstrap, s3, bucket, topic, tmp_path)
    try:
        counts = _wait_for(
            lambda: (c := _durable_counts(store)) and total(c) >= 1500 and c, 180, "all 1500 corrections", proc, log
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert (counts["buffered"], counts["duplicates"], counts["dead_lettered"]) == (1500, 0, 0)
    state = json.loads(store.get_bytes("classifiers/fb-test/feedback/state.json"))
    assert sorted(e["id"] for e in state["buffer"]["entries"]) == sorted(f"c-{i}" for i in range(1500))


def test_the_collector_rides_out_a_broker_restart(tmp_path, s3_config):
    broker = KafkaBroker(tmp_path / "kafka")
    bootstrap = broker.start()
    topic = "restart"
    store = S3Store(s3_config, "feedback-test", f"restart-{uuid.uuid4().hex[:6]}")
    collector = Collector(CLASSIFIER, FeedbackSpec(topic=topic), store, bootstrap)
    stop = threading.Event()
    thread = threading.Thread(target=collector.run, args=(stop,), kwargs={"poll_ms": 300}, daemon=True)
    try:
        produce(bootstrap, topic, [good(i) for i in range(50)])
        thread.start()
        deadline = time.monotonic() + 60
        while collector.state.counts.buffered < 50 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert collector.state.counts.buffered == 50
        broker.restart()
        produce(bootstrap, topic, [good(i) for i in range(50, 100)])
        deadline = time.monotonic() + 120
        while collector.state.counts.buffered < 100 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert collector.state.counts.buffered == 100 and collector.state.counts.duplicates == 0
    finally:
        stop.set()
        thread.join(30)
        broker.stop()


def test_a_correction_from_kafkas_console_producer_is_accepted(kafka_bootstrap, s3_config, tmp_path):
    topic = f"console-{uuid.uuid4().hex[:6]}"
    doc = {
        "id": "console-1",
        "classifier": CLASSIFIER,
        "task": "review the pull request",
        "screenshotBase64": base64.b64encode(png(5)).decode(),
        "correctedLabel": "on-task",
        "predictedLabel": "off-task",
        "confidence": 0.61,
        "source": "reviewer",
        "userId": "qa-console",
        "timestamp": "2026-11-26T10:00:00Z",
        "windows": [
            {"app": "Firefox", "title": "PR #12 - GitHub", "url": "https://github.com/x/pull/12", "focused": True}
        ],
    }
    console_produce(kafka_bootstrap, topic, CLASSIFIER, json.dumps(doc), separator="\t")
    store = S3Store(s3_config, "feedback-test", f"console-{uuid.uuid4().hex[:6]}")
    collector = Collector(CLASSIFIER, FeedbackSpec(topic=topic, reviewers=["qa-console"]), store, kafka_bootstrap)
    try:
        run_until(collector, 1, timeout=60)
    finally:
        collector.close()
    (entry,) = collector.state.buffer.entries.values()
    assert entry.id == "console-1" and entry.source == "reviewer" and entry.label == "on-task"
    assert read_evidence(store, entry)[0]["url"] == "https://github.com/x/pull/12"
    # In the store beside the screenshot, not in the state.
    assert b"github.com" not in store.get_bytes("classifiers/fb-test/feedback/state.json")


def test_a_cycle_writes_corrections_variants_and_replay_as_a_dataset_version(kafka_bootstrap, s3_config):
    from ontask.data import generate, write_version

    topic = f"cycle-{uuid.uuid4().hex[:6]}"
    store = S3Store(s3_config, "feedback-test", f"cycle-{uuid.uuid4().hex[:6]}")
    write_version(store, "base", list(generate(30, seed=2)), "ontask/synthetic", {})
    produce(kafka_bootstrap, topic, [good(i) for i in range(20)])
    spec = FeedbackSpec(topic=topic, cycle_every=20, variants_per_correction=3, replay_ratio=0.5)
    collector = Collector(CLASSIFIER, spec, store, kafka_bootstrap)
    try:
        run_until(collector, 20)
        marker = collector.maybe_cycle("base")
    finally:
        collector.close()
    assert marker["cycle"] == 1 and len(marker["corrections"]) == 20
    ds = read_version(store, marker["dataset"], marker["version"])
    sources = [r["extra_info"]["label_source"] for r in ds.rows]
    assert sources.count("user") == 20 and sources.count("variant") == 60
    # Replay is sized on the rows the candidate trains on: the corrections not held out and their variants.
    trained = [r for r in ds.split("train") if r["extra_info"]["label_source"] in ("user", "variant")]
    replayed = [r for r in ds.rows if r["extra_info"]["reason"] == "replay"]
    base = read_version(store, "base")
    base_train = [r for r in base.split("train") if r["reward_model"]["ground_truth"]]
    assert 0 < len(trained) < 80 and len(replayed) == min(round(0.5 * len(trained)), len(base_train))
    assert all(r["extra_info"]["split"] == "train" for r in replayed)
    # The other half of the base's validation rows calibrates the candidate; none of it is trained on.
    calibration = [r for r in ds.rows if r["extra_info"]["reason"] == "calibration"]
    assert all(r["extra_info"]["split"] == "val" for r in calibration)
    assert collector.maybe_cycle("base") is None  # nothing new since
    assert collector.state.cycle == CycleProgress(number=1)


def _retaining_collector(kafka_bootstrap, s3_config, n: int) -> tuple[S3Store, Collector, list[float]]:
    """A collector with a 24 h screenshot retention on a clock the test moves (now[0]), with n
    corrections waiting on its topic."""
    topic = f"retention-{uuid.uuid4().hex[:6]}"
    store = S3Store(s3_config, "feedback-test", f"retention-{uuid.uuid4().hex[:6]}")
    produce(kafka_bootstrap, topic, [good(i) for i in range(n)])
    now = [1_000_000.0]
    spec = FeedbackSpec(topic=topic, screenshot_retention_hours=24)
    return store, Collector(CLASSIFIER, spec, store, kafka_bootstrap, clock=lambda: now[0]), now


def test_screenshots_past_their_retention_are_deleted_and_labels_stay(kafka_bootstrap, s3_config):
    store, collector, now = _retaining_collector(kafka_bootstrap, s3_config, 5)
    try:
        run_until(collector, 5)
        assert len(list(store.list("classifiers/fb-test/feedback/screenshots"))) >= 1
        now[0] += 25 * 3600  # a day and an hour later
        assert collector.sweep_retention() == 5
        collector.save_state()
    finally:
        collector.close()
    assert list(store.list("classifiers/fb-test/feedback/screenshots")) == []
    state = json.loads(store.get_bytes("classifiers/fb-test/feedback/state.json"))
    assert all(e["image_key"] is None and e["image_sha256"] and e["label"] for e in state["buffer"]["entries"])
    assert state["counts"]["screenshots_expired"] == 5


def test_packs_no_state_names_expire_with_the_retention(kafka_bootstrap, s3_config):
    """A pack written before a crash (or by a collector that lost a handover) is named by no
    state: it goes at the same age as every other screenshot, and no sooner."""
    store, collector, now = _retaining_collector(kafka_bootstrap, s3_config, 3)
    prefix = "classifiers/fb-test"
    old_orphan = feedback_pack_key(prefix, now[0] - 3600, "lost-before-a-crash")
    young_orphan = feedback_pack_key(prefix, now[0] + 3600, "lost-later")
    for key in (old_orphan, young_orphan):
        store.put_bytes(key, png(99))
    try:
        run_until(collector, 3)
        [named] = {e.image_key for e in collector.state.buffer.entries.values()}
        now[0] += 24 * 3600 - 1800  # the old orphan is past the retention; the young one and the batch are not
        collector.sweep_retention()
        assert set(store.list(f"{prefix}/feedback/screenshots")) == {young_orphan, named}
        now[0] += 3 * 3600  # past everything's retention
        assert collector.sweep_retention() == 3
    finally:
        collector.close()
    assert list(store.list(f"{prefix}/feedback/screenshots")) == []


def test_cycle_datasets_past_the_retention_are_deleted_but_the_newest(s3_config):
    """Cycle datasets hold copies of the corrections' screenshots: they expire with them."""
    from ontask.data import example_at, write_version
    from ontask.data.dataset import list_versions
    from ontask.store_paths import feedback_dataset

    store = S3Store(s3_config, "feedback-test", f"cycle-retention-{uuid.uuid4().hex[:6]}")
    name = feedback_dataset(CLASSIFIER)
    for _ in range(3):
        write_version(store, name, [example_at(1, 0)], "ontask/feedback", {})
    counts = Counts()
    assert sweep_cycle_datasets(store, CLASSIFIER, counts, cutoff=time.time() - 3600) == 0  # none that old yet
    assert sweep_cycle_datasets(store, CLASSIFIER, counts, cutoff=time.time() + 1) == 2
    assert list_versions(store, name) == [3]
    assert {k.split("/")[2] for k in store.list(f"datasets/{name}")} == {"v3"}
    assert counts.cycle_datasets_expired == 2


def _create_topic(bootstrap: str, topic: str, max_message_bytes: int) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, 1, 1, topic_configs={"max.message.bytes": str(max_message_bytes)})])
    finally:
        admin.close()


def test_records_that_used_to_stop_the_collector_are_dead_lettered_and_intake_goes_on(kafka_bootstrap, s3_config):
    topic = f"poison-{uuid.uuid4().hex[:6]}"
    _create_topic(kafka_bootstrap, topic, 3_000_000)  # the topic takes records the dead-letter topic would not
    key = CLASSIFIER.encode()
    bomb = make_correction(CLASSIFIER, "t", "on-task", image=bomb_png(20000, 20000), id="bomb")
    records = [
        (key, b"[" * 100_000),  # RecursionError in json.loads
        encode_correction(bomb),  # DecompressionBombError in Pillow's open()
        (key, b"x" * 1_500_000),  # invalid and over the dead-letter producer's 1 MB default
        (None, b"{no key, no JSON"),
        good(1),
    ]
    produce(kafka_bootstrap, topic, records)
    store = S3Store(s3_config, "feedback-test", f"poison-{uuid.uuid4().hex[:6]}")
    spec = FeedbackSpec(topic=topic)
    collector = Collector(CLASSIFIER, spec, store, kafka_bootstrap)
    try:
        run_until(collector, len(records), timeout=90)
    finally:
        collector.close()
    counts = collector.state.counts.model_dump()
    assert (counts["buffered"], counts["dead_lettered"], counts["dead_letter_failed"]) == (1, 4, 0)
    assert collector.state.dead_letter_reasons == {"bad-json": 3, "bad-image": 1}
    dead = {dict(r.headers)["ontask-source"].decode(): r for r in consume(kafka_bootstrap, spec.dead_letters(), 4)}
    big = dead[f"{topic}/0/2"]
    assert dict(big.headers)["ontask-truncated-from"] == b"1500000" and len(big.value) == 900_000
    assert b"decompression bomb" in dict(dead[f"{topic}/0/1"].headers)["ontask-error"]


def test_a_dead_letter_the_broker_refuses_is_counted_and_intake_goes_on(kafka_bootstrap, s3_config):
    topic = f"refused-{uuid.uuid4().hex[:6]}"
    spec = FeedbackSpec(topic=topic, dead_letter_topic=f"{topic}-tiny-dlq")
    _create_topic(kafka_bootstrap, spec.dead_letter_topic, 200)  # smaller than any dead letter
    records = [(CLASSIFIER.encode(), b"{" + b" " * 5000), good(2)]
    produce(kafka_bootstrap, topic, records)
    store = S3Store(s3_config, "feedback-test", f"refused-{uuid.uuid4().hex[:6]}")
    collector = Collector(CLASSIFIER, spec, store, kafka_bootstrap)
    try:
        deadline = time.monotonic() + 90
        while (
            collector.state.counts.buffered + collector.state.counts.dead_letter_failed < 2
            and time.monotonic() < deadline
        ):
            collector.poll_once(500)
    finally:
        collector.close()
    counts = collector.state.counts.model_dump()
    assert (counts["buffered"], counts["dead_lettered"], counts["dead_letter_failed"]) == (1, 0, 1)
    assert counts["dead_letter_failed_in_a_row"] == 1
    assert json.loads(store.get_bytes("classifiers/fb-test/feedback/state.json"))["offsets"] == {"0": 2}
    # What the operator makes of it once it keeps happening: FeedbackConnected=False, and why.
    from ontask.api import TaskClassifierSpec, TaskClassifierStatus
    from ontask.operator.reconcile import DEAD_LETTER_FAILURES_TO_REPORT, Observed, plan

    classifier = TaskClassifierSpec.model_validate({"data": {"source": "synthetic"}, "feedback": spec.wire()})

    def connected(failing: int) -> tuple[str, str, str]:
        feedback = {**collector.state.observed_counts(), "dead_letter_failed_in_a_row": failing}
        status = plan(classifier, TaskClassifierStatus(), Observed(feedback=feedback)).status
        c = next(c for c in status.conditions if c.type == "FeedbackConnected")
        return c.status, c.reason, c.message

    assert connected(1)[:2] == ("True", "Consuming")
    status, reason, message = connected(DEAD_LETTER_FAILURES_TO_REPORT)
    assert (status, reason) == ("False", "DeadLetterFailing") and spec.dead_letter_topic in message


def test_a_store_error_is_never_taken_for_no_state(kafka_bootstrap, s3_config):
    from ontask.feedback.cycle import read_marker
    from ontask.store import NotFound, S3Config, StoreError

    topic = f"denied-{uuid.uuid4().hex[:6]}"
    produce(kafka_bootstrap, topic, [good(i) for i in range(3)])
    prefix = f"denied-{uuid.uuid4().hex[:6]}"
    store = S3Store(s3_config, "feedback-test", prefix)
    spec = FeedbackSpec(topic=topic)
    collector = Collector(CLASSIFIER, spec, store, kafka_bootstrap)
    try:
        run_until(collector, 3)
    finally:
        collector.close()
    saved = store.get_bytes("classifiers/fb-test/feedback/state.json")
    # The same real S3 answering AccessDenied (a wrong secret): not "absent", and nothing is written.
    denied = S3Store(
        S3Config(s3_config.endpoint, s3_config.access_key, "wrong"), "feedback-test", prefix, create_bucket=False
    )
    try:
        Collector(CLASSIFIER, spec, denied, kafka_bootstrap)
        raise AssertionError("a collector started on an unreadable state")
    except StoreError as e:
        assert not isinstance(e, NotFound), e
    try:
        read_marker(denied, "classifiers/fb-test", 1)
        raise AssertionError("an unreadable marker was taken for none")
    except StoreError as e:
        assert not isinstance(e, NotFound), e
    assert read_marker(store, "classifiers/fb-test", 1) is None
    assert store.get_bytes("classifiers/fb-test/feedback/state.json") == saved


def test_a_screenshot_reference_reaches_only_what_the_classifier_may_read(kafka_bootstrap, s3_config):
    """A correction may name a screenshot in its own bucket, never another classifier's artifacts,
    another bucket, a path with '..', or (when the spec lists prefixes) a key outside them."""
    topic = f"refs-{uuid.uuid4().hex[:6]}"
    bucket = "feedback-test"

    def ref(i: int, uri: str) -> tuple[bytes, bytes]:
        return encode_correction(make_correction(CLASSIFIER, "write the thesis", "on-task", image_uri=uri, id=f"r-{i}"))

    records = [
        ref(0, f"s3://{bucket}/uploads/team/a.png"),
        ref(1, f"s3://{bucket}/classifiers/other-team/feedback/screenshots/{'0' * 64}.png"),
        ref(2, f"s3://{bucket}/datasets/other-team/v1/images/x.png"),
        ref(3, "s3://someone-elses-bucket/uploads/a.png"),
        ref(4, f"s3://{bucket}/uploads/../classifiers/other-team/models/v1/model.safetensors"),
        ref(5, f"s3://{bucket}/elsewhere/b.png"),
    ]
    produce(kafka_bootstrap, topic, records)
    S3Store(s3_config, bucket).put_bytes("uploads/team/a.png", png(0), "image/png")
    store = S3Store(s3_config, bucket, f"refs-{uuid.uuid4().hex[:6]}")
    spec = FeedbackSpec(topic=topic, screenshot_uri_prefixes=[f"s3://{bucket}/uploads"])
    collector = Collector(CLASSIFIER, spec, store, kafka_bootstrap)
    try:
        run_until(collector, len(records), timeout=90)
    finally:
        collector.close()
    assert collector.state.counts.buffered == 1
    assert collector.state.dead_letter_reasons == {"forbidden-reference": 5}
    [kept] = collector.state.buffer.entries.values()
    assert kept.image_key == f"s3://{bucket}/uploads/team/a.png"
    errors = [dict(r.headers)["ontask-error"].decode() for r in consume(kafka_bootstrap, spec.dead_letters(), 5)]
    assert any("someone-elses-bucket" in e and "not this classifier's bucket" in e for e in errors)
    assert sum("ontask's own" in e for e in errors) == 2
    assert any("'..' segment" in e for e in errors) and any("outside the allowed prefixes" in e for e in errors)


def test_a_referenced_screenshot_is_read_once_and_deduplicated_on_its_content(kafka_bootstrap, s3_config):
    """The same screenshot uploaded under two keys (and again with new metadata) is one correction,
    as an inline one is; a reference to nothing or to a file that is no image is refused at once
    with its reason, not skipped by every later cycle."""
    topic = f"refdup-{uuid.uuid4().hex[:6]}"
    bucket = "feedback-test"
    run = uuid.uuid4().hex[:6]
    uploads = S3Store(s3_config, bucket)
    shot = png(5, size=(320, 200))
    with Image.open(io.BytesIO(shot)) as img:
        meta = io.BytesIO()
        img.save(meta, format="PNG", pnginfo=_text_chunk("Software", "another screenshot tool"))
    assert meta.getvalue() != shot
    for name, data in (("a.png", shot), ("copy-of-a.png", shot), ("a-again.png", meta.getvalue())):
        uploads.put_bytes(f"uploads/{run}/{name}", data, "image/png")
    uploads.put_bytes(f"uploads/{run}/notes.txt", b"not a screenshot")
    uploads.put_bytes(f"uploads/{run}/other.png", png(6, size=(320, 200)), "image/png")

    def ref(i: int, name: str) -> tuple[bytes, bytes]:
        uri = f"s3://{bucket}/uploads/{run}/{name}"
        return encode_correction(make_correction(CLASSIFIER, "write the thesis", "on-task", image_uri=uri, id=f"d-{i}"))

    names = ["a.png", "copy-of-a.png", "a-again.png", "missing.png", "notes.txt", "other.png"]
    records = [ref(i, n) for i, n in enumerate(names)]
    produce(kafka_bootstrap, topic, records)
    spec = FeedbackSpec(topic=topic)
    collector = collected(spec, S3Store(s3_config, bucket, f"refdup-{run}"), kafka_bootstrap, len(records))
    counts = collector.state.counts
    assert (counts.buffered, counts.duplicates) == (2, 2), counts
    assert sorted(e.image_key.rsplit("/", 1)[1] for e in collector.state.buffer.entries.values()) == [
        "a.png",
        "other.png",
    ]
    assert collector.state.dead_letter_reasons == {"missing-reference": 1, "bad-image": 1}
    errors = {
        dict(r.headers)["ontask-reason"].decode(): dict(r.headers)["ontask-error"].decode()
        for r in consume(kafka_bootstrap, spec.dead_letters(), 2)
    }
    assert "missing.png" in errors["missing-reference"] and "screenshotUri" in errors["bad-image"]


def _text_chunk(key: str, value: str):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(key, value)
    return info


def test_a_userid_signed_as_the_docs_say_is_kept_and_an_unsigned_one_dead_lettered(
    kafka_bootstrap, s3_config, tmp_path
):
    """An app's backend signs its user's id with the shell recipe in docs/feedback.md (or `ontask
    feedback send --user-key-file`); the collector given the classifier's key keeps those, and
    dead-letters a userId anyone could have written."""
    import re

    topic = f"signed-{uuid.uuid4().hex[:6]}"
    key = "k3y-of-the-desk-backend"
    (tmp_path / "user.key").write_text(key + "\n")  # as `echo` writes it
    shot = tmp_path / "shot.png"
    shot.write_bytes(png(41))
    (tmp_path / "screenshot.png").write_bytes(png(40))
    docs = (REPO / "docs" / "feedback.md").read_text()
    [recipe] = re.findall(r"```sh\n(SHOT=.*?)\n```", docs, re.S)
    recipe = recipe.replace(" desk ", f" {CLASSIFIER} ")
    fields = {"ID": "by-shell", "USER_ID": "alice@desk", "LABEL": "on-task", "TIMESTAMP": "2026-12-07T10:00:00Z"}
    task = "write the thesis\nchapter 2"  # a line break in the task, the last line signed
    env = {**os.environ, **fields, "TASK": task, "KEY": key}
    run = subprocess.run(["bash", "-c", recipe], env=env, capture_output=True, text=True, cwd=tmp_path, check=True)
    by_shell = make_correction(
        CLASSIFIER, task, "on-task", image=png(40), id="by-shell", user_id="alice@desk", timestamp=fields["TIMESTAMP"]
    ).model_copy(update={"user_signature": run.stdout.strip()})
    # The same signature on other content: someone who saw the record sends it again, changed.
    replayed = by_shell.model_copy(update={"id": "by-shell", "corrected_label": "off-task"})
    produce(kafka_bootstrap, topic, [encode_correction(replayed), encode_correction(by_shell)])

    def send(*extra: str) -> None:
        out = subprocess.run(
            [sys.executable, "-m", "ontask.cli", "feedback", "send", "--classifier", CLASSIFIER, "--task",
             "write the thesis", "--label", "off-task", "--image", str(shot), "--bootstrap", kafka_bootstrap,
             "--topic", topic, *extra],
            capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
        assert out.returncode == 0, out.stderr

    send("--id", "by-cli", "--user-id", "bob@desk", "--user-key-file", str(tmp_path / "user.key"))
    shot.write_bytes(png(42))
    send("--id", "unsigned", "--user-id", "bob@desk")
    store = S3Store(s3_config, "feedback-test", f"signed-{uuid.uuid4().hex[:6]}")
    spec = FeedbackSpec(topic=topic, user_key_secret_ref="desk-user-key")
    collector = collected(spec, store, kafka_bootstrap, 4, user_key=key.encode())
    kept = {e.id: (e.user_id, e.label) for e in collector.state.buffer.entries.values()}
    assert kept == {"by-shell": ("alice@desk", "on-task"), "by-cli": ("bob@desk", "off-task")}
    assert collector.state.dead_letter_reasons == {"bad-signature": 2}  # the replayed one, the unsigned one


def test_the_dead_letter_topic_keeps_records_no_longer_than_the_screenshots(kafka_bootstrap, s3_config):
    """Dead letters carry screenshots: the collector creates their topic with the screenshots'
    retention, and lowers a longer (or unlimited) one it finds; a shorter one stays."""
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic

    from ontask.feedback.dead_letters import bound_retention

    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)

    def retention(topic: str) -> int:
        got = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.ms": None})])
        return int(got["topic"][topic]["retention.ms"]["value"])

    try:
        spec = FeedbackSpec(topic=f"kept-{uuid.uuid4().hex[:6]}", screenshot_retention_hours=24)
        store = S3Store(s3_config, "feedback-test", f"dlq-{uuid.uuid4().hex[:6]}")
        collector = Collector(CLASSIFIER, spec, store, kafka_bootstrap)
        try:
            collector.poll_once(200)  # connects
        finally:
            collector.close()
        assert retention(spec.dead_letters()) == 24 * 3600 * 1000
        for before, after, done in (
            (7 * 24 * 3600 * 1000, 24 * 3600 * 1000, "lowered"),
            (-1, 24 * 3600 * 1000, "lowered"),
            (3600 * 1000, 3600 * 1000, "kept"),
        ):
            topic = f"dlq-{uuid.uuid4().hex[:6]}"
            admin.create_topics([NewTopic(topic, 1, 1, topic_configs={"retention.ms": str(before)})])
            wait_for(lambda: topic in admin.list_topics(), 30, f"{topic} listed")
            assert bound_retention(admin, topic, 24) == done
            assert retention(topic) == after
    finally:
        admin.close()


def test_an_unlisted_reviewer_is_a_user_and_one_users_flood_is_capped(kafka_bootstrap, s3_config):
    """Whoever writes the topic does not teach the classifier alone: `source: reviewer` from a
    userId not in feedback.reviewers is buffered as a user's, and one user's flood past
    feedback.maxCorrectionsPerUser goes to the dead-letter topic with its reason."""
    topic = f"tenants-{uuid.uuid4().hex[:6]}"
    records = [good(1, source="reviewer", user_id="lead"), good(2, source="reviewer", user_id="mallory")]
    records += [good(100 + i, user_id="mallory") for i in range(8)]
    records += [good(3, user_id="alice")]
    produce(kafka_bootstrap, topic, records)
    store = S3Store(s3_config, "feedback-test", f"tenants-{uuid.uuid4().hex[:6]}")
    spec = FeedbackSpec(topic=topic, reviewers=["lead"], max_corrections_per_user=3)
    collector = Collector(CLASSIFIER, spec, store, kafka_bootstrap)
    try:
        run_until(collector, len(records), timeout=90)
    finally:
        collector.close()
    entries = {e.id: e for e in collector.state.buffer.entries.values()}
    assert entries["c-1"].source == "reviewer" and entries["c-2"].source == "user"
    assert [e.user_id for e in entries.values()].count("mallory") == 3 and entries["c-3"].user_id == "alice"
    counts = collector.state.counts.model_dump()
    assert counts["reviewer_downgraded"] == 1 and counts["over_user_cap"] == 6 and counts["buffered"] == 5
    dead = consume(kafka_bootstrap, spec.dead_letters(), 6)
    assert {dict(r.headers)["ontask-reason"] for r in dead} == {b"user-cap"}
