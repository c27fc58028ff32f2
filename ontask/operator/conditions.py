"""Pure helpers for status conditions (Kubernetes conventions: a transition time changes
only when the status of a condition changes)."""

from __future__ import annotations

import datetime as dt
from typing import Optional

from ontask.spec import Condition


def now_rfc3339() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def set_condition(
    conditions: list[Condition], type_: str, status: str, reason: str, message: str = "", when: Optional[str] = None
) -> list[Condition]:
    """A new list with the condition of this type set; others are kept in order."""
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
                type=type_, status=status, reason=reason, message=message, last_transition_time=when or now_rfc3339()
            )
        )
    return out
