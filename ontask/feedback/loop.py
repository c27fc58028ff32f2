"""A classifier's feedback loop, one code path for the operator's collector Deployment (`ontask
feedback collect --config`) and embedded mode (a thread of ontask.operator.embedded): consume the
corrections and, after each batch, write the next sync cycle's data when the cycle trigger fires.
What becomes of a cycle's candidate is the promotion gate's (ontask.evaluation.promotion)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional

from ontask.feedback.collector import Collector
from ontask.feedback.cycle import cycle_due, next_cycle_open
from ontask.feedback.state import Counts


@dataclass(frozen=True)
class CycleTrigger:
    """When the collector writes the next cycle's dataset and marker: `feedback.cycleEvery` new
    corrections (or any that waited `maxCycleWaitMinutes`), and, where an operator trains the
    cycles, one cycle in flight: only once the operator decided the previous one (the first, once
    the classifier's own dataset, which cycles replay, exists)."""

    replay_dataset: Optional[str]
    operator_decides: bool = True

    def fires(self, collector: Collector) -> bool:
        """Whether `collector` should write the next cycle now."""
        if not cycle_due(collector.state.cycle, collector.spec, collector.clock()):
            return False
        return not self.operator_decides or next_cycle_open(
            collector.store, collector.prefix, collector.state.cycle.number, self.replay_dataset
        )


def run_feedback(
    collector: Collector,
    stop: threading.Event,
    trigger: Optional[CycleTrigger],
    on_cycle: Callable[[dict[str, Any]], None] = lambda marker: None,
    on_counts: Callable[[Counts], None] = lambda counts: None,
    poll_ms: int = 1000,
) -> None:
    """Consume until `stop` is set (Collector.run: outages are waited out). After each batch,
    write the next cycle when `trigger` fires (None: never) and pass its marker to `on_cycle`,
    then pass the counts to `on_counts`."""

    def after_batch(c: Collector) -> None:
        if trigger is not None and trigger.fires(c):
            marker = c.maybe_cycle(trigger.replay_dataset)
            if marker:
                on_cycle(marker)
        on_counts(c.state.counts)

    collector.run(stop, on_batch=after_batch, poll_ms=poll_ms)
