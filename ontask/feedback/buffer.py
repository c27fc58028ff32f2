"""The bounded, deduplicated, prioritised buffer of corrections: pure data and rules, no I/O
(the collector persists it). What teaches most stays when the buffer is full: corrections the
model got wrong with low confidence, cases the verifier's rules get wrong (edge cases), human
over judge, recent over old."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import orjson

SOURCE_WEIGHT = {"reviewer": 1.0, "user": 0.8, "judge": 0.5}
RECENCY_HALF_LIFE_H = 24.0 * 7


@dataclass
class Entry:
    """One stored correction: references to its screenshot and its window evidence, never the bytes."""

    id: str
    content_key: str  # image hash + task: the same correction sent under two ids, or flipped
    image_sha256: str
    image_key: Optional[str]  # None once the raw screenshot has passed its retention
    task: str
    label: str
    source: str
    received_at: float
    # Where its windows lie (ontask.feedback.evidence): [offset, length] in a pack of the store,
    # or the whole object when the range is None; no key: it came without windows, or their
    # retention has passed. Never the windows themselves: 64 of them may weigh 300 kB.
    evidence_key: Optional[str] = None
    evidence_range: Optional[list[int]] = None
    predicted_label: Optional[str] = None
    confidence: Optional[float] = None
    model_version: Optional[str] = None
    session_id: Optional[str] = None
    edge_case: bool = False  # the verifier's rules disagree with the corrected label
    cycle: Optional[int] = None  # the cycle that first trained on it
    # [offset, length] of the screenshot inside image_key's object (a pack of one poll's
    # screenshots); None when the object is the screenshot (a client's s3:// reference).
    image_range: Optional[list[int]] = None
    user_id: Optional[str] = None  # who sent it (signed, or the producer's claim): per-user caps, audits
    # The screenshot's pixels, coarsely (see intake.pixel_key) + task: the same screenshot with
    # a byte changed, re-encoded or re-tagged is the same correction, inline or referenced.
    # None when the pixels could not be read.
    near_key: Optional[str] = None


def priority(e: Entry, now: float) -> float:
    """How much an entry teaches, higher first; a pure function of the entry and the time."""
    score = SOURCE_WEIGHT.get(e.source, 0.5)
    if e.predicted_label is not None and e.predicted_label != e.label:
        score += 0.5  # the served model was wrong
        if e.confidence is not None:
            score += 0.5 * max(0.0, min(1.0, 2 * (1 - e.confidence)))  # ...and unsure: near its boundary
    if e.edge_case:
        score += 0.5
    age_h = max(0.0, now - e.received_at) / 3600
    score += 0.5 * math.exp(-age_h * math.log(2) / RECENCY_HALF_LIFE_H)
    if e.image_key is None:
        score -= 2.0  # without its screenshot it can no longer be trained on
    return score


def entry_bytes(e: Entry) -> int:
    """What an entry weighs in the stored state: its JSON and the comma after it."""
    return len(orjson.dumps(vars(e))) + 1


@dataclass
class AddResult:
    outcome: str  # "added" or "duplicate"
    evicted: Optional[Entry] = None


class Buffer:
    """At most `capacity` entries; ids and content keys ever seen are remembered (bounded) so a
    correction is stored once however often it is delivered."""

    MAX_SEEN = 200_000

    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError("buffer capacity must be >= 1")
        self.capacity = capacity
        self.entries: dict[str, Entry] = {}
        self.seen: dict[str, None] = {}  # insertion-ordered set of ids and content keys
        # Windows that an older collector kept inline in its state, by entry id: the collector
        # moves them to the store when it loads such a state (evidence.move_inline_windows).
        self.inline_windows: dict[str, list[dict[str, Any]]] = {}

    def is_duplicate(self, id: str, content_key: str, near_key: Optional[str] = None) -> bool:
        return id in self.seen or content_key in self.seen or (near_key is not None and near_key in self.seen)

    def add(self, e: Entry, now: float) -> AddResult:
        if self.is_duplicate(e.id, e.content_key, e.near_key):
            return AddResult("duplicate")
        for k in (e.id, e.content_key, e.near_key):
            if k is not None:
                self.seen[k] = None
        while len(self.seen) > self.MAX_SEEN:
            self.seen.pop(next(iter(self.seen)))
        self.entries[e.id] = e
        evicted = None
        if len(self.entries) > self.capacity:
            evicted = min(self.entries.values(), key=lambda x: (priority(x, now), x.received_at))
            del self.entries[evicted.id]
        return AddResult("added", evicted)

    def stored_keys(self) -> set[str]:
        """The store objects the entries name (screenshots and evidence): a pack goes once no
        entry names it."""
        return {k for e in self.entries.values() for k in (e.image_key, e.evidence_key) if k is not None}

    def shed(self, nbytes: int, now: float) -> list[Entry]:
        """Evict the entries of least value (as `add` does when over capacity) until their stored
        JSON adds up to at least `nbytes`, or none is left. Returns them."""
        out, freed = [], 0
        for e in sorted(self.entries.values(), key=lambda x: (priority(x, now), x.received_at)):
            if freed >= nbytes:
                break
            freed += entry_bytes(e)
            del self.entries[e.id]
            out.append(e)
        return out

    def forget_oldest(self, nbytes: int) -> int:
        """Forget the oldest ids and content keys seen until their stored JSON adds up to at
        least `nbytes` (a correction sent again after that is taken again). Returns how many."""
        keys, freed, n = list(self.seen), 0, 0
        while freed < nbytes and n < len(keys):
            freed += len(orjson.dumps(keys[n])) + 1
            n += 1
        self.seen = dict.fromkeys(keys[n:])  # one pass: deleting a dict's first keys one by one is quadratic
        return n

    def ranked(self, now: float) -> list[Entry]:
        """Entries, most valuable first."""
        return sorted(self.entries.values(), key=lambda x: (-priority(x, now), -x.received_at, x.id))

    def to_dict(self) -> dict[str, Any]:
        return {
            "capacity": self.capacity,
            # The entries' own dicts, not asdict's deep copies: the state is rewritten after every
            # batch, and the copies were most of a collector's time on a full buffer.
            "entries": [vars(e) for e in self.entries.values()],
            "seen": list(self.seen),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], capacity: Optional[int] = None) -> "Buffer":
        b = cls(capacity or d["capacity"])
        for stored in d.get("entries", []):
            e = dict(stored)
            windows = e.pop("windows", None)  # kept inline by collectors before ontask.feedback.evidence
            if windows:
                b.inline_windows[e["id"]] = windows
            b.entries[e["id"]] = Entry(**e)
        b.seen = dict.fromkeys(d.get("seen", []))
        return b
