"""A correction's window evidence outside the collector's state: how much a correction may carry,
the bytes it is stored as (a member of the poll's pack, beside the screenshots), and reading it
back for a cycle. The state names where it lies, as it does for a screenshot, so the state
grows by a reference per correction whatever the windows say."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from ontask.api import Correction
from ontask.feedback.buffer import Buffer, Entry
from ontask.store import Store
from ontask.store_paths import feedback_pack_key


def evidence_size(c: Correction) -> int:
    """The bytes of text a correction carries beside its screenshot: its windows' app names,
    titles, URLs and page texts and its note, in UTF-8 (what spec.feedback.maxEvidenceBytes bounds)."""
    texts = [t for w in c.windows for t in (w.app, w.title, w.url or "", w.page_text or "")] + [c.note or ""]
    return sum(len(t.encode()) for t in texts)


def encode_evidence(windows: list[dict[str, Any]]) -> bytes:
    """The stored form of a correction's windows (their wire dicts): JSON."""
    return orjson.dumps(windows)


def read_evidence(store: Store, e: Entry) -> list[dict[str, Any]]:
    """The windows of a buffer entry: [] when it has none; raises what the store raises (a
    missing pack: its retention has passed) and ValueError for bytes that are not its JSON."""
    if e.evidence_key is None:
        return []
    if e.evidence_range is not None:
        data = store.get_range(e.evidence_key, *e.evidence_range)
    else:
        data = store.get_bytes(e.evidence_key)
    windows = orjson.loads(data)
    if not isinstance(windows, list):
        raise ValueError(f"{e.evidence_key}: the evidence of {e.id} is not a list of windows")
    return windows


def move_inline_windows(store: Store, prefix: str, buffer: Buffer, now: float) -> int:
    """Write the windows that a collector before this one kept inside state.json (read into
    `buffer.inline_windows`) as one pack, and make their entries name it: the next state written
    no longer holds them. Returns how many entries' windows moved."""
    moving = [(buffer.entries[i], encode_evidence(w)) for i, w in buffer.inline_windows.items() if i in buffer.entries]
    if moving:
        name = hashlib.sha256("".join(e.id for e, _ in moving).encode()).hexdigest()[:32]
        key = feedback_pack_key(prefix, now, name)
        store.put_bytes(key, b"".join(data for _, data in moving))
        offset = 0
        for e, data in moving:
            e.evidence_key, e.evidence_range = key, [offset, len(data)]
            offset += len(data)
    buffer.inline_windows = {}
    return len(moving)
