"""Waking a classifier's reconcile loop when something it depends on changed: a child's watch
event, a feedback batch, a spec edit. Each classifier's loop waits on its own flag, with a
timeout as the slow safety net; a poke may come from any thread."""

from __future__ import annotations

import asyncio
import threading
from typing import Hashable, Optional


class Wakeups:
    """One asyncio flag per key (a classifier's namespace and name), set from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flags: dict[Hashable, tuple[asyncio.AbstractEventLoop, asyncio.Event]] = {}

    def register(self, key: Hashable) -> None:
        """Called by the key's loop, inside its event loop, before its first pass (so that a poke
        before registering needs no keeping: that pass sees what the poke was about)."""
        with self._lock:
            self._flags[key] = (asyncio.get_running_loop(), asyncio.Event())

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._flags.pop(key, None)

    def poke(self, key: Hashable) -> None:
        """Wake the key's loop; safe from any thread. A key with no loop is ignored."""
        with self._lock:
            found = self._flags.get(key)
        if found is None:
            return
        loop, event = found
        try:
            if _running_loop() is loop:
                event.set()
            else:
                loop.call_soon_threadsafe(event.set)
        except RuntimeError:  # the loop closed: nothing left to wake
            pass

    async def wait(self, key: Hashable, timeout: float, settle: float = 0.0) -> bool:
        """Wait until poked or `timeout` seconds passed; True when poked. A poke is followed by
        `settle` seconds more, so that a burst of pokes is one wake-up; pokes that come after
        that, while the loop works, wake it once more."""
        with self._lock:
            found = self._flags.get(key)
        if found is None:
            raise KeyError(f"{key!r} is not registered")
        event = found[1]
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        if settle > 0:
            await asyncio.sleep(settle)
        event.clear()
        return True


def _running_loop() -> Optional[asyncio.AbstractEventLoop]:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
