"""The feedback collector: corrections from Kafka into the classifier's prioritised buffer in the
artifact store, at least once from Kafka and exactly once in the buffer.

One collector per classifier, in its own consumer group, reads the feedback topic and keeps the
records keyed with its classifier's name. Per batch of records:
1. each is validated; an invalid one goes to the dead-letter topic with its reason and its
   original bytes (headers name the reason and the source offset);
2. inline screenshots are written to the store, a poll's in a few large objects (packs), so
   only references stay: a pack's key and each screenshot's byte range in it;
3. duplicates (same id, or same image + task + label) are dropped and counted;
4. the buffer, the counts and the next offset of each partition are written to the store as
   one object: the point of durability;
5. only then are the Kafka offsets committed.
A crash between 4 and 5 redelivers records the state already holds: their offsets are below the
stored ones, so they are skipped, never counted twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import orjson
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener

from ontask.data.images import ImageLimits, ImageRejected, check_image, sha256
from ontask.feedback.buffer import Buffer, Entry
from ontask.feedback.cycle import assemble_cycle, cycle_due, read_marker, write_marker
from ontask.feedback.dead_letters import bound_retention, retention_ms
from ontask.feedback.kafka_security import KafkaSecurity
from ontask.feedback.messages import InvalidCorrection, parse_correction_and_image
from ontask.labels import label_of
from ontask.spec import MAX_INLINE_IMAGE_BYTES, Correction, FeedbackSpec
from ontask.store import NotFound, Store
from ontask.store_paths import (
    ReferenceRefused,
    classifier_prefix,
    confine_reference,
    dataset_prefix,
    feedback_dataset,
    feedback_pack_key,
    feedback_packs_prefix,
    feedback_state_key,
    pack_created,
)
from ontask.verify.verifier import VerifierConfig, score_windows

log = logging.getLogger(__name__)


# Kafka's default message.max.bytes is about 1 MB: an invalid record above this much travels to
# the dead-letter topic truncated, so that the send cannot fail for its size.
DEAD_LETTER_MAX_BYTES = 900_000
FETCH_BYTES_PER_PARTITION = 8 * 1024 * 1024
# A poll's screenshots go out in objects of about this size: large enough that the store's
# per-request cost vanishes, small enough that the first leaves while the poll is validated.
PACK_BYTES = 2 * 1024 * 1024
UPLOAD_THREADS = 8  # parallel pack uploads: the store's per-request latency overlaps


def content_key(image_sha256: str, task: str, label: str = "") -> str:
    """The same screenshot and task, whatever the id and whatever the label: a correction of the
    same moment sent again under a new id, or flipped, is a duplicate (the first one stands).
    `label` is accepted for callers of the older key and not part of it."""
    return hashlib.sha256(f"{image_sha256}|{' '.join(task.lower().split())}".encode()).hexdigest()


PIXEL_KEY_SIDE = 32  # 1,024 cells: a 1280x800 screenshot's cell is 40x25 pixels
PIXEL_KEY_SHIFT = 3  # 32 levels a channel: one changed pixel moves a cell's mean by < 1 level


def pixel_key(image: bytes, task: str) -> Optional[str]:
    """What the screenshot looks like, coarsely (each channel's mean over a 32x32 grid, in 32
    levels) + the task: a byte changed in the file, a pixel changed, a lossless re-encoding or new
    metadata of the same screenshot give the same key, which the exact hash does not (a lossy
    re-encoding moves some cells across a level: not caught). Two different moments of the same
    application differ in many cells and do not. None when the
    pixels cannot be read (the image was checked already; then the exact key alone decides)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(image)) as img:
            img.draft("RGB", (PIXEL_KEY_SIDE * 4, PIXEL_KEY_SIDE * 4))  # JPEG: decode small
            cells = img.convert("RGB").resize((PIXEL_KEY_SIDE, PIXEL_KEY_SIDE), Image.Resampling.BOX).tobytes()
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    coarse = bytes(b >> PIXEL_KEY_SHIFT for b in cells)
    return "px:" + hashlib.sha256(coarse + b"|" + " ".join(task.lower().split()).encode()).hexdigest()


