"""The feedback collector: corrections from Kafka into the classifier's prioritised buffer in the
artifact store, at least once from Kafka and exactly once in the buffer.

One collector per classifier, in its own consumer group, reads the feedback topic (and the
review topic, when the spec names one) and keeps the records keyed with its classifier's name.
Per batch of records:
1. each is validated; an invalid one goes to the dead-letter topic with its reason and its
   original bytes (headers name the reason and the source offset): ontask.feedback.intake;
2. inline screenshots and the corrections' window evidence are written to the store, a poll's
   in a few large objects (packs), so only references stay: a pack's key and each member's
   byte range in it (ontask.feedback.packs, ontask.feedback.evidence);
3. duplicates (same id, or the same screenshot for the same task) are dropped and counted;
4. the buffer, the counts and the next offset of each topic's partitions are written to the
   store as one object (ontask.feedback.state), within spec.feedback.maxStateBytes (the
   corrections of least value are evicted to keep it there): the point of durability;
5. only then are the Kafka offsets committed.
A crash between 4 and 5 redelivers records the state already holds: their offsets are below the
stored ones, so they are skipped, never counted twice. Screenshots past their retention are swept
between batches (ontask.feedback.retention); a cycle's data is written when asked (`maybe_cycle`,
which ontask.feedback.loop calls when the cycle trigger fires).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Optional

from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition

from ontask.api import MAX_INLINE_IMAGE_BYTES, FeedbackSpec
from ontask.feedback.buffer import Entry
from ontask.feedback.connection import dead_letter_producer, feedback_consumer
from ontask.feedback.cycle import assemble_cycle, cycle_due, read_marker, write_marker
from ontask.feedback.dead_letters import bound_dead_letter_retention
from ontask.feedback.evidence import move_inline_windows
from ontask.feedback.intake import Accepted, Intake, with_near_keys
from ontask.feedback.kafka_security import KafkaSecurity
from ontask.feedback.packs import UPLOAD_THREADS, Packs
from ontask.feedback.retention import expire_screenshots, sweep_cycle_datasets, sweep_unnamed_packs
from ontask.feedback.signatures import MissingUserKey
from ontask.feedback.state import CycleProgress, State, offset_key, offset_partition
from ontask.images import DEFAULT_MAX_BYTES, ImageLimits
from ontask.store import Forbidden, NotFound, S3Store, Store, StoreError, Unavailable, read_reference
from ontask.store_paths import classifier_prefix, feedback_state_key
from ontask.verify import VerifierConfig, builtin_verifier_config

log = logging.getLogger(__name__)


class Collector:
    """Consumes one classifier's corrections into its buffer under `prefix` in the store.

    `verifier_config`: the serving model's verifier rules (ontask.verify.model_verifier_config),
    which say what a correction's edge case is; by default the built-in rules, the ones every
    model the operator trains from a base checkpoint carries."""

    def __init__(
        self,
        classifier: str,
        spec: FeedbackSpec,
        store: Store,
        bootstrap: str,
        prefix: Optional[str] = None,
        group_id: Optional[str] = None,
        clock: Callable[[], float] = time.time,
        limits: ImageLimits = ImageLimits(MAX_INLINE_IMAGE_BYTES),
        upload_threads: int = UPLOAD_THREADS,
        security: Optional[KafkaSecurity] = None,
        verifier_config: Optional[VerifierConfig] = None,
        user_key: Optional[bytes] = None,
        namespace: Optional[str] = None,
    ):
        """`namespace` is the classifier's (the operator's collector knows it): a correction that
        names another namespace is not its own, even under its name."""
        self.classifier, self.spec, self.store, self.bootstrap = classifier, spec, store, bootstrap
        if spec.user_key_secret_ref is not None and not user_key:
            raise MissingUserKey(f"feedback.userKeySecretRef {spec.user_key_secret_ref!r} is set, yet no user key came")
        self.security = security or KafkaSecurity()  # plaintext unless given (ontask.feedback.settings)
        self.prefix = prefix or classifier_prefix(classifier)
        self.group_id = group_id or f"ontask-feedback-{classifier}"
        self.clock = clock
        rules = verifier_config or builtin_verifier_config()
        self.intake = Intake(
            classifier,
            spec,
            getattr(store, "bucket", None),
            limits,
            rules,
            self._read_reference,
            user_key,
            namespace,
        )
        self._state_version: Optional[str] = None  # of state.json as last read or written
        self.state = self._load_state()
        self._warned_at_limit = False
        self._consumer: Optional[KafkaConsumer] = None
        self._uploads = ThreadPoolExecutor(upload_threads, thread_name_prefix="screenshot-upload")
        # Two decodes at a time: both cores of the collector's pod (its CPU limit, not the node's
        # count), and no more than two screenshots' pixels in memory (an 8192x8192 PNG of 200 kB
        # decodes to 256 MB).
        self._decoders = ThreadPoolExecutor(2, thread_name_prefix="screenshot-decode")
        self._saver = ThreadPoolExecutor(1, thread_name_prefix="state-save")
        self._in_flight: Optional[tuple[Any, dict[str, int]]] = None  # (the save's future, its offsets)
        self._last_sweep = self._last_dataset_sweep = 0.0

    def _read_reference(self, uri: str) -> bytes:
        """A screenshot a correction references (confined to the collector's bucket by the
        intake), read over the collector's own S3 connection. A folder store reads none: its
        bucket is unknown, and a reference could name any bucket the environment's keys reach. An
        AccessDenied counts against the reference only while the collector may still read its
        own state; otherwise its keys were revoked, an outage to wait out."""
        if not isinstance(self.store, S3Store):
            raise Forbidden(f"{uri}: this collector's store is a folder, which reads no s3:// reference")
        try:
            return read_reference(uri, DEFAULT_MAX_BYTES, through=self.store)
        except Forbidden:
            try:
                self.store.exists(self.state_key)
            except StoreError as e:
                raise Unavailable(f"the store refuses this collector its own state too ({e})") from e
            raise

    # --- durable state
    @property
    def state_key(self) -> str:
        return feedback_state_key(self.prefix)

    def _load_state(self) -> State:
        # Only a missing object is a fresh start; any other error is raised and retried, never
        # answered with an empty state that the next save would write over the real one.
        try:
            data, self._state_version = self.store.get_versioned(self.state_key)
        except NotFound:
            self._state_version = None
            return State.empty(self.spec.buffer_size)
        state = State.from_json(data, self.spec.buffer_size)
        if state.buffer.inline_windows:
            # The next state written names the pack instead: it is the first thing in the store.
            moved = move_inline_windows(self.store, self.prefix, state.buffer, self.clock())
            log.info("collector %s: moved the windows of %d corrections out of the state", self.classifier, moved)
        return state

    def save_state(self) -> None:
        """Write the state now (after the batch in flight, if any). Only over the version this
        collector read: a second writer (an old operator still running during a handover) gets
        Conflict, and `run` reloads the state the first one wrote and resumes from its offsets,
        instead of writing over it."""
        self.flush()
        data, forgotten = self._serialized()
        self._state_version = self.store.put_if(self.state_key, data, "application/json", self._state_version)
        for key in forgotten:
            self.store.delete(key)

    def _serialized(self) -> tuple[bytes, list[str]]:
        """The state to write, within spec.feedback.maxStateBytes, and the store keys that no entry
        names once it is written (those of the entries evicted to make it fit)."""
        data, evicted = self.state.to_json_within(self.spec.max_state_bytes, self.clock())
        if evicted and not self._warned_at_limit:
            self._warned_at_limit = True  # once per collector: it would repeat on every batch from here on
            log.warning(
                "collector %s: the state reached feedback.maxStateBytes (%d bytes): the corrections of least value "
                "are evicted to keep it there (%d so far)",
                self.classifier,
                self.spec.max_state_bytes,
                self.state.counts.evicted_for_size,
            )
        if len(data) > self.spec.max_state_bytes:
            log.error(
                "collector %s: the state holds %d bytes with no correction left to evict, over feedback.maxStateBytes "
                "(%d): raise it",
                self.classifier,
                len(data),
                self.spec.max_state_bytes,
            )
        return data, self._unnamed(evicted)

    def _unnamed(self, evicted: list[Entry]) -> list[str]:
        """Our store keys (packs) that evicted entries named and no entry names any more."""
        if not evicted:
            return []
        named = self.state.buffer.stored_keys()
        keys = {k for e in evicted for k in (e.image_key, e.evidence_key) if k is not None}
        return sorted(k for k in keys if k.startswith(self.prefix) and k not in named)

    def flush(self) -> None:
        """Wait until the last batch is durable (its screenshots, then the state that names
        them), then commit its offsets to Kafka. Raises what the store raised: the in-memory
        state is then ahead of the store and must be reloaded (as `run` does)."""
        pending, self._in_flight = self._in_flight, None
        if pending is None:
            return
        saving, offsets = pending
        self._state_version = saving.result()
        if self._consumer is not None:
            # Not awaited: the store's offsets, not Kafka's, say where a restarted collector
            # resumes (the group's offsets are for lag monitoring), so a lost commit loses nothing.
            # Only the topics read now: a review topic since removed from the spec is not.
            read, topics = [(offset_partition(k, self.spec.topic), o) for k, o in offsets.items()], self.spec.topics()
            self._consumer.commit_async(
                offsets={TopicPartition(t, p): OffsetAndMetadata(o, "", -1) for (t, p), o in read if t in topics},
                callback=self._commit_failed,
            )

    def _save_behind(self, packs: Packs, forgotten: list[str]) -> None:
        """Write this batch's state once its screenshots are stored, in the background: the next
        poll is fetched and validated meanwhile (the store's work and the collector's overlap),
        and `flush` waits for it before anything else is written or committed."""
        data, shed = self._serialized()
        forgotten = forgotten + [k for k in shed if k not in forgotten]
        version, offsets = self._state_version, dict(self.state.offsets)

        def save() -> str:
            packs.wait()  # every screenshot is stored before the state that names it
            written = self.store.put_if(self.state_key, data, "application/json", version)
            for key in forgotten:  # only once no durable state names them
                self.store.delete(key)
            return written

        self._in_flight = (self._saver.submit(save), offsets)

    # --- Kafka
    def _connect(self) -> None:
        self._consumer = feedback_consumer(
            self.bootstrap,
            self.security,
            self.group_id,
            self.spec.topics(),
            stored_offset=lambda topic, partition: self.state.offsets.get(self._offset_key(topic, partition)),
        )
        bound_dead_letter_retention(self.classifier, self.bootstrap, self.security, self.spec)
        self.intake.producer = dead_letter_producer(self.bootstrap, self.security)

    def _offset_key(self, topic: str, partition: int) -> str:
        return offset_key(topic, partition, self.spec.source_topics().values())

    def close(self) -> None:
        """Disconnect. A state write in flight is waited for (not committed): whoever reloads the
        state next reads the store as it will stay."""
        pending, self._in_flight = self._in_flight, None
        if pending is not None:
            try:
                pending[0].result()
            except Exception:  # noqa: BLE001 - a failed write is what the reload is for
                pass
        for c in (self._consumer, self.intake.producer):
            if c is not None:
                try:
                    c.close()
                except Exception:  # noqa: BLE001 - closing a client of a dead broker may fail
                    pass
        self._consumer = self.intake.producer = None

    def process(self, records: list) -> tuple[int, Packs, list[str]]:
        """Apply a batch of records to the in-memory state. Returns how many were new, the
        batch's screenshot uploads (started, not awaited: the state that names them is written
        once they are done) and the store keys that no entry names any more (deleted once that
        state is written)."""
        now = self.clock()
        state, buffer = self.state, self.state.buffer
        accepted: list[Accepted] = []
        packs = Packs(self.store, self.prefix, now, self._uploads)
        for r in records:
            where = self._offset_key(r.topic, r.partition)
            if r.offset < state.offsets.get(where, 0):
                continue  # already in the durable state (redelivered after a crash)
            state.offsets[where] = r.offset + 1
            a = self.intake.validate(r, state)
            if a is None:
                continue
            accepted.append(a)
        with_near_keys(accepted, self._decoders)
        for a in accepted:
            if not buffer.is_duplicate(a.correction.id, a.content_key, a.near_key):
                if a.image is not None:
                    packs.add(a.image_sha256, a.image)
                if a.evidence is not None:
                    packs.add(a.evidence_sha256, a.evidence)
        packs.send()  # the rest of the poll's screenshots and evidence: from here on each has its place
        added, evicted = 0, []
        for a in accepted:
            c = a.correction
            if buffer.is_duplicate(c.id, a.content_key, a.near_key):
                state.counts.duplicates += 1
                continue
            over = self.intake.over_cap(c, state.cycle)
            if over is not None:
                reason, why = over
                self.intake.dead_letter(a.record, reason, why, state)
                if reason == "user-cap":
                    state.counts.over_user_cap += 1
                else:
                    state.counts.over_source_cap += 1
                continue
            image = packs.location(a.image_sha256) if a.image is not None else (c.screenshot_uri, None)
            evidence = packs.location(a.evidence_sha256) if a.evidence is not None else (None, None)
            result = buffer.add(self.intake.entry(a, image, evidence, now), now)
            if result.outcome == "duplicate":
                state.counts.duplicates += 1
                continue
            added += 1
            state.counts.buffered += 1
            state.cycle.new += 1
            state.cycle.first_new_at = state.cycle.first_new_at or now
            if result.evicted is not None:
                state.counts.evicted += 1
                evicted.append(result.evicted)
        return added, packs, self._unnamed(evicted)

    def sweep_retention(self) -> int:
        """Delete raw screenshots older than the retention; their hashes and labels stay. The
        packs no correction names and the old cycle datasets are swept at most hourly (they are
        listed, not looked up). Returns how many corrections lost their screenshot."""
        cutoff = self.clock() - self.spec.screenshot_retention_hours * 3600
        expired = expire_screenshots(self.store, self.prefix, self.state, cutoff)
        if self.clock() - self._last_dataset_sweep > 3600:
            self._last_dataset_sweep = self.clock()
            sweep_unnamed_packs(self.store, self.prefix, self.state.buffer, cutoff)
            sweep_cycle_datasets(self.store, self.classifier, self.state.counts, cutoff)
        return expired

    def poll_once(self, timeout_ms: int = 1000) -> int:
        """One batch: consume, apply, persist, then commit. Returns the number of new corrections."""
        if self._consumer is None:
            self._connect()
        batches = self._consumer.poll(timeout_ms=timeout_ms, max_records=500)
        records = [r for tp_records in batches.values() for r in tp_records]
        now = self.clock()
        swept = 0
        if now - self._last_sweep > 60:
            swept, self._last_sweep = self.sweep_retention(), now
        if not records and not swept:
            self.flush()  # an idle poll makes the last batch durable
            return 0
        added, packs, forgotten = self.process(records)
        self.intake.producer.flush(timeout=30)  # dead letters are on the broker before the state moves on
        self.flush()  # the previous batch's state first: each write is over the one before
        self._save_behind(packs, forgotten)
        return added

    def _commit_failed(self, offsets, response) -> None:
        if isinstance(response, Exception):
            log.warning(
                "collector %s: Kafka offset commit failed (the store's offsets stand): %s", self.classifier, response
            )

    def maybe_cycle(
        self, replay_dataset: Optional[str] = None, replay_version: Optional[str] = None
    ) -> Optional[dict[str, Any]]:
        """When a cycle is due, write its dataset and marker and return the marker (the event
        the operator acts on); None otherwise. A marker already written for this number (a crash
        before the state was saved) is reused, not written twice."""
        now = self.clock()
        if not cycle_due(self.state.cycle, self.spec, now):
            return None
        self.flush()  # the cycle reads the screenshots of the batch in flight
        number = self.state.cycle.number + 1
        marker = read_marker(self.store, self.prefix, number)
        if marker is None:
            entries = [e for e in self.state.buffer.ranked(now) if e.image_key]
            manifest = assemble_cycle(
                self.store, self.classifier, number, entries, self.spec, replay_dataset, replay_version
            )
            marker = write_marker(self.store, self.prefix, number, manifest, [e.id for e in entries])
        trained = set(marker["corrections"])
        for e in self.state.buffer.entries.values():
            if e.cycle is None and e.id in trained:
                e.cycle = number
        self.state.cycle = CycleProgress(number=number)
        self.save_state()
        return marker

    def run(
        self, stop: threading.Event, on_batch: Optional[Callable[["Collector"], None]] = None, poll_ms: int = 1000
    ) -> None:
        """Consume until `stop` is set, surviving broker outages: on any failure the in-memory
        state is thrown away and reloaded from the store, and consumption resumes from there."""
        reload, backoff = False, 2.0
        while not stop.is_set():
            try:
                if reload:  # a store still failing here is waited out like any other outage
                    self.state, reload = self._load_state(), False
                self.poll_once(poll_ms)
                if on_batch is not None:
                    on_batch(self)
                backoff = 2.0
            except Exception as e:  # noqa: BLE001 - Kafka and S3 outages are waited out, not fatal
                log.warning("collector %s: %s; reloading state and reconnecting in %.0f s", self.classifier, e, backoff)
                self.close()
                reload = True
                stop.wait(backoff)
                backoff = min(60.0, backoff * 2)
        try:
            self.flush()
        except Exception as e:  # noqa: BLE001 - stopping: the next collector resumes from the store
            log.warning("collector %s: the last batch was not stored (%s); it will be read again", self.classifier, e)
        self.close()
