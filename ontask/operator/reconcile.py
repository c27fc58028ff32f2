"""The life of a classifier as one pure, level-triggered decision: from the spec, the current
status and what the children report, which children must exist and what the status becomes.
The handlers (cluster) and the embedded runner apply the same plan with their own backends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

from ontask.operator.conditions import set_condition
from ontask.spec import TaskClassifierSpec, TaskClassifierStatus

JobState = Literal["Absent", "Running", "Succeeded", "Failed"]
FIRST_VERSION = "v1"


@dataclass
class Observed:
    """What the operator sees of a classifier's children."""

    data: JobState = "Absent"
    train: JobState = "Absent"
    judge_ready: Optional[bool] = None  # None: no judge InferenceService
    student_ready: Optional[bool] = None
    student_version: Optional[str] = None
    messages: dict[str, str] = field(default_factory=dict)  # role -> failure message, when one failed


@dataclass
class Plan:
    ensure: list[str]  # roles whose child must exist: judge, data, train, student
    status: TaskClassifierStatus
    events: list[tuple[str, str, str]]  # (Normal|Warning, reason, message)


def plan(spec: TaskClassifierSpec, status: TaskClassifierStatus, obs: Observed) -> Plan:
    """The children to ensure and the status to write; pure, so every branch is unit-tested."""
    s = status.model_copy(deep=True)
    before = s.phase
    ensure: list[str] = []
    events: list[tuple[str, str, str]] = []
    cond = lambda t, st, reason, msg="": setattr(s, "conditions", set_condition(s.conditions, t, st, reason, msg))  # noqa: E731

    if spec.judge.enabled:
        ensure.append("judge")
        if obs.judge_ready:
            cond("JudgeServing", "True", "Ready", "the judge InferenceService is ready")
        else:
            cond("JudgeServing", "False", "Deploying", "waiting for the judge InferenceService")
    else:
        cond("JudgeServing", "False", "Disabled", "spec.judge.enabled is false")

    if s.model_version is None:
        if obs.data != "Succeeded":
            ensure.append("data")
            if obs.data == "Failed":
                s.phase = "Failed"
                cond("Ready", "False", "DataJobFailed", obs.messages.get("data", "the data job failed"))
            else:
                s.phase = "Bootstrapping"
                cond("Ready", "False", "Bootstrapping", "labelling the screenshots into dataset v1")
        else:
            ensure.append("train")
            if obs.train == "Failed":
                s.phase = "Failed"
                cond("Trained", "False", "TrainingFailed", obs.messages.get("train", "the training job failed"))
                cond("Ready", "False", "TrainingFailed", obs.messages.get("train", "the training job failed"))
            elif obs.train == "Succeeded":
                s.model_version = FIRST_VERSION
                cond("Trained", "True", "Trained", f"model {FIRST_VERSION} written")
            else:
                s.phase = "Training"
                cond("Trained", "False", "Training", "the GRPO PyTorchJob is running")
                cond("Ready", "False", "Training", "training the first model version")

    if s.model_version is not None:
        ensure.append("student")
        if obs.student_ready and obs.student_version == s.model_version:
            s.phase = "Serving"
            cond("StudentServing", "True", "Ready", f"the student serves {s.model_version}")
            cond("Ready", "True", "Serving", f"serving {s.model_version}")
        else:
            s.phase = "Training" if s.phase not in ("Serving", "Syncing") else s.phase
            cond("StudentServing", "False", "Deploying", f"deploying {s.model_version}")
            if s.phase != "Serving":
                cond("Ready", "False", "Deploying", f"deploying {s.model_version}")

    if s.phase != before:
        kind = "Warning" if s.phase == "Failed" else "Normal"
        events.append((kind, s.phase, f"phase {before} -> {s.phase}"
                       + (f": {obs.messages.get('train') or obs.messages.get('data') or ''}" if kind == "Warning" else "")))
    return Plan(ensure, s, events)
