"""Embedded mode: the operator's reconcile plan with local backends, no cluster. A Job or
PyTorchJob runs as local `ontask` processes from the same manifests' container args (a
PyTorchJob with torchrun's environment), an InferenceService as a local KServe ModelServer
(`ontask serve`) on its STORAGE_URI, and the store is a folder. `ontask demo` runs on this."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

import requests

from ontask.operator.children import Children
from ontask.operator.manifests import Context
from ontask.operator.reconcile import JobState, plan
from ontask.spec import TaskClassifierSpec, TaskClassifierStatus

log = logging.getLogger("ontask.embedded")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalChildren(Children):
    """Children as local processes; their logs go to `workdir/<name>.log`."""

    def __init__(self, ctx: Context, workdir: Path):
        super().__init__(ctx)
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.jobs: dict[str, list[subprocess.Popen]] = {}
        self.servers: dict[str, tuple[Optional[str], subprocess.Popen, int, str]] = {}

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        out = open(self.workdir / f"{name}.log", "ab")
        return subprocess.Popen(
            [sys.executable, "-m", "ontask.cli", *args],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @staticmethod
    def _env(container: dict[str, Any]) -> dict[str, str]:
        # Secret references mean cluster credentials; locally the process inherits ours.
        return {e["name"]: e["value"] for e in container.get("env") or [] if "value" in e}

    def log_tail(self, name: str, chars: int = 1500) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def job_state(self, kind: str, name: str) -> Optional[tuple[JobState, str]]:
        procs = self.jobs.get(name)
        if procs is None:
            return None
        if any(p.poll() is None for p in procs):
            return "Running", ""
        if all(p.returncode == 0 for p in procs):
            return "Succeeded", ""
        return "Failed", self.log_tail(name)

    def server_state(self, name: str) -> Optional[tuple[bool, Optional[str]]]:
        server = self.servers.get(name)
        if server is None:
            return None
        version, proc, port, role = server
        if proc.poll() is not None:
            return False, version
        try:
            r = requests.get(f"http://127.0.0.1:{port}/v1/models/{role}", timeout=2)
            return r.status_code == 200 and r.json().get("ready") is True, version
        except requests.RequestException:
            return False, version

    def url(self, name: str) -> Optional[str]:
        server = self.servers.get(name)
        return f"http://127.0.0.1:{server[2]}" if server else None

    def create(self, role: str, body: dict[str, Any], model_version: Optional[str]) -> None:
        name = body["metadata"]["name"]
        if body["kind"] == "Job":
            if name not in self.jobs:
                c = body["spec"]["template"]["spec"]["containers"][0]
                self.jobs[name] = [self._spawn(name, c["args"], self._env(c))]
            return
        if body["kind"] == "PyTorchJob":
            if name not in self.jobs:
                replicas = body["spec"]["pytorchReplicaSpecs"]
                world = sum(r["replicas"] for r in replicas.values())
                port, rank, procs = _free_port(), 0, []
                for kind in ("Master", "Worker"):
                    for _ in range(replicas.get(kind, {}).get("replicas", 0)):
                        c = replicas[kind]["template"]["spec"]["containers"][0]
                        env = {
                            **self._env(c),
                            "MASTER_ADDR": "127.0.0.1",
                            "MASTER_PORT": str(port),
                            "WORLD_SIZE": str(world),
                            "RANK": str(rank),
                            "LOCAL_RANK": "0",
                        }
                        procs.append(self._spawn(name if rank == 0 else f"{name}-{rank}", c["args"], env))
                        rank += 1
                self.jobs[name] = procs
            return
        # An InferenceService: (re)start its predictor when new or when its version changes.
        version = body["metadata"]["annotations"]["ontask.dev/model-version"]
        current = self.servers.get(name)
        if current is not None and current[0] == version:
            return
        c = body["spec"]["predictor"]["containers"][0]
        env = self._env(c)
        args = list(c["args"])
        port = _free_port()
        args[args.index("--model-uri") + 1] = env["STORAGE_URI"]  # what the storage initializer would copy
        args[args.index("--http-port") + 1] = str(port)
        if "--judge-url" in args:
            judge = self.url(args[args.index("--judge-url") + 1].split("//")[1].split("-predictor")[0])
            if judge is None:
                return  # the judge is not up yet: the next reconcile starts the student
            args[args.index("--judge-url") + 1] = judge
        new = self._spawn(f"{name}-{version}", args, env)
        if current is not None:  # the new version takes over; the old one stops
            current[1].terminate()
        self.servers[name] = (version, new, port, args[1])

    def stop(self) -> None:
        for procs in self.jobs.values():
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

        collector = Collector(self.ctx.name, self.spec.feedback, self.children._store(), self.kafka_bootstrap)

        def after_batch(c: Collector) -> None:
            if self.status.phase == "Serving" and self.status.candidate_version is None:
                c.maybe_cycle(replay_dataset=self.ctx.name)

        self._collector_thread = threading.Thread(
            target=collector.run, args=(self._stop,), kwargs={"on_batch": after_batch, "poll_ms": 500}, daemon=True
        )
        self._collector_thread.start()

    def step(self) -> TaskClassifierStatus:
        """One reconcile: observe, plan, ensure children, take the new status."""
        observed = self.children.observe(self.status)
        decided = plan(self.spec, self.status, observed)
        for role in decided.ensure:
            self.children.ensure(role, decided.status, observed)
        for kind, reason, message in decided.events:
            self.on_event(kind, reason, message)
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
