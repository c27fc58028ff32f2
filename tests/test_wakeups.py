"""The reconcile loops' wake-up flags: a poke from any thread wakes the right loop once."""

from __future__ import annotations

import asyncio
import threading
import time

from ontask.operator.wakeups import Wakeups


def test_a_poke_from_another_thread_wakes_only_its_own_loop():
    async def main():
        w = Wakeups()
        w.register("a")
        w.register("b")
        threading.Thread(target=lambda: (time.sleep(0.05), w.poke("a"))).start()
        woke_a, woke_b = await asyncio.gather(w.wait("a", 5.0), w.wait("b", 0.3))
        return woke_a, woke_b

    assert asyncio.run(main()) == (True, False)


def test_a_burst_of_pokes_wakes_once_and_a_timeout_is_not_a_poke():
    async def main():
        w = Wakeups()
        w.register("a")
        w.poke("a")
        asyncio.get_running_loop().call_later(0.05, w.poke, "a")  # within the settle time
        first = await w.wait("a", 1.0, settle=0.2)
        second = await w.wait("a", 0.1)
        w.poke("a")  # while the loop works: one more wake-up
        third = await w.wait("a", 0.1)
        return first, second, third

    assert asyncio.run(main()) == (True, False, True)


def test_a_poke_for_no_loop_is_ignored_and_a_forgotten_key_is_refused():
    async def main():
        w = Wakeups()
        w.poke("a")  # nobody waits: nothing to keep (a loop's first pass needs no poke)
        w.register("a")
        poked = await w.wait("a", 0.1)
        w.forget("a")
        try:
            await w.wait("a", 0.1)
        except KeyError:
            return poked, "refused"
        return poked, "waited"

    assert asyncio.run(main()) == (False, "refused")
