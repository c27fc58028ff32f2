"""A classifier's door for corrections: which records are its own, which are refused (sent to the
dead-letter topic with the reason and the original bytes), the keys that make a correction sent
twice a duplicate, and the buffer entry an accepted one becomes."""

from __future__ import annotations

import hashlib
import io
import logging
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Callable, Optional

from ontask.api import Correction, FeedbackSpec
from ontask.feedback.buffer import Entry
from ontask.feedback.evidence import encode_evidence, evidence_size
from ontask.feedback.messages import InvalidCorrection, parse_correction_and_image
from ontask.feedback.signatures import signature_problem
from ontask.feedback.state import CycleProgress, State
from ontask.images import DEFAULT_MAX_BYTES, ImageLimits, ImageRejected, check_image, sha256
from ontask.labels import label_of
from ontask.store import Forbidden, NotFound, StoreError, TooLarge, Unavailable
from ontask.store_paths import ReferenceRefused, confine_reference
from ontask.verify import VerifierConfig, score_windows

log = logging.getLogger(__name__)

# Kafka's default message.max.bytes is about 1 MB: an invalid record above this much travels to
# the dead-letter topic truncated, so that the send cannot fail for its size.
DEAD_LETTER_MAX_BYTES = 900_000


def content_key(image_sha256: str, task: str) -> str:
    """The same screenshot and task, whatever the id and whatever the label: a correction of the
    same moment sent again under a new id, or flipped, is a duplicate (the first one stands)."""
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
            rgb = img if img.mode == "RGB" else img.convert("RGB")
            cells = rgb.resize((PIXEL_KEY_SIDE, PIXEL_KEY_SIDE), Image.Resampling.BOX).tobytes()
    except Exception:  # noqa: BLE001 - any image Pillow cannot read is keyed by its bytes alone, never fails its batch
        return None
    coarse = bytes(b >> PIXEL_KEY_SHIFT for b in cells)
    return "px:" + hashlib.sha256(coarse + b"|" + " ".join(task.lower().split()).encode()).hexdigest()


@dataclass
class Accepted:
    """A record that passed validation, with its screenshot (None for a reference) and keys."""

    record: Any
    correction: Correction
    image: Optional[bytes]
    image_sha256: str
    evidence: Optional[bytes] = None  # its windows as stored (evidence.encode_evidence); None: no windows
    near_key: Optional[str] = None  # set by with_near_keys, a batch at a time

    @property
    def content_key(self) -> str:
        return content_key(self.image_sha256, self.correction.task)

    @property
    def evidence_sha256(self) -> Optional[str]:
        return sha256(self.evidence) if self.evidence is not None else None


def with_near_keys(accepted: list[Accepted], pool: Executor) -> None:
    """Set each inline screenshot's pixel_key, the batch's decoded side by side on `pool`: decoding
    a screenshot is most of a correction's cost (about 10 ms for a 1366x768 PNG) and Pillow
    decodes without the GIL, so threads use every core."""
    inline = [a for a in accepted if a.image is not None]
    for a, key in zip(inline, pool.map(lambda a: pixel_key(a.image, a.correction.task), inline)):
        a.near_key = key


class StoreUnavailable(RuntimeError):
    """The store could not be asked for a referenced screenshot (an outage, not the record's fault)."""


