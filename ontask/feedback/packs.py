"""Screenshot packs: a poll's new screenshots (and its corrections' window evidence) written as a
few large objects in the store, each correction naming its pack and its byte range there. A PUT
per screenshot was most of the collector's time (the store's per-request work on ~70 kB bodies)."""

from __future__ import annotations

import hashlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Optional

from ontask.store import Store
from ontask.store_paths import feedback_pack_key

# A poll's screenshots go out in objects of about this size: large enough that the store's
# per-request cost vanishes, small enough that the first leaves while the poll is validated.
PACK_BYTES = 2 * 1024 * 1024
UPLOAD_THREADS = 8  # parallel pack uploads: the store's per-request latency overlaps


class Packs:
    """One poll's packs. Each goes out as soon as it is full, while the rest of the poll is
    validated; a screenshot sent twice in one poll is stored once."""

    def __init__(self, store: Store, prefix: str, created: float, uploads: ThreadPoolExecutor):
        self.store, self.prefix, self.created, self.uploads = store, prefix, created, uploads
        self.members: list[tuple[str, bytes]] = []
        self.taken: set[str] = set()
        self.size = 0
        self.placed: dict[str, tuple[str, list[int]]] = {}  # digest -> (pack key, [offset, length])
        self.sending: list[Future] = []

    def add(self, digest: str, image: bytes) -> None:
        """Add a screenshot (or a correction's evidence) by its sha256; the pack goes out once it
        holds PACK_BYTES."""
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
        key = feedback_pack_key(self.prefix, self.created, name)
        offset = 0
        for digest, image in self.members:
            self.placed[digest] = (key, [offset, len(image)])
            offset += len(image)
        data = b"".join(image for _, image in self.members)
        self.sending.append(self.uploads.submit(self.store.put_bytes, key, data))
        self.members, self.size = [], 0

    def wait(self) -> None:
        """Until every pack sent is stored; raises what the store raised."""
        for done in self.sending:
            done.result()

    def location(self, digest: str) -> tuple[Optional[str], Optional[list[int]]]:
        """(pack key, [offset, length]); (None, None) for a screenshot not stored in this poll:
        its correction is a duplicate, which the buffer drops."""
        key, where = self.placed.get(digest, (None, None))
        return key, (list(where) if where is not None else None)
