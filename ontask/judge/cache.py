"""Judgments cached by content: an in-memory LRU in front of a persistent cache in the store,
so a repeated screenshot never costs a second forward pass."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any, Optional

from ontask.store import Store, StoreError


def judgment_key(
    image_sha256: str, task: str, windows: Any, prompt_version: str, model_id: str, mode: str, answer: str = ""
) -> str:
    """The content key of a judgment: anything that changes the verdict is in it."""
    blob = json.dumps(
        [image_sha256, task.strip(), windows or [], prompt_version, model_id, mode, answer],
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()


class JudgmentCache:
    """LRU (capacity entries) in front of an optional store under `prefix`."""

    def __init__(self, capacity: int = 10000, store: Optional[Store] = None, prefix: str = "judge-cache"):
        self.capacity, self.store, self.prefix = capacity, store, prefix.strip("/")
        self._lru: OrderedDict[str, dict] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def _path(self, key: str) -> str:
        return f"{self.prefix}/{key[:2]}/{key}.json"

    def get(self, key: str) -> Optional[dict]:
        with self._lock:
            if key in self._lru:
                self._lru.move_to_end(key)
                self.hits += 1
                return self._lru[key]
        if self.store is not None:
            try:
                value = json.loads(self.store.get_bytes(self._path(key)))
            except (StoreError, ValueError):
                value = None
            if value is not None:
                self._remember(key, value)
                with self._lock:
                    self.hits += 1
                return value
        with self._lock:
            self.misses += 1
        return None

    def put(self, key: str, value: dict) -> None:
        self._remember(key, value)
        if self.store is not None:
            self.store.put_bytes(self._path(key), json.dumps(value).encode(), "application/json")

    def _remember(self, key: str, value: dict) -> None:
        with self._lock:
            self._lru[key] = value
            self._lru.move_to_end(key)
            while len(self._lru) > self.capacity:
                self._lru.popitem(last=False)
