"""What every backend of a classifier's children shares: the manifest each role gets, the state
read back for the reconcile plan (the children's, and the feedback collector's in the store), and
the cycle decisions written for the collector. A backend (ontask.operator.kube_children in the
cluster, ontask.operator.embedded on this machine) says how a child is created and how its state
is read."""

from __future__ import annotations

import functools
from typing import Any, Optional

from ontask.api import JudgeRuntime, TaskClassifierStatus
from ontask.evaluation.gate import read_evaluation
from ontask.operator.context import Context
from ontask.operator.manifests import data_job, inference_service, training_job, vllm_judge_service
from ontask.operator.names import child_name
from ontask.operator.pods import JUDGE_MODEL_NAME, model_storage_uri
from ontask.operator.reconcile import FIRST_VERSION, JobState, Observed, candidate_version
from ontask.operator.training import as_trainjob
from ontask.store_paths import feedback_state_key, model_key


@functools.lru_cache(maxsize=16)
def _open_store(uri: str):
    """One store client per URI for the operator's life: every reconcile pass reads the store, and
    opening an S3 store checks its bucket."""
    from ontask.store import open_store

    return open_store(uri)


class Children:
    """What every backend shares: the manifests, and reading the feedback state from the store.
    Backends say how to create a child and how to read a job's or a server's state."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    # --- backend interface
    def job_state(self, kind: str, name: str) -> Optional[tuple[JobState, str]]:
        """(state, failure message) of a Job ("job") or a training job ("training": a PyTorchJob or
        a TrainJob, whichever exists), or None when it does not exist."""
        raise NotImplementedError

    def server_state(self, name: str, shared: bool = False) -> Optional[tuple[bool, Optional[str]]]:
        """(ready, model version) of an InferenceService, or None when it does not exist; shared:
        one this classifier does not own (`judge.ref`), so not among its watched children."""
        raise NotImplementedError

    def create(self, role: str, body: dict[str, Any], model_version: Optional[str]) -> None:
        """Create the child, or adopt the one with its name (moving a student to model_version)."""
        raise NotImplementedError

    def canary_state(self, name: str, candidate: str) -> tuple[Optional[str], str]:
        """(None | Pending | Ready | Failed, message) of a candidate's canary revision."""
        return None, ""

    def prune_cycle_jobs(self, cycles: list[int], through: int) -> list[str]:
        """Delete the PyTorchJobs of these decided cycles (and any of this classifier's older than
        `through` that the backend can see); the names deleted. Local backends keep nothing."""
        return []

    # --- shared
    def store(self):
        return _open_store(self.ctx.store_uri)

    def record_decisions(self, previous_cycle: int, status: TaskClassifierStatus) -> None:
        """Write the operator's word for each cycle that a reconcile decided (those past
        `previous_cycle` up to `status.cycle`), the Trained condition's reason as its outcome.
        Called before the status that records them is written: the collector writes the next
        cycle's data only once this says the cycle is decided (written again, harmlessly, after a
        crash in between)."""
        from ontask.feedback.cycle import write_decision

        outcome = next((c.reason for c in status.conditions if c.type == "Trained"), "decided")
        for number in range(previous_cycle + 1, status.cycle + 1):
            write_decision(self.store(), self.ctx.prefix, number, outcome)

    def model_uri(self, version: str) -> str:
        return f"{self.ctx.store_uri.rstrip('/')}/{model_key(self.ctx.prefix, version)}"

    def _observe_feedback(self, obs: Observed, cycle: int) -> None:
        """The collector's counts, the next cycle's marker and, once written, its evaluation."""
        from ontask.store import StoreError

        try:
            self._read_feedback(obs, cycle)
        except StoreError as e:  # not "no such key": those are read as absent below
            obs.store_error = f"{self.ctx.store_uri}: {e}"
            obs.cycle_marker = obs.evaluation = None  # decide nothing on a partial read

    def _read_feedback(self, obs: Observed, cycle: int) -> None:
        from ontask.feedback.cycle import read_marker
        from ontask.feedback.state import State
        from ontask.store import NotFound

        store = self.store()
        try:
            data = store.get_bytes(feedback_state_key(self.ctx.prefix))
            state = State.from_json(data, self.ctx.spec.feedback.buffer_size)
            obs.feedback = {**state.observed_counts(), "state_bytes": len(data)}
        except NotFound:
            pass  # no correction yet
        obs.cycle_marker = read_marker(store, self.ctx.prefix, cycle + 1)
        if obs.cycle_marker is None:
            return
        found = self.job_state("training", child_name(self.ctx.name, "cycle", cycle + 1))
        if found is not None:
            obs.cycle_job, msg = found
            if obs.cycle_job == "Failed":
                obs.messages["cycle"] = msg or f"the cycle {self.ctx.training_backend} failed"
        obs.evaluation = read_evaluation(store, self.ctx.prefix, candidate_version(cycle + 1))

    def observe(self, status: TaskClassifierStatus) -> Observed:
        import time

        obs = Observed(now=time.time())
        if status.model_version is not None:
            self._observe_feedback(obs, status.cycle)
        for kind, role in (("job", "data"), ("training", "train")):
            found = self.job_state(kind, child_name(self.ctx.name, role))
            if found is not None:
                state, msg = found
                setattr(obs, role, state)
                if state == "Failed":
                    obs.messages[role] = msg or f"the {role} job failed"
        for role in ("judge", "student"):
            shared = self.ctx.spec.judge.ref if role == "judge" else None
            found = self.server_state(shared or child_name(self.ctx.name, role), shared=shared is not None)
            if found is None:
                continue
            if role == "judge":
                obs.judge_ready = found[0]
            else:
                obs.student_ready, obs.student_version = found
        obs.serverless = self.ctx.kserve_mode == "Serverless"
        if obs.serverless and status.candidate_version:
            obs.canary, msg = self.canary_state(child_name(self.ctx.name, "student"), status.candidate_version)
            if obs.canary == "Failed":
                obs.messages["canary"] = msg
        return obs

    def manifest(self, role: str, status: TaskClassifierStatus, obs: Observed) -> dict[str, Any]:
        ctx = self.ctx
        model_version = status.model_version
        if role == "cycle":
            marker = obs.cycle_marker
            serving = self.model_uri(model_version)
            return self.training(
                training_job(
                    ctx,
                    marker["dataset"],
                    marker["version"],
                    candidate_version(marker["cycle"]),
                    serving,
                    cycle=marker["cycle"],
                    compare_with=serving,
                )
            )
        if role == "canary":
            candidate = candidate_version(obs.cycle_marker["cycle"])
            return inference_service(
                ctx, "student", self.model_uri(candidate), candidate, canary_percent=ctx.spec.serving.canary_percent
            )
        if role == "data":
            return data_job(ctx, ctx.name)
        if role == "train":
            return self.training(training_job(ctx, ctx.name, "v1", FIRST_VERSION, ctx.spec.student.model))
        if role == "judge":
            if ctx.spec.judge.runtime == JudgeRuntime.vllm:
                return vllm_judge_service(ctx)
            return inference_service(ctx, "judge", model_storage_uri(ctx.spec.judge.model), JUDGE_MODEL_NAME)
        assert model_version is not None
        return inference_service(ctx, "student", self.model_uri(model_version), model_version)

    def training(self, pytorchjob: dict[str, Any]) -> dict[str, Any]:
        """A training run as the installation's backend runs it: the PyTorchJob, or the TrainJob
        translated from it."""
        if self.ctx.training_backend == "TrainJob":
            return as_trainjob(pytorchjob, self.ctx.training_runtime)
        return pytorchjob

    def ensure(self, role: str, status: TaskClassifierStatus, obs: Observed) -> None:
        self.create(role, self.manifest(role, status, obs), status.model_version)