@dataclass
class State:
    """Everything that must survive a restart, written to the store as one JSON object."""

    buffer: Buffer
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            (
                "buffered",
                "dead_lettered",
                "dead_letter_failed",
                "dead_letter_failed_in_a_row",  # reset by the next dead letter the broker takes
                "duplicates",
                "evicted",
                "other_classifier",
                "screenshots_expired",
                "cycle_datasets_expired",
                "reviewer_downgraded",  # source: reviewer from a userId not in feedback.reviewers
                "over_user_cap",  # dead-lettered: the user's feedback.maxCorrectionsPerUser was reached
            ),
            0,
        )
    )
    offsets: dict[str, int] = field(default_factory=dict)  # partition -> next offset to process
    cycle: dict[str, Any] = field(default_factory=lambda: {"number": 0, "new": 0, "first_new_at": None})
    dead_letter_reasons: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "buffer": self.buffer.to_dict(),
                "counts": self.counts,
                "offsets": self.offsets,
                "cycle": self.cycle,
                "dead_letter_reasons": self.dead_letter_reasons,
            }
        )

    @classmethod
    def from_json(cls, data: bytes, capacity: int) -> "State":
        d = json.loads(data)
        s = cls(Buffer.from_dict(d["buffer"], capacity))
        s.counts.update(d.get("counts", {}))
        s.offsets, s.cycle = d.get("offsets", {}), d.get("cycle", s.cycle)
        s.dead_letter_reasons = d.get("dead_letter_reasons", {})
        return s

    def observed_counts(self) -> dict[str, int]:
        """What the operator reports in status.feedback: the counts and the corrections that wait
        for the next cycle."""
        return {**self.counts, "pending": int(self.cycle["new"])}


@dataclass
class _Accepted:
    record: Any
    correction: Correction
    image: Optional[bytes]
    image_sha256: str
    near_key: Optional[str] = None


class _Packs:
    """A poll's new screenshots, written as a few large objects (packs) instead of one object
    each: a PUT per screenshot was most of the collector's time (the store's per-request work on
    ~70 kB bodies). Each pack goes out as soon as it is full, while the rest of the poll is
    validated; a screenshot sent twice in one poll is stored once."""

    def __init__(self, collector: "Collector", created: float):
        self.collector, self.created = collector, created
        self.members: list[tuple[str, bytes]] = []
        self.taken: set[str] = set()
        self.size = 0
        self.placed: dict[str, tuple[str, list[int]]] = {}  # digest -> (pack key, [offset, length])
        self.uploads: list[Any] = []

    def add(self, digest: str, image: bytes) -> None:
        if digest in self.taken:
            return
        self.taken.add(digest)
        self.members.append((digest, image))
        self.size += len(image)
        if self.size >= PACK_BYTES:
            self.send()

    def send(self) -> None:
        """Start the upload of the screenshots added since the last pack went out."""
        if not self.members:
            return
        # Named by its members: a poll redelivered after a crash rewrites the same object.
        name = hashlib.sha256("".join(d for d, _ in self.members).encode()).hexdigest()[:32]
        key = feedback_pack_key(self.collector.prefix, self.created, name)
        offset = 0
        for digest, image in self.members:
            self.placed[digest] = (key, [offset, len(image)])
            offset += len(image)
        data = b"".join(image for _, image in self.members)
        self.uploads.append(self.collector._uploads.submit(self.collector.store.put_bytes, key, data))
        self.members, self.size = [], 0

    def wait(self) -> None:
        for done in self.uploads:
            done.result()

    def location(self, digest: str) -> tuple[Optional[str], Optional[list[int]]]:
        """(pack key, [offset, length]); (None, None) for a screenshot not stored in this poll:
        its correction is a duplicate, which the buffer drops."""
        key, where = self.placed.get(digest, (None, None))
        return key, (list(where) if where is not None else None)


