"""Pure helpers for status conditions, shaped and kept as Kubernetes' metav1.Condition: a
transition time changes only when the status of a condition changes; its observedGeneration,
reason and message follow every update."""

from __future__ import annotations

import datetime as dt
from typing import Optional

from ontask.api import Condition

# metav1.Condition's limit on a message.
MAX_MESSAGE = 32768


def now_rfc3339() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def set_condition(
    conditions: list[Condition],
    type_: str,
    status: str,
    reason: str,
    message: str = "",
    when: Optional[str] = None,
    observed_generation: Optional[int] = None,
) -> list[Condition]:
    """A new list with the condition of this type set; others are kept in order.

    observed_generation: the classifier's metadata.generation the condition was decided from
    (None keeps the one it had: the embedded mode has no generation)."""
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 3] + "..."
    out: list[Condition] = []
    found = False
    for c in conditions:
        if c.type == type_:
            found = True
            changed = c.status != status
            out.append(
                Condition(
                    type=type_,
                    status=status,
                    observed_generation=observed_generation
                    if observed_generation is not None
                    else c.observed_generation,
                    reason=reason,
                    message=message,
                    last_transition_time=(when or now_rfc3339()) if changed else c.last_transition_time,
                )
            )
        else:
            out.append(c)
    if not found:
        out.append(
            Condition(
                type=type_,
                status=status,
                observed_generation=observed_generation,
                reason=reason,
                message=message,
                last_transition_time=when or now_rfc3339(),
            )
        )
    return out
