"""The two labels, spelled here and nowhere else (a test checks): what the student answers,
what a correction says, what datasets and metrics count; and where a probability of on-task
turns into the on-task label, also said once."""

from __future__ import annotations

from typing import Literal

ON, OFF = "on-task", "off-task"
LABELS: tuple[str, str] = (ON, OFF)
Label = Literal["on-task", "off-task"]

# P(on-task) from this value up reads as on-task.
ON_TASK_FROM = 0.5


def label_of(p_on_task: float) -> str:
    """The label a probability of on-task stands for (0.5 counts as on-task).

    >>> label_of(0.5), label_of(0.49)
    ('on-task', 'off-task')
    """
    return ON if p_on_task >= ON_TASK_FROM else OFF
