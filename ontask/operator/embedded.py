"""Embedded mode: the operator's reconcile plan with local backends, no cluster. A Job or
PyTorchJob runs as local `ontask` processes from the same manifests' container args (a
PyTorchJob with torchrun's environment), an InferenceService as a local KServe ModelServer
(`ontask serve`) on its STORAGE_URI, and the store is a folder. `ontask demo` runs on this."""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

from ontask.api import TaskClassifierSpec, TaskClassifierStatus
from ontask.operator.children import Children
from ontask.operator.context import Context
from ontask.operator.local import (
    Processes,
    container_env,
    free_port,
    predictor_command,
    predictor_ready,
    predictor_role,
    replica_log,
    run_pytorchjob,
    with_local_judge,
)
from ontask.operator.reconcile import JobState, plan

log = logging.getLogger("ontask.embedded")


class LocalChildren(Children):
    """Children as local processes (ontask.operator.local); their logs go to `workdir/<name>.log`."""

    def __init__(self, ctx: Context, workdir: Path):
        super().__init__(ctx)
        self.procs = Processes(workdir)
        self.jobs: dict[str, tuple[str, list[subprocess.Popen]]] = {}  # name -> (log of rank 0, processes)
        self.servers: dict[str, tuple[Optional[str], subprocess.Popen, int, str]] = {}

    def job_state(self, kind: str, name: str) -> Optional[tuple[JobState, str]]:
        if name not in self.jobs:
            return None
        log, procs = self.jobs[name]
        if any(p.poll() is None for p in procs):
            return "Running", ""
        if all(p.returncode == 0 for p in procs):
            return "Succeeded", ""
        return "Failed", self.procs.log_tail(log)

    def server_state(self, name: str, shared: bool = False) -> Optional[tuple[bool, Optional[str]]]:
        server = self.servers.get(name)  # a shared judge would have to run here too: none does
        if server is None:
            return None
        version, proc, port, role = server
        return proc.poll() is None and predictor_ready(port, role), version

    def url(self, name: str) -> Optional[str]:
        server = self.servers.get(name)
        return f"http://127.0.0.1:{server[2]}" if server else None

    def create(self, role: str, body: dict[str, Any], model_version: Optional[str]) -> None:
        name = body["metadata"]["name"]
        if body["kind"] == "Job":
            if name not in self.jobs:
                c = body["spec"]["template"]["spec"]["containers"][0]
                args = with_local_judge(c["args"], self.url)
                if args is not None:  # else the judge is not up yet: the next reconcile starts it
                    self.jobs[name] = (name, [self.procs.spawn(name, args, container_env(c))])
            return
        if body["kind"] == "PyTorchJob":
            if name not in self.jobs:
                self.jobs[name] = (replica_log(name), run_pytorchjob(self.procs, body, container_env))
            return
        # An InferenceService: (re)start its predictor when new or when its version changes.
        version = body["metadata"]["annotations"]["ontask.dev/model-version"]
        current = self.servers.get(name)
        if current is not None and current[0] == version:
            return
        c = body["spec"]["predictor"]["containers"][0]
        env, port = container_env(c), free_port()
        args = predictor_command(c, env, port, self.url)
        if args is None:
            return  # the judge is not up yet: the next reconcile starts the student
        new = self.procs.spawn(f"{name}-{version}", args, env)
        if current is not None:  # the new version takes over; the old one stops
            current[1].terminate()
        self.servers[name] = (version, new, port, predictor_role(c))

    def stop(self) -> None:
        for _, procs in self.jobs.values():
            for p in procs:
                if p.poll() is None:
                    p.kill()
        for _, p, _, _ in self.servers.values():
            if p.poll() is None:
                p.terminate()
        for _, p, _, _ in self.servers.values():
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()


class EmbeddedOperator:
    """One classifier driven by the reconcile plan with local children; its feedback daemon
    (the collector) runs in a thread when a Kafka bootstrap is given."""

    def __init__(
        self,
        name: str,
        spec: TaskClassifierSpec,
        store_uri: str,
        workdir: Path,
        kafka_bootstrap: Optional[str] = None,
        on_event: Callable[[str, str, str], None] = lambda kind, reason, msg: None,
    ):
        self.spec, self.on_event = spec, on_event
        self.ctx = Context(
            name=name,
            namespace="embedded",
            uid="embedded",
            spec=spec,
            store_uri=store_uri,
            kafka_bootstrap=kafka_bootstrap,
        )
        self.children = LocalChildren(self.ctx, workdir)
        self.status = TaskClassifierStatus()
        self.kafka_bootstrap = kafka_bootstrap
        self._stop = threading.Event()
        self._collector_thread: Optional[threading.Thread] = None

    def _start_feedback(self) -> None:
        from ontask.feedback.collector import Collector
        from ontask.feedback.loop import CycleTrigger, run_feedback

        # As the collector Deployment runs: cycles replay the classifier's own dataset, one at a
        # time, each once `step` recorded the previous one as decided.
        from ontask.feedback.signatures import user_key_from_env

        feedback = self.spec.feedback
        user_key = user_key_from_env(feedback.user_key_secret_ref, os.environ)  # no Secrets here: the env's
        collector = Collector(self.ctx.name, feedback, self.children.store(), self.kafka_bootstrap, user_key=user_key)
        self._collector_thread = threading.Thread(
            target=run_feedback,
            args=(collector, self._stop, CycleTrigger(self.ctx.name)),
            kwargs={"poll_ms": 500},
            daemon=True,
        )
        self._collector_thread.start()

    def step(self) -> TaskClassifierStatus:
        """One reconcile: observe, plan, ensure children, record the cycles it decided, take the
        new status."""
        observed = self.children.observe(self.status)
        decided = plan(self.spec, self.status, observed)
        for role in decided.ensure:
            self.children.ensure(role, decided.status, observed)
        for kind, reason, message in decided.events:
            self.on_event(kind, reason, message)
        self.children.record_decisions(self.status.cycle, decided.status)
        self.status = decided.status
        if self.kafka_bootstrap and self._collector_thread is None:
            self._start_feedback()
        return self.status

    def run_until(
        self, done: Callable[[TaskClassifierStatus], bool], timeout: float, interval: float = 1.0
    ) -> TaskClassifierStatus:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.step()
            if done(status):
                return status
            if status.phase == "Failed":
                raise RuntimeError(f"classifier failed: {[c.message for c in status.conditions if c.type == 'Ready']}")
            time.sleep(interval)
        raise TimeoutError(f"not done after {timeout:.0f}s; phase {self.status.phase}")

    def stop(self) -> None:
        self._stop.set()
        if self._collector_thread is not None:
            self._collector_thread.join(15)
        self.children.stop()