class Collector:
    """Consumes one classifier's corrections into its buffer under `prefix` in the store."""

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
    ):
        self.classifier, self.spec, self.store, self.bootstrap = classifier, spec, store, bootstrap
        self.security = security or KafkaSecurity.from_env()
        self.prefix = prefix or classifier_prefix(classifier)
        self.group_id = group_id or f"ontask-feedback-{classifier}"
        self.clock, self.limits = clock, limits
        self.verifier_config = VerifierConfig.load()
        self._state_version: Optional[str] = None  # of state.json as last read or written
        self.state = self._load_state()
        self._consumer: Optional[KafkaConsumer] = None
        self._producer: Optional[KafkaProducer] = None
        self._uploads = ThreadPoolExecutor(upload_threads, thread_name_prefix="screenshot-upload")
        self._saver = ThreadPoolExecutor(1, thread_name_prefix="state-save")
        self._in_flight: Optional[tuple[Any, dict[str, int]]] = None  # (the save's future, its offsets)
        self._last_sweep = self._last_dataset_sweep = 0.0

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
            return State(Buffer(self.spec.buffer_size))
        return State.from_json(data, self.spec.buffer_size)

    def save_state(self) -> None:
        """Write the state now (after the batch in flight, if any). Only over the version this
        collector read: a second writer (an old operator still running during a handover) gets
        Conflict, and `run` reloads the state the first one wrote and resumes from its offsets,
        instead of writing over it."""
        self.flush()
        self._state_version = self.store.put_if(
            self.state_key, self.state.to_json(), "application/json", self._state_version
        )

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
            self._consumer.commit_async(
                offsets={
                    TopicPartition(self.spec.topic, int(p)): OffsetAndMetadata(o, "", -1) for p, o in offsets.items()
                },
                callback=self._commit_failed,
            )

    def _save_behind(self, packs: "_Packs", forgotten: list[str]) -> None:
        """Write this batch's state once its screenshots are stored, in the background: the next
        poll is fetched and validated meanwhile (the store's work and the collector's overlap),
        and `flush` waits for it before anything else is written or committed."""
        data, version, offsets = self.state.to_json(), self._state_version, dict(self.state.offsets)

        def save() -> str:
            packs.wait()  # every screenshot is stored before the state that names it
            written = self.store.put_if(self.state_key, data, "application/json", version)
            for key in forgotten:  # only once no durable state names them
                self.store.delete(key)
            return written

        self._in_flight = (self._saver.submit(save), offsets)

    # --- Kafka
    def _connect(self) -> None:
        collector = self

        class SeekToStored(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked):
                pass

            def on_partitions_assigned(self, assigned):
                # The store, not Kafka's committed offset, says what is done: a crash after the
                # state was written but before the commit must not reprocess those records.
                for tp in assigned:
                    stored = collector.state.offsets.get(str(tp.partition))
                    if stored is not None:
                        collector._consumer.seek(tp, stored)

        self._consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            **self.security.client_kwargs(),
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=500,
            # Corrections carry screenshots (~50-100 kB): at the 1 MiB default a fetch holds about
            # 15 of them, and every batch rewrites the state once.
            max_partition_fetch_bytes=FETCH_BYTES_PER_PARTITION,
            reconnect_backoff_max_ms=2000,
            # A crashed collector's partitions move on after 10 s, not 45.
            session_timeout_ms=10000,
            heartbeat_interval_ms=3000,
        )
        self._consumer.subscribe([self.spec.topic], listener=SeekToStored())
        self._bound_dead_letter_retention()
        self._producer = KafkaProducer(
            bootstrap_servers=self.bootstrap,
            **self.security.client_kwargs(),
            acks="all",
            retries=10,
            reconnect_backoff_max_ms=2000,
            max_request_size=DEAD_LETTER_MAX_BYTES + 65536,
            # A missing dead-letter topic fails a send in 10 s, not 60.
            max_block_ms=10000,
        )

    def _bound_dead_letter_retention(self) -> None:
        """Dead letters carry whole records, screenshots included: their topic keeps them no
        longer than the screenshots' retention. Where the broker's ACLs do not allow it, intake
        goes on and the log says what to set."""
        topic, hours = self.spec.dead_letters(), self.spec.screenshot_retention_hours
        try:
            admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, **self.security.client_kwargs())
            try:
                done = bound_retention(admin, topic, hours)
            finally:
                admin.close()
            log.info("collector %s: dead-letter topic %s retention %d h (%s)", self.classifier, topic, hours, done)
        except Exception as e:  # noqa: BLE001 - a missing permission must not stop intake
            log.warning(
                "collector %s: cannot bound the retention of dead-letter topic %s to %d h (%s); its records "
                "may carry screenshots: set its retention.ms to at most %d",
                self.classifier,
                topic,
                hours,
                e,
                retention_ms(hours),
            )

    def close(self) -> None:
        """Disconnect. A state write in flight is waited for (not committed): whoever reloads the
        state next reads the store as it will stay."""
        pending, self._in_flight = self._in_flight, None
        if pending is not None:
            try:
                pending[0].result()
            except Exception:  # noqa: BLE001 - a failed write is what the reload is for
                pass
        for c in (self._consumer, self._producer):
            if c is not None:
                try:
                    c.close()
                except Exception:  # noqa: BLE001 - closing a client of a dead broker may fail
                    pass
        self._consumer = self._producer = None

    def _dead_letter(self, record, reason: str, detail: str) -> None:
        """Send the record to the dead-letter topic with its reason and wait for the broker's
        acknowledgement. A value over DEAD_LETTER_MAX_BYTES travels truncated (a header gives its
        size). A send that fails is counted as such, never as dead-lettered, and never stops
        the collector: the record is skipped with its reason in the log."""
        value = record.value if record.value is not None else b""
        headers = [
            ("ontask-reason", reason.encode()),
            ("ontask-error", detail[:1000].encode()),
            ("ontask-source", f"{record.topic}/{record.partition}/{record.offset}".encode()),
        ]
        if len(value) > DEAD_LETTER_MAX_BYTES:
            headers.append(("ontask-truncated-from", str(len(value)).encode()))
            value = value[:DEAD_LETTER_MAX_BYTES]
        try:
            self._producer.send(self.spec.dead_letters(), key=record.key, value=value, headers=headers).get(timeout=30)
        except Exception as e:  # noqa: BLE001 - whatever the broker says, one record must not stop intake
            log.error(
                "collector %s: could not dead-letter %s/%s/%s (%s: %s): %s",
                self.classifier,
                record.topic,
                record.partition,
                record.offset,
                reason,
                detail[:200],
                e,
            )
            self.state.counts["dead_letter_failed"] += 1
            self.state.counts["dead_letter_failed_in_a_row"] += 1
            return
        self.state.counts["dead_letter_failed_in_a_row"] = 0
        self.state.counts["dead_lettered"] += 1
        self.state.dead_letter_reasons[reason] = self.state.dead_letter_reasons.get(reason, 0) + 1

    def _validate(self, record) -> Optional[_Accepted]:
        """The accepted correction, or None (dead-lettered, or another classifier's). Whatever is
        wrong with a record, this never raises: a record that breaks the checks themselves is
        dead-lettered as `unreadable`, with the error."""
        if record.key is not None and record.key != self.classifier.encode():
            self.state.counts["other_classifier"] += 1
            return None
        try:
            c, image = parse_correction_and_image(
                record.value if record.value is not None else b"", self.limits.max_bytes
            )
            if c.classifier != self.classifier:
                self.state.counts["other_classifier"] += 1
                return None
            if image is not None:
                check_image(image, "screenshotBase64", self.limits)
                digest = sha256(image)
                near = pixel_key(image, c.task)
            else:
                near = None
                # Only what a client may have this classifier read: never another's artifacts.
                confine_reference(
                    c.screenshot_uri, getattr(self.store, "bucket", None), self.spec.screenshot_uri_prefixes
                )
                digest = sha256(c.screenshot_uri.encode())  # a reference: its content is not fetched here
        except InvalidCorrection as e:
            self._dead_letter(record, e.reason, str(e))
            return None
        except ImageRejected as e:
            self._dead_letter(record, "bad-image", str(e))
            return None
        except ReferenceRefused as e:
            self._dead_letter(record, "forbidden-reference", str(e))
            return None
        except Exception as e:  # noqa: BLE001 - an unforeseen failure is this record's, not the topic's
            self._dead_letter(record, "unreadable", f"{type(e).__name__}: {e}")
            return None
        if c.source == "reviewer" and c.user_id not in self._reviewers:
            # Whoever writes the topic may claim to be a reviewer: only the spec's may (top
            # priority in the buffer); anyone else's correction counts as a user's.
            c = c.model_copy(update={"source": "user"})
            self.state.counts["reviewer_downgraded"] += 1
            log.info(
                "collector %s: correction %s: source reviewer from userId %r not in feedback.reviewers; kept as "
                "a user's",
                self.classifier,
                c.id,
                c.user_id,
            )
        return _Accepted(record, c, image, digest, near)

    @property
    def _reviewers(self) -> frozenset:
        return frozenset(self.spec.reviewers)

    def _over_user_cap(self, c: Correction) -> Optional[str]:
        """Why this correction is over its sender's allowance for the cycle, or None (and then it
        is counted against it)."""
        cap = self.spec.max_corrections_per_user
        if cap is None:
            return None
        who = c.user_id if c.user_id is not None else f"(no userId, source {c.source})"
        by_user = self.state.cycle.setdefault("by_user", {})
        if by_user.get(who, 0) >= cap:
            return f"userId {who!r} already added {cap} corrections this cycle (feedback.maxCorrectionsPerUser)"
        by_user[who] = by_user.get(who, 0) + 1
        return None

    def _is_edge_case(self, c: Correction) -> bool:
        """A case the verifier's rules get wrong: the model most needs to learn it."""
        if not c.windows:
            return False
        score, _ = score_windows(c.task, [w.wire() for w in c.windows], self.verifier_config)
        return (label_of(score)) != c.corrected_label

    def process(self, records: list) -> tuple[int, "_Packs", list[str]]:
        """Apply a batch of records to the in-memory state. Returns how many were new, the
        batch's screenshot uploads (started, not awaited: the state that names them is written
        once they are done) and the store keys that no entry names any more (deleted once that
        state is written)."""
        now = self.clock()
        accepted: list[_Accepted] = []
        packs = _Packs(self, now)
        for r in records:
            stored = self.state.offsets.get(str(r.partition), 0)
            if r.offset < stored:
                continue  # already in the durable state (redelivered after a crash)
            self.state.offsets[str(r.partition)] = r.offset + 1
            a = self._validate(r)
            if a is None:
                continue
            accepted.append(a)
            c = a.correction
            if a.image is not None and not self.state.buffer.is_duplicate(
                c.id, content_key(a.image_sha256, c.task), a.near_key
            ):
                packs.add(a.image_sha256, a.image)
        packs.send()  # the rest of the poll's screenshots: from here on each has its place
        added, forgotten = 0, []
        for a in accepted:
            c = a.correction
            if self.state.buffer.is_duplicate(c.id, content_key(a.image_sha256, c.task), a.near_key):
                self.state.counts["duplicates"] += 1
                continue
            over = self._over_user_cap(c)
            if over is not None:
                self._dead_letter(a.record, "user-cap", over)
                self.state.counts["over_user_cap"] += 1
                continue
            key, where = packs.location(a.image_sha256) if a.image is not None else (c.screenshot_uri, None)
            entry = Entry(
                id=c.id,
                content_key=content_key(a.image_sha256, c.task),
                near_key=a.near_key,
                user_id=c.user_id,
                image_sha256=a.image_sha256,
                image_key=key,
                image_range=where,
                task=c.task,
                label=c.corrected_label,
                source=c.source,
                received_at=now,
                windows=[w.wire() for w in c.windows],
                predicted_label=c.predicted_label,
                confidence=c.confidence,
                model_version=c.model_version,
                session_id=c.session_id,
                edge_case=self._is_edge_case(c),
            )
            result = self.state.buffer.add(entry, now)
            if result.outcome == "duplicate":
                self.state.counts["duplicates"] += 1
                continue
            added += 1
            self.state.counts["buffered"] += 1
            self.state.cycle["new"] += 1
            self.state.cycle["first_new_at"] = self.state.cycle["first_new_at"] or now
            if result.evicted is not None:
                self.state.counts["evicted"] += 1
                e = result.evicted
                if (
                    e.image_key
                    and e.image_key.startswith(self.prefix)
                    and not any(x.image_key == e.image_key for x in self.state.buffer.entries.values())
                ):
                    forgotten.append(e.image_key)
        return added, packs, forgotten

    def sweep_retention(self) -> int:
        """Delete raw screenshots older than the retention; their hashes and labels stay. Returns
        how many corrections lost their screenshot."""
        cutoff = self.clock() - self.spec.screenshot_retention_hours * 3600
        expired, dropped = 0, set()
        for e in self.state.buffer.entries.values():
            if e.image_key and e.received_at < cutoff:
                dropped.add(e.image_key)
                e.image_key, e.image_range = None, None
                expired += 1
        kept = {e.image_key for e in self.state.buffer.entries.values()}
        for key in dropped - kept:  # a pack goes once none of its corrections needs it
            if key.startswith(self.prefix):
                self.store.delete(key)
        self.state.counts["screenshots_expired"] += expired
        if self.clock() - self._last_dataset_sweep > 3600:
            self._last_dataset_sweep = self.clock()
            self.sweep_unnamed_packs(cutoff)
            self.sweep_cycle_datasets(cutoff)
        return expired

    def sweep_unnamed_packs(self, cutoff: float) -> int:
        """Delete the packs created before `cutoff` that no correction names: written before a
        crash or by a collector that lost a handover. Their screenshots keep the same retention
        as every other. Returns how many were deleted."""
        named = {e.image_key for e in self.state.buffer.entries.values()}
        deleted = 0
        for key in list(self.store.list(feedback_packs_prefix(self.prefix))):
            created = pack_created(key)
            if created is not None and created < cutoff and key not in named:
                self.store.delete(key)
                deleted += 1
        return deleted

    def sweep_cycle_datasets(self, cutoff: float) -> int:
        """Delete the cycle datasets written before `cutoff` (they hold copies of the corrections'
        screenshots), except the newest, which a cycle in flight may still read. The manifest
        goes first, so a version is never read half deleted. Returns how many were deleted."""
        from ontask.data.dataset import list_versions

        name = feedback_dataset(self.classifier)
        versions = list_versions(self.store, name)
        deleted = 0
        for v in versions[:-1]:
            folder = dataset_prefix(name, f"v{v}")
            manifest = json.loads(self.store.get_bytes(f"{folder}/manifest.json"))
            if dt.datetime.fromisoformat(manifest["created"]).timestamp() >= cutoff:
                continue
            self.store.delete(f"{folder}/manifest.json")
            for key in list(self.store.list(folder)):
                self.store.delete(key)
            deleted += 1
        self.state.counts["cycle_datasets_expired"] += deleted
        return deleted

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
        self._producer.flush(timeout=30)  # dead letters are on the broker before the state moves on
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
        number = self.state.cycle["number"] + 1
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
        self.state.cycle = {"number": number, "new": 0, "first_new_at": None}
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
