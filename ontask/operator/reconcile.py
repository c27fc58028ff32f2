"""The life of a classifier as one pure, level-triggered decision: from the spec, the current
status and what the children report, which children must exist and what the status becomes.
The handlers (cluster) and the embedded runner apply the same plan with their own backends."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Optional

from ontask.api import TaskClassifierSpec, TaskClassifierStatus
from ontask.operator.conditions import set_condition

if TYPE_CHECKING:
    from ontask.evaluation.gate import Evaluation

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
    cycle_marker: Optional[dict] = None  # the collector's marker of the next cycle, once it is due
    cycle_job: JobState = "Absent"  # that cycle's PyTorchJob
    evaluation: Optional[Evaluation] = None  # the candidate's evaluation, once its job wrote it
    feedback: Optional[dict] = None  # the collector's counts
    store_error: Optional[str] = None  # the store answered with something else than "no such key"
    serverless: bool = False  # KServe runs in Serverless mode: candidates go through a canary
    canary: Optional[str] = None  # None (no canary), Pending, Ready or Failed: the candidate's revision
    now: float = 0.0  # when this was observed (epoch seconds)


# How soon a classifier whose store did not answer is looked at again.
STORE_RECHECK_SECONDS = 30.0

# Invalid corrections in a row that could not be dead-lettered before FeedbackConnected says so.
DEAD_LETTER_FAILURES_TO_REPORT = 10
# The share of feedback.maxStateBytes from which the collector's state counts as at its limit
# (it sheds corrections to stay under it, so a state that had to is just below it).
STATE_NEAR_LIMIT = 0.9


@dataclass
class Plan:
    ensure: list[str]  # roles whose child must exist: judge, data, train, student
    status: TaskClassifierStatus
    events: list[tuple[str, str, str]]  # (Normal|Warning, reason, message)
    # Seconds until the plan may change with no event (a canary's time running out); None: only an
    # event (a child, a feedback batch, a spec edit) can change it.
    recheck_after: Optional[float] = None
    # Decided cycles whose PyTorchJobs are past spec.feedback.keepCycleJobs: cycles this pass moved
    # out of the window (the backends delete them, and may sweep older leftovers too).
    prune_cycles: list[int] = field(default_factory=list)
    # The newest cycle whose job may go (0: none): every cycle up to it is decided.
    prune_through: int = 0


def plan(spec: TaskClassifierSpec, status: TaskClassifierStatus, obs: Observed) -> Plan:
    """The children to ensure and the status to write; pure, so every branch is unit-tested."""
    s = status.model_copy(deep=True)
    s.warnings = spec.deprecations()
    before = s.phase
    ensure: list[str] = []
    events: list[tuple[str, str, str]] = []
    # Every condition says which generation of the spec it was decided from (metav1.Condition).
    cond = lambda t, st, reason, msg="": setattr(  # noqa: E731
        s, "conditions", set_condition(s.conditions, t, st, reason, msg, observed_generation=s.observed_generation)
    )
    events += [("Warning", "DeprecatedField", w) for w in s.warnings if w not in status.warnings]

    if spec.judge.enabled:
        # A shared judge (judge.ref) is someone else's: waited for, never created.
        judge = (
            f"the shared judge InferenceService {spec.judge.ref}" if spec.judge.ref else "the judge InferenceService"
        )
        if not spec.judge.ref:
            ensure.append("judge")
        if obs.judge_ready:
            cond("JudgeServing", "True", "Ready", f"{judge} is ready")
        else:
            cond("JudgeServing", "False", "Deploying" if not spec.judge.ref else "Waiting", f"waiting for {judge}")
    else:
        cond("JudgeServing", "False", "Disabled", "spec.judge.enabled is false")

    if s.model_version is None:
        # The customer's screenshots are labelled by the judge service: the data Job waits for it.
        needs_judge = spec.judge.enabled and spec.data.source != "synthetic"
        if obs.data != "Succeeded":
            if obs.data != "Absent" or obs.judge_ready or not needs_judge:
                ensure.append("data")
            if obs.data == "Failed":
                s.phase = "Failed"
                cond("Ready", "False", "DataJobFailed", obs.messages.get("data", "the data job failed"))
            elif "data" not in ensure:
                s.phase = "Bootstrapping"
                cond("Ready", "False", "Bootstrapping", "waiting for the judge to label the screenshots with")
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

    if s.model_version is not None and s.phase in ("Serving", "Syncing") and obs.cycle_marker is not None:
        _cycle(spec, s, obs, ensure, events, cond)

    if obs.store_error is not None:
        # The counts in status stay as last read; nothing is decided on what could not be read.
        cond(
            "FeedbackConnected",
            "False",
            "StoreUnavailable",
            f"the store cannot be read ({obs.store_error}): corrections wait in Kafka and cycles wait until it answers",
        )
    elif obs.feedback is not None:
        s.feedback.received = obs.feedback.get("buffered", 0)
        s.feedback.rejected = obs.feedback.get("dead_lettered", 0)
        s.feedback.pending = obs.feedback.get("pending", 0)
        failing = obs.feedback.get("dead_letter_failed_in_a_row", 0)
        if failing >= DEAD_LETTER_FAILURES_TO_REPORT:
            cond(
                "FeedbackConnected",
                "False",
                "DeadLetterFailing",
                f"the last {failing} invalid corrections could not be sent to the dead-letter topic "
                f"{spec.feedback.dead_letters()} (missing, or refusing them): they were skipped, counted "
                "as dead_letter_failed; valid corrections are still buffered",
            )
        elif obs.feedback.get("state_bytes", 0) >= STATE_NEAR_LIMIT * spec.feedback.max_state_bytes:
            # The state as last written, not the count of evictions (which only grows): raising
            # maxStateBytes clears it.
            cond(
                "FeedbackConnected",
                "True",
                "StateAtLimit",
                f"{s.feedback.received} corrections buffered; {obs.feedback['evicted_for_size']} evicted, least "
                "value first, to keep the collector's state within feedback.maxStateBytes "
                f"({spec.feedback.max_state_bytes:,} bytes; {obs.feedback.get('state_bytes', 0):,} written last): "
                "raise it, or lower bufferSize",
            )
        else:
            cond("FeedbackConnected", "True", "Consuming", f"{s.feedback.received} corrections buffered")

    if s.phase != before:
        kind = "Warning" if s.phase == "Failed" else "Normal"
        why = next((obs.messages[k] for k in ("cycle", "train", "data") if obs.messages.get(k)), "")
        events.append((kind, s.phase, f"phase {before} -> {s.phase}" + (f": {why}" if kind == "Warning" else "")))
    recheck = None
    if s.canary_since is not None:
        recheck = max(0.0, spec.serving.canary_minutes * 60 - (obs.now - _epoch(s.canary_since)))
    if obs.store_error is not None:
        # A store coming back sends no event: look again.
        recheck = min(recheck if recheck is not None else STORE_RECHECK_SECONDS, STORE_RECHECK_SECONDS)
    keep = spec.feedback.keep_cycle_jobs
    through = max(0, s.cycle - keep)
    prune = list(range(max(1, status.cycle - keep + 1), through + 1))
    return Plan(ensure, s, events, recheck, prune_cycles=prune, prune_through=through)


# How soon a classifier whose child the API server refused is tried again: a CRD being installed
# or a quota being raised sends this classifier no event.
CHILD_RETRY_SECONDS = 30.0

# The condition where each role's child shows; Ready too while the classifier serves nothing.
ROLE_CONDITIONS = {
    "judge": "JudgeServing",
    "student": "StudentServing",
    "canary": "StudentServing",
    "train": "Trained",
    "cycle": "Trained",
    "collector": "FeedbackConnected",
}


@dataclass
class ChildError:
    """Why the API server would not take a child (create or update): its reason (CRDMissing,
    Forbidden, Invalid, APIError) and message, for the status and an event."""

    role: str  # judge, data, train, student, cycle, canary, collector
    kind: str  # the child's kind, as in its manifest
    reason: str
    message: str


def with_child_errors(decided: Plan, previous: TaskClassifierStatus, errors: list[ChildError]) -> Plan:
    """The plan's status once the children in `errors` could not be written: each failure on its
    role's condition (and on Ready unless the classifier serves), a Warning event for each one
    that `previous` did not already say, and a retry after CHILD_RETRY_SECONDS. The phase stays
    what the plan decided (what the classifier is trying to do); the conditions say why it
    does not get there."""
    if not errors:
        return decided
    s = decided.status.model_copy(deep=True)
    events = list(decided.events)
    serving = s.phase in ("Serving", "Syncing")
    said = {(c.type, c.reason, c.message) for c in previous.conditions}
    for e in errors:
        types = [ROLE_CONDITIONS[e.role]] if e.role in ROLE_CONDITIONS else []
        if not serving or not types:
            types.append("Ready")
        for t in dict.fromkeys(types):
            s.conditions = set_condition(s.conditions, t, "False", e.reason, e.message)
        if not all((t, e.reason, e.message) in said for t in types):
            events.append(("Warning", e.reason, e.message))
    recheck = min(
        decided.recheck_after if decided.recheck_after is not None else CHILD_RETRY_SECONDS, CHILD_RETRY_SECONDS
    )
    return Plan(decided.ensure, s, events, recheck)


def _rfc3339(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _canary_gate(spec: TaskClassifierSpec, s: TaskClassifierStatus, obs: Observed) -> str:
    """running (not ready yet, or ready for less than canaryMinutes), failed, or passed; records
    in status when the canary became ready."""
    if obs.canary == "Failed":
        return "failed"
    if obs.canary != "Ready":
        return "running"
    if s.canary_since is None:
        s.canary_since = _rfc3339(obs.now)
    return "running" if obs.now - _epoch(s.canary_since) < spec.serving.canary_minutes * 60 else "passed"


def candidate_version(cycle: int) -> str:
    """The model version a cycle trains: v1 is the first model, cycle n trains v(n+1)."""
    return f"v{cycle + 1}"


def _cycle(spec: TaskClassifierSpec, s: TaskClassifierStatus, obs: Observed, ensure: list[str], events, cond) -> None:
    """Sync cycle status.cycle + 1: train from the serving version on the cycle's dataset, then
    promote the candidate only if its evaluation gains at least promoteIfGain. Where KServe runs
    in Serverless mode, a candidate that passes first serves canaryPercent of the traffic; it
    replaces the serving version once its revision is ready, and a failed canary rolls back."""
    n = s.cycle + 1
    ensure.append("cycle")
    s.candidate_version = candidate_version(n)
    if obs.cycle_job == "Failed":
        # The training operator has spent the job's own retries. The serving version is as good as
        # before, so the classifier keeps serving and says why; the cycle is passed over, and its
        # corrections stay in the buffer for the next one.
        msg = obs.messages.get("cycle", f"the cycle {n} PyTorchJob failed")
        events.append(("Warning", "CycleFailed", f"cycle {n}: {msg}; kept {s.model_version}"))
        cond("Trained", "False", "CycleFailed", f"cycle {n}: {msg}; still serving {s.model_version}")
        s.cycle = n
        s.candidate_version = s.canary_since = None
        s.phase = "Serving"
        return
    if obs.cycle_job != "Succeeded" or obs.evaluation is None:
        s.phase = "Syncing"
        cond(
            "Trained",
            "False",
            "CycleTraining",
            f"cycle {n}: training {s.candidate_version} on "
            f"{obs.cycle_marker.get('dataset')} {obs.cycle_marker.get('version')}",
        )
        return
    decision = obs.evaluation.decision
    canary_failed = False
    if decision.promote and obs.serverless and 0 < spec.serving.canary_percent < 100:
        gate = _canary_gate(spec, s, obs)
        if gate == "running":
            if "student" in ensure:
                ensure.remove("student")  # the canary patch owns the student while it runs
            ensure.append("canary")
            s.phase = "Syncing"
            cond(
                "Trained",
                "False",
                "Canary",
                f"cycle {n}: {s.candidate_version} serves "
                f"{spec.serving.canary_percent}% of the traffic"
                + (f" since {s.canary_since}" if s.canary_since else ""),
            )
            return
        if gate == "failed":
            canary_failed = True
            decision = decision.overruled(
                f"the canary failed ({obs.messages.get('canary', 'revision not ready')}); "
                f"rolled back to {s.model_version}"
            )
    if decision.promote:
        events.append(
            ("Normal", "Promoted", f"cycle {n}: {s.candidate_version} replaces {s.model_version}: {decision.reason}")
        )
        s.model_version = s.candidate_version
        if decision.candidate_accuracy is not None:
            s.metrics.accuracy = round(decision.candidate_accuracy, 4)
        cond("Trained", "True", "Promoted", f"cycle {n}: {decision.reason}")
    else:
        kind, reason = ("Warning", "CanaryRolledBack") if canary_failed else ("Normal", "KeptServing")
        events.append(
            (kind, reason, f"cycle {n}: kept {s.model_version}, {s.candidate_version} not promoted: {decision.reason}")
        )
        if decision.serving_accuracy is not None:
            s.metrics.accuracy = round(decision.serving_accuracy, 4)
        cond("Trained", "True", "NotPromoted", f"cycle {n}: {decision.reason}")
    edge = obs.evaluation.edge_case_accuracy()
    if edge is not None:
        s.metrics.edge_case_accuracy = round(edge, 4)
    latency = obs.evaluation.p50_latency_ms("candidate" if decision.promote else "serving")
    if latency is not None:
        s.metrics.p50_latency_ms = round(latency, 1)
    s.cycle = n
    s.candidate_version = s.canary_since = None
    s.phase = "Serving"
