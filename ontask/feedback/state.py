"""The collector's durable state: everything that must survive a restart, written to the store as
one JSON object (`feedback_state_key`) after every batch. A restarted collector resumes from its
offsets; the operator reads its counts into status.feedback. The JSON keeps the layout that
earlier collectors wrote, so a running deployment resumes across an upgrade (the windows they kept
inline are moved into the store: ontask.feedback.evidence). It holds references, never evidence,
and stays within spec.feedback.maxStateBytes (`to_json_within`)."""

from __future__ import annotations

import json
from typing import Collection, Optional

import orjson
from pydantic import BaseModel, ConfigDict, Field

from ontask.feedback.buffer import Buffer, Entry

SHED_SLACK = 64  # bytes


def offset_key(topic: str, partition: int, source_topics: Collection[str]) -> str:
    """A partition's key in State.offsets: a source's own topic's (the review or the judge topic)
    as <topic>/<partition> (a topic name has no slash), the corrections topic's by number alone
    (the layout earlier collectors wrote)."""
    return f"{topic}/{partition}" if topic in source_topics else str(partition)


def offset_partition(key: str, corrections_topic: str) -> tuple[str, int]:
    """The topic and partition of an offset_key."""
    topic, _, partition = key.rpartition("/")
    return topic or corrections_topic, int(partition)


class Counts(BaseModel):
    """What became of the records the collector read (status.feedback reports them)."""

    buffered: int = 0
    dead_lettered: int = 0
    dead_letter_failed: int = 0
    dead_letter_failed_in_a_row: int = Field(0, description="Reset by the next dead letter the broker takes.")
    duplicates: int = 0
    evicted: int = Field(0, description="Evicted because the buffer held feedback.bufferSize corrections.")
    evicted_for_size: int = Field(
        0, description="Evicted because the state would have passed feedback.maxStateBytes (least value first)."
    )
    other_classifier: int = 0
    screenshots_expired: int = 0
    cycle_datasets_expired: int = 0
    reviewer_downgraded: int = Field(
        0,
        description="source: reviewer kept as a user's: from a userId not in feedback.reviewers, or (with "
        "feedback.reviewTopic) not on the review topic.",
    )
    over_user_cap: int = Field(
        0, description="Dead-lettered: the user's feedback.maxCorrectionsPerUser was reached this cycle."
    )
    judge_downgraded: int = Field(
        0, description="source: judge kept as a user's: with feedback.judgeTopic, not on the judge topic."
    )
    over_source_cap: int = Field(
        0, description="Dead-lettered: the source's feedback.maxCorrectionsPerSource was reached this cycle."
    )


class CycleProgress(BaseModel):
    """Where the next sync cycle stands."""

    number: int = Field(0, description="The last cycle whose data was written (0: none yet).")
    new: int = Field(0, description="Corrections buffered since that cycle: they wait for the next one.")
    first_new_at: Optional[float] = Field(None, description="When the first of them arrived (epoch seconds).")
    by_user: dict[str, int] = Field(
        default_factory=dict, description="Corrections each sender added since that cycle (maxCorrectionsPerUser)."
    )
    by_source: dict[str, int] = Field(
        default_factory=dict, description="Corrections each source added since that cycle (maxCorrectionsPerSource)."
    )


class State(BaseModel):
    """The buffer, the counts, the next offset of each partition and the cycle's progress."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    buffer: Buffer
    counts: Counts = Field(default_factory=Counts)
    offsets: dict[str, int] = Field(
        default_factory=dict,
        description="Next offset to process of each partition read (keys: offset_key).",
    )
    cycle: CycleProgress = Field(default_factory=CycleProgress)
    dead_letter_reasons: dict[str, int] = Field(default_factory=dict)

    @classmethod
    def empty(cls, capacity: int) -> "State":
        """A fresh start: an empty buffer of `capacity` entries."""
        return cls(buffer=Buffer(capacity))

    def to_json(self) -> bytes:
        """The stored object. The buffer serializes itself: it is most of the bytes, and written
        after every batch."""
        return orjson.dumps(
            {
                "buffer": self.buffer.to_dict(),
                "counts": self.counts.model_dump(),
                "offsets": self.offsets,
                "cycle": self.cycle.model_dump(),
                "dead_letter_reasons": self.dead_letter_reasons,
            }
        )

    def to_json_within(self, max_bytes: int, now: float) -> tuple[bytes, list[Entry]]:
        """The stored object in at most `max_bytes`: when it would pass them, the entries of least
        value are evicted until it fits (counted as evicted_for_size), and should the rest still
        pass them, the oldest ids and keys seen are forgotten. Returns the bytes (over the limit
        only when nothing is left to shed) and the entries evicted."""
        data = self.to_json()
        if len(data) <= max_bytes:
            return data, []
        # The slack covers the counts' own digits growing with this eviction.
        evicted = self.buffer.shed(len(data) - max_bytes + SHED_SLACK, now)
        self.counts.evicted_for_size += len(evicted)
        data = self.to_json()
        if len(data) > max_bytes:
            self.buffer.forget_oldest(len(data) - max_bytes + SHED_SLACK)
            data = self.to_json()
        return data, evicted

    @classmethod
    def from_json(cls, data: bytes, capacity: int) -> "State":
        """The state as stored, its buffer resized to `capacity` (spec.feedback.bufferSize may
        have changed since)."""
        d = json.loads(data)
        return cls.model_validate({**d, "buffer": Buffer.from_dict(d["buffer"], capacity)})

    def observed_counts(self) -> dict[str, int]:
        """What the operator reports in status.feedback: the counts and the corrections that wait
        for the next cycle."""
        return {**self.counts.model_dump(), "pending": self.cycle.new}