class Intake:
    """Validation and dead letters of one classifier's records. The dead-letter producer is set
    by whoever connects to Kafka (the collector)."""

    def __init__(
        self,
        classifier: str,
        spec: FeedbackSpec,
        bucket: Optional[str],
        limits: ImageLimits,
        verifier_config: VerifierConfig,
        read_reference: Callable[[str], bytes],
        user_key: Optional[bytes] = None,
        namespace: Optional[str] = None,
    ):
        """`read_reference` reads an s3:// screenshot reference (ontask.store.read_reference);
        with `user_key`, a userId counts only when signed with it (ontask.feedback.signatures);
        with `namespace`, a correction naming another namespace is another classifier's."""
        self.user_key, self.namespace = user_key, namespace
        self.classifier, self.spec, self.bucket, self.limits = classifier, spec, bucket, limits
        self.reference_limits = ImageLimits(DEFAULT_MAX_BYTES, limits.max_pixels)
        self.read_reference = read_reference
        self.verifier_config = verifier_config
        self.producer: Any = None

    def validate(self, record, state: State) -> Optional[Accepted]:
        """The accepted correction, or None (dead-lettered, or another classifier's). Whatever is
        wrong with a record, this never raises: a record that breaks the checks themselves is
        dead-lettered as `unreadable`, with the error."""
        if record.key is not None and record.key != self.classifier.encode():
            state.counts.other_classifier += 1
            return None
        try:
            c, image = parse_correction_and_image(
                record.value if record.value is not None else b"", self.limits.max_bytes
            )
            if not c.is_for(self.namespace, self.classifier):
                state.counts.other_classifier += 1
                return None
            if self.user_key is not None:
                screenshot = sha256(image) if image is not None else str(c.screenshot_uri)
                problem = signature_problem(self.user_key, c, screenshot)
                if problem is not None:
                    raise InvalidCorrection("bad-signature", problem)
            size = evidence_size(c)
            if size > self.spec.max_evidence_bytes:
                raise InvalidCorrection(
                    "oversized-evidence",
                    f"windows and note hold {size:,} bytes of text > {self.spec.max_evidence_bytes:,} "
                    "(feedback.maxEvidenceBytes)",
                )
            near = None  # an inline screenshot's pixel key comes later, a batch at a time (with_near_keys)
            if image is not None:
                check_image(image, "screenshotBase64", self.limits)
                digest = sha256(image)
            else:
                # Only what a client may have this classifier read: never another's artifacts.
                confine_reference(c.screenshot_uri, self.bucket, self.spec.screenshot_uri_prefixes)
                # Read once here, so that the same pixels under another key (or re-encoded) are a
                # duplicate as an inline screenshot is, and a missing or broken one is refused now
                # with its reason, not skipped by every later cycle.
                referenced = self._referenced(c.screenshot_uri)
                check_image(referenced, "screenshotUri", self.reference_limits)
                digest, near = sha256(referenced), pixel_key(referenced, c.task)
        except StoreUnavailable:
            raise  # the store's outage, not this record's fault: the batch is read again later
        except InvalidCorrection as e:
            self.dead_letter(record, e.reason, str(e), state)
            return None
        except ImageRejected as e:
            self.dead_letter(record, "bad-image", str(e), state)
            return None
        except ReferenceRefused as e:
            self.dead_letter(record, "forbidden-reference", str(e), state)
            return None
        except Exception as e:  # noqa: BLE001 - an unforeseen failure is this record's, not the topic's
            self.dead_letter(record, "unreadable", f"{type(e).__name__}: {e}", state)
            return None
        judge_topic = self.spec.judge_topic
        if c.source == "judge" and judge_topic is not None and record.topic != judge_topic:
            # Only what the predictors' principal wrote on the judge topic is the judge's.
            c = c.model_copy(update={"source": "user"})
            state.counts.judge_downgraded += 1
            log.info("collector %s: correction %s: source judge on %s, not on %s; kept as a user's",
                     self.classifier, c.id, record.topic, judge_topic)  # fmt: skip
        if c.source == "reviewer":
            refused = self.not_a_reviewer(record.topic, c)
            if refused is not None:
                # Only a reviewer gets top priority in the buffer; anyone else's correction counts
                # as a user's.
                c = c.model_copy(update={"source": "user"})
                state.counts.reviewer_downgraded += 1
                log.info(
                    "collector %s: correction %s: source reviewer %s; kept as a user's", self.classifier, c.id, refused
                )
        evidence = encode_evidence([w.wire() for w in c.windows]) if c.windows else None
        return Accepted(record, c, image, digest, evidence, near)

    def _referenced(self, uri: str) -> bytes:
        """The screenshot a correction references. What the store says of the object is the
        record's (a dead letter: missing, refused, too large, or any other answer about it); a
        store that does not answer properly (an outage, a 5xx, no connection) is the store's
        (StoreUnavailable: the batch is read again later)."""
        try:
            return self.read_reference(uri)
        except NotFound as e:
            raise InvalidCorrection("missing-reference", str(e)) from e
        except Forbidden as e:
            raise ReferenceRefused(f"the store refuses to read it: {e}") from e
        except TooLarge as e:
            raise ImageRejected(f"screenshotUri: {e}") from e
        except Unavailable as e:
            raise StoreUnavailable(f"cannot read {uri}: {e}") from e
        except StoreError as e:
            raise InvalidCorrection("unreadable-reference", str(e)) from e
        except Exception as e:
            raise StoreUnavailable(f"cannot read {uri}: {type(e).__name__}: {e}") from e

    def not_a_reviewer(self, topic: str, c: Correction) -> Optional[str]:
        """Why a correction that says `source: reviewer`, read from `topic`, is not a reviewer's,
        or None when it is. With a review topic, the broker's ACLs say who wrote it: it must have
        arrived there (and its userId be listed when feedback.reviewers is set). Without one, the
        payload's userId alone decides: whoever may write the topic may write a listed one."""
        review_topic, reviewers = self.spec.review_topic, self.spec.reviewers
        if review_topic is not None and topic != review_topic:
            return f"on {topic}, not on the review topic {review_topic}"
        if (review_topic is None or reviewers) and c.user_id not in reviewers:
            return f"from userId {c.user_id!r} not in feedback.reviewers"
        return None

    def dead_letter(self, record, reason: str, detail: str, state: State) -> None:
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
            self.producer.send(self.spec.dead_letters(), key=record.key, value=value, headers=headers).get(timeout=30)
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
            state.counts.dead_letter_failed += 1
            state.counts.dead_letter_failed_in_a_row += 1
            return
        state.counts.dead_letter_failed_in_a_row = 0
        state.counts.dead_lettered += 1
        state.dead_letter_reasons[reason] = state.dead_letter_reasons.get(reason, 0) + 1

    def over_cap(self, c: Correction, cycle: CycleProgress) -> Optional[tuple[str, str]]:
        """(dead-letter reason, why) when this correction is over its sender's or its source's
        allowance for the cycle; else None, and it is counted against both."""
        user_cap, source_cap = self.spec.max_corrections_per_user, self.spec.max_corrections_per_source.of(c.source)
        who = c.user_id if c.user_id is not None else f"(no userId, source {c.source})"
        if user_cap is not None and cycle.by_user.get(who, 0) >= user_cap:
            return (
                "user-cap",
                f"userId {who!r} already added {user_cap} corrections this cycle (feedback.maxCorrectionsPerUser)",
            )
        if source_cap is not None and cycle.by_source.get(c.source, 0) >= source_cap:
            return "source-cap", (
                f"source {c.source!r} already added {source_cap} corrections this cycle "
                f"(feedback.maxCorrectionsPerSource.{c.source})"
            )
        if user_cap is not None:
            cycle.by_user[who] = cycle.by_user.get(who, 0) + 1
        if source_cap is not None:
            cycle.by_source[c.source] = cycle.by_source.get(c.source, 0) + 1
        return None

    def is_edge_case(self, c: Correction) -> bool:
        """A case the verifier's rules get wrong: the model most needs to learn it."""
        if not c.windows:
            return False
        score, _ = score_windows(c.task, [w.wire() for w in c.windows], self.verifier_config)
        return (label_of(score)) != c.corrected_label

    def entry(
        self,
        a: Accepted,
        image: tuple[Optional[str], Optional[list[int]]],
        evidence: tuple[Optional[str], Optional[list[int]]],
        now: float,
    ) -> Entry:
        """The buffer entry of an accepted correction whose screenshot and evidence are stored
        where `image` and `evidence` say: (key, [offset, length] in it for a pack member)."""
        c = a.correction
        return Entry(
            id=c.id,
            content_key=a.content_key,
            near_key=a.near_key,
            user_id=c.user_id,
            image_sha256=a.image_sha256,
            image_key=image[0],
            image_range=image[1],
            evidence_key=evidence[0],
            evidence_range=evidence[1],
            task=c.task,
            label=c.corrected_label,
            source=c.source,
            received_at=now,
            predicted_label=c.predicted_label,
            confidence=c.confidence,
            model_version=c.model_version,
            session_id=c.session_id,
            edge_case=self.is_edge_case(c),
        )
