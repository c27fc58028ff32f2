"""A kubelet stand-in for tests (no kubelet can run here; the Kubeflow training operator's real
controller does, see realservers/training_operator.py, and so does KServe's where a module starts
it, `kserve=True`). It watches the real API server and plays what is missing with the real code:
a Job's container args run as a local `ontask` process, and so does a Deployment's one pod; the
pods the training operator creates for a PyTorchJob run as a kubelet runs them, with the
environment the operator gave them (MASTER_ADDR, WORLD_SIZE, RANK...). Under KServe's real
controller the predictor pods of the Deployments it makes run the same way, on the URI their
storage initializer would copy to /mnt/models; without it (KServe's Serverless mode needs
Knative, which cannot run here) an InferenceService runs as a local `ontask serve` predictor
and its status is written as KServe would. It writes status back through the API, so the
operators see what they would see in a cluster."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Optional

from kubernetes import client as k8s

from ontask.operator.local import (
    Processes,
    container_env,
    predictor_command,
    predictor_ready,
    predictor_role,
    with_local_judge,
)
from realservers.proc import free_port

REPO = Path(__file__).resolve().parents[1]
PYTORCHJOB = ("kubeflow.org", "v1", "pytorchjobs")
JOB_LABEL = "training.kubeflow.org/job-name"  # on every pod the training operator creates
RESTART_DELAY = 1.0  # a kubelet's crash-loop backoff starts at 10 s; shortened for tests
ISVC = ("serving.kserve.io", "v1beta1", "inferenceservices")
ISVC_LABEL = "serving.kserve.io/inferenceservice"  # on KServe's predictor Deployments and their pods


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class KubeletStandIn:
    def __init__(
        self,
        api: k8s.ApiClient,
        namespace: str,
        workdir: Path,
        secrets: dict[str, dict[str, str]],
        kserve: bool = False,
    ):
        self.kserve = kserve  # KServe's real controller runs: play its predictor pods, not it
        self.batch, self.custom, self.core = k8s.BatchV1Api(api), k8s.CustomObjectsApi(api), k8s.CoreV1Api(api)
        self.namespace, self.workdir, self.secrets = namespace, workdir, secrets
        self.jobs: dict[str, list[subprocess.Popen]] = {}  # kind/name -> processes
        self.servers: dict[str, tuple[str, subprocess.Popen, int, Optional[str]]] = {}  # name -> version, proc, port
        self.runs: dict[str, int] = {}  # how many times each job ran (a duplicate would show here)
        self.pods: dict[str, dict[str, Any]] = {}  # training pod name -> its process, restarts, start time
        self.job_ports: dict[str, int] = {}  # PyTorchJob name -> its rendezvous port here
        self.starts: dict[str, int] = {}  # training pod name -> how many times its container started
        self.deployments: dict[str, subprocess.Popen] = {}  # Deployment name -> its one pod's process
        # Serverless mode: name -> {version: (process, port) or None when failed}, and the rolled-out version.
        self.revisions: dict[str, dict[str, Optional[tuple[subprocess.Popen, int]]]] = {}
        self.rolled_out: dict[str, str] = {}
        self.fail_versions: set[str] = set()
        self.predictor_pods: dict[str, dict[str, Any]] = {}  # KServe's predictor pod name -> its process, port
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.procs = Processes(workdir, base_env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)

    # --- plumbing: the manifests run as the embedded mode runs them (ontask.operator.local)
    def _env(self, container: dict[str, Any]) -> dict[str, str]:
        return container_env(container, self.secrets)

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        return self.procs.spawn(name, args, env)

    def log_tail(self, name: str, n: int = 2000) -> str:
        return self.procs.log_tail(name, n)

    # --- the loop
    def start(self) -> "KubeletStandIn":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        running = [p for procs in self.jobs.values() for p in procs] + [s["proc"] for s in self.pods.values()]
        running += [s["proc"] for s in self.predictor_pods.values()]
        for p in running + list(self.deployments.values()):
            if p.poll() is None:
                p.kill()
        procs = {id(p): p for _, p, _, _ in self.servers.values()}
        procs.update({id(r[0]): r[0] for revs in self.revisions.values() for r in revs.values() if r})
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
                p.wait(30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._jobs()
                self._training_pods()
                self._deployments()
                if self.kserve:
                    self._predictor_pods()
                else:
                    self._inference_services()
            except Exception as e:  # noqa: BLE001 - keep playing the kubelet; the test asserts outcomes
                print(f"kubelet stand-in: {e!r}", file=sys.stderr)
            self._stop.wait(0.5)

    def _jobs(self) -> None:
        for job in self.batch.list_namespaced_job(self.namespace).items:
            key = f"job/{job.metadata.name}"
            if job.status and (job.status.succeeded or job.status.failed):
                continue
            if key not in self.jobs:
                c = self.batch.api_client.sanitize_for_serialization(job.spec.template.spec.containers[0])
                args = with_local_judge(c["args"], self.url_of)
                if args is None:
                    continue  # the judge it labels with is not up yet
                self.jobs[key] = [self._spawn(job.metadata.name, args, self._env(c))]
                self.runs[key] = self.runs.get(key, 0) + 1
                started = _now()
                self.batch.patch_namespaced_job_status(
                    job.metadata.name, self.namespace, {"status": {"startTime": started, "active": 1}}
                )
                continue
            proc = self.jobs[key][0]
            if proc.poll() is None:
                continue
            ok = proc.returncode == 0
            status = {
                "active": 0,
                "startTime": job.status.start_time.isoformat().replace("+00:00", "Z"),
                "conditions": [
                    {
                        "type": "SuccessCriteriaMet" if ok else "FailureTarget",
                        "status": "True",
                        "reason": "CompletionsReached" if ok else "BackoffLimitExceeded",
                        "lastTransitionTime": _now(),
                    },
                    {
                        "type": "Complete" if ok else "Failed",
                        "status": "True",
                        "reason": "CompletionsReached" if ok else "BackoffLimitExceeded",
                        "message": "" if ok else self.log_tail(job.metadata.name, 500),
                        "lastTransitionTime": _now(),
                    },
                ],
            }
            if ok:
                status.update({"succeeded": 1, "completionTime": _now()})
            else:
                status["failed"] = 1
            self.batch.patch_namespaced_job_status(job.metadata.name, self.namespace, {"status": status})

    def _set_status(self, kind, name: str, status: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object_status(*kind[:2], self.namespace, kind[2], name, {"status": status})

    def _training_pods(self) -> None:
        """The pods the training operator created for PyTorchJobs, run as a kubelet runs them: the
        `pytorch` container's args as a local process with the pod's environment, restarted in
        place under restartPolicy OnFailure (the operator counts the restarts against the job's
        backoffLimit), killed when the pod is deleted, with the pod's status written back. Two
        things a cluster network does are played here: the Master's Service name resolves to this
        machine, and each job gets its own rendezvous port (pods have their own IPs; here they
        share one). Init containers (the Workers' wait for the Master's name) count as done."""
        pods = self.core.list_namespaced_pod(self.namespace, label_selector=JOB_LABEL).items
        alive = {p.metadata.name for p in pods if not p.metadata.deletion_timestamp}
        for name in [n for n in self.pods if n not in alive]:
            proc = self.pods.pop(name)["proc"]
            if proc.poll() is None:
                proc.kill()
        for pod in pods:
            name = pod.metadata.name
            if name not in alive or pod.status.phase in ("Succeeded", "Failed"):
                continue
            state = self.pods.get(name)
            if state is None:
                job = pod.metadata.labels[JOB_LABEL]
                if pod.metadata.labels.get("training.kubeflow.org/replica-type") == "master":
                    self.runs[f"pytorchjob/{job}"] = self.runs.get(f"pytorchjob/{job}", 0) + 1
                self.pods[name] = state = {"restarts": 0, "last": None}
                self._start_pod(pod, state)
                continue
            proc = state["proc"]
            if proc.poll() is None:
                continue
            finished = {"exitCode": proc.returncode, "startedAt": state["started"], "finishedAt": _now()}
            finished["reason"] = "Completed" if proc.returncode == 0 else "Error"
            if proc.returncode != 0 and pod.spec.restart_policy in ("OnFailure", "Always"):
                time.sleep(RESTART_DELAY)
                state["restarts"] += 1
                state["last"] = {"terminated": finished}
                self._start_pod(pod, state)
                continue
            phase = "Succeeded" if proc.returncode == 0 else "Failed"
            self._pod_status(pod, phase, state, {"terminated": finished})

    def _deployments(self) -> None:
        """The operator's Deployments (a classifier's feedback collector, one replica), as their
        ReplicaSet and the kubelet run them: the container's args as a local process, started
        again when it exits, stopped when the Deployment is deleted or its spec changes."""
        apps = k8s.AppsV1Api(self.core.api_client)
        found = {
            d.metadata.name: d
            for d in apps.list_namespaced_deployment(
                self.namespace, label_selector="app.kubernetes.io/managed-by=ontask"
            ).items
            if not d.metadata.deletion_timestamp and ISVC_LABEL not in (d.metadata.labels or {})
        }
        for name in list(self.deployments):
            proc = self.deployments[name]
            current = found.get(name)
            if current is None or proc.generation != current.metadata.generation or proc.poll() is not None:
                if proc.poll() is None:
                    proc.terminate()
                    proc.wait(30)
                del self.deployments[name]
        for name, d in found.items():
            if name in self.deployments:
                continue
            c = self.core.api_client.sanitize_for_serialization(d.spec.template.spec.containers[0])
            proc = self.procs.spawn(name, c["args"], self._env(c), c.get("command"))
            proc.generation = d.metadata.generation  # a new spec replaces the pod
            self.deployments[name] = proc

    def _start_pod(self, pod, state: dict[str, Any]) -> None:
        c = self.core.api_client.sanitize_for_serialization(pod.spec.containers[0])
        job = pod.metadata.labels[JOB_LABEL]
        port = str(self.job_ports.setdefault(job, free_port()))
        network = {
            "MASTER_ADDR": "127.0.0.1",
            "PET_MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": port,
            "PET_MASTER_PORT": port,
        }
        env = self._env(c)
        env.update({k: v for k, v in network.items() if k in env})
        state["proc"] = self.procs.spawn(pod.metadata.name, c["args"], env, c.get("command"))
        self.starts[pod.metadata.name] = self.starts.get(pod.metadata.name, 0) + 1
        state["started"] = _now()
        self._pod_status(pod, "Running", state, {"running": {"startedAt": state["started"]}})

    def _pod_status(self, pod, phase: str, state: dict[str, Any], container_state: dict[str, Any]) -> None:
        status = {
            "phase": phase,
            "startTime": pod.status.start_time.isoformat().replace("+00:00", "Z") if pod.status.start_time else _now(),
            "podIP": "127.0.0.1",
            "conditions": [{"type": "Ready", "status": "True" if phase == "Running" else "False"}],
            "containerStatuses": [
                {
                    "name": pod.spec.containers[0].name,
                    "image": pod.spec.containers[0].image,
                    "imageID": "",
                    "ready": phase == "Running",
                    "started": phase == "Running",
                    "restartCount": state["restarts"],
                    "state": container_state,
                    **({"lastState": state["last"]} if state["last"] else {}),
                }
            ],
        }
        self.core.patch_namespaced_pod_status(pod.metadata.name, self.namespace, {"status": status})

    def url_of(self, name: str) -> Optional[str]:
        """Where InferenceService `name`'s predictor answers here (its Service's address in a
        cluster): under KServe, its newest ready pod."""
        if self.kserve:
            ready = [s for s in self.predictor_pods.values() if s["isvc"] == name and s["ready"]]
            return f"http://127.0.0.1:{max(ready, key=lambda s: s['created'])['port']}" if ready else None
        s = self.servers.get(name)
        return f"http://127.0.0.1:{s[2]}" if s else None

    def _predictor_pods(self) -> None:
        """The pods of KServe's predictor Deployments, as a kubelet runs them: the
        `kserve-container` as a local `ontask serve` on the URI that the storage initializer KServe
        injected would copy to /mnt/models, Running once started, Ready once KServe's readiness
        endpoint says so (the ReplicaSet, the Deployment and KServe read that), started again
        when it exits (restartPolicy Always), killed when the pod is deleted (a scale-down)."""
        pods = self.core.list_namespaced_pod(self.namespace, label_selector=ISVC_LABEL).items
        alive = {p.metadata.name: p for p in pods if not p.metadata.deletion_timestamp}
        for name in [n for n in self.predictor_pods if n not in alive]:
            proc = self.predictor_pods.pop(name)["proc"]
            if proc.poll() is None:
                proc.terminate()
                proc.wait(30)
        for name, pod in alive.items():
            state = self.predictor_pods.get(name)
            if state is not None and state["proc"].poll() is not None:
                time.sleep(RESTART_DELAY)
                state["restarts"] += 1
                state = None  # its container starts again, not ready until it says so
            if state is None:
                c = self.core.api_client.sanitize_for_serialization(
                    next(c for c in pod.spec.containers if c.name == "kserve-container")
                )
                init = {i.name: i for i in pod.spec.init_containers or []}["storage-initializer"]
                env, port = self._env(c), free_port()
                env["STORAGE_URI"] = init.args[0]  # what it copies to /mnt/models; ontask reads it there
                args = predictor_command(c, env, port, self.url_of)
                if args is None:
                    continue  # the judge it calls is not up yet
                restarts = self.predictor_pods.pop(name, {}).get("restarts", 0)
                self.predictor_pods[name] = state = {
                    "proc": self._spawn(name, args, env),
                    "port": port,
                    "role": predictor_role(c),
                    "isvc": pod.metadata.labels[ISVC_LABEL],
                    "storage_uri": init.args[0],
                    "created": pod.metadata.creation_timestamp,
                    "restarts": restarts,
                    "started": _now(),
                    "ready": False,
                }
                self._predictor_status(pod, state)
            elif not state["ready"] and predictor_ready(state["port"], state["role"]):
                state["ready"] = True
                self._predictor_status(pod, state)

    def _predictor_status(self, pod, state: dict[str, Any]) -> None:
        now, ready = _now(), str(state["ready"])
        status = {
            "phase": "Running",
            "podIP": "127.0.0.1",
            "startTime": state["started"],
            "conditions": [
                {"type": t, "status": ready, "lastTransitionTime": now} for t in ("Ready", "ContainersReady")
            ],
            "containerStatuses": [
                {
                    "name": c.name,
                    "image": c.image,
                    "imageID": "",
                    "ready": state["ready"],
                    "started": True,
                    "restartCount": state["restarts"],
                    "state": {"running": {"startedAt": state["started"]}},
                }
                for c in pod.spec.containers
            ],
        }
        self.core.patch_namespaced_pod_status(pod.metadata.name, self.namespace, {"status": status})

    def _start_predictor(self, name: str, version: str, c: dict[str, Any]) -> Optional[tuple[subprocess.Popen, int]]:
        env, port = self._env(c), free_port()
        args = predictor_command(c, env, port, lambda isvc: self.url_of(isvc))
        if args is None:
            return None  # the judge is not up yet; try again on the next pass
        return self._spawn(f"{name}-{version}", args, env), port

    def _inference_services(self) -> None:
        for isvc in self.custom.list_namespaced_custom_object(*ISVC[:2], self.namespace, ISVC[2])["items"]:
            annotations = isvc["metadata"].get("annotations") or {}
            if annotations.get("serving.kserve.io/deploymentMode") == "Serverless":
                self._serverless(isvc)
            else:
                self._raw_deployment(isvc)

    def _raw_deployment(self, isvc: dict[str, Any]) -> None:
        """One predictor per InferenceService, replaced when the model version changes."""
        name = isvc["metadata"]["name"]
        version = isvc["metadata"]["annotations"].get("ontask.dev/model-version")
        c = isvc["spec"]["predictor"]["containers"][0]
        current = self.servers.get(name)
        if current is None or current[0] != version:
            if current is not None:
                current[1].terminate()
                current[1].wait(30)
                self._set_status(
                    ISVC,
                    name,
                    {
                        "conditions": [
                            {"type": "Ready", "status": "False", "reason": "Rollout", "lastTransitionTime": _now()}
                        ]
                    },
                )
            started = self._start_predictor(name, version, c)
            if started is not None:
                self.servers[name] = (version, started[0], started[1], None)
            return
        _, proc, port, _ = current
        role = predictor_role(c)
        ready = proc.poll() is None and predictor_ready(port, role)
        conds = (isvc.get("status") or {}).get("conditions") or []
        was_ready = any(x["type"] == "Ready" and x["status"] == "True" for x in conds)
        if ready and not was_ready:
            self._set_status(
                ISVC,
                name,
                {
                    "url": f"http://127.0.0.1:{port}",
                    "conditions": [
                        {"type": "Ready", "status": "True", "reason": "PredictorReady", "lastTransitionTime": _now()}
                    ],
                },
            )

    def _serverless(self, isvc: dict[str, Any]) -> None:
        """KServe's Serverless mode as Knative revisions: one predictor per model version. With
        canaryTrafficPercent the newest revision takes that share and the rolled-out one keeps the
        rest; without it, the newest takes all traffic once ready and the others stop. A version
        in `fail_versions` fails as a broken revision would."""
        name = isvc["metadata"]["name"]
        version = isvc["metadata"]["annotations"].get("ontask.dev/model-version")
        c = isvc["spec"]["predictor"]["containers"][0]
        role = predictor_role(c)
        canary = isvc["spec"]["predictor"].get("canaryTrafficPercent")
        revisions = self.revisions.setdefault(name, {})
        rev = lambda v: f"{name}-predictor-{v}"  # noqa: E731
        if version not in revisions:
            if version in self.fail_versions:
                revisions[version] = None
            else:
                started = self._start_predictor(name, version, c)
                if started is None:
                    return
                revisions[version] = started
        rolled = self.rolled_out.get(name)
        if revisions[version] is None:
            status = {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "False",
                        "reason": "RevisionFailed",
                        "message": f"revision {rev(version)} failed: container exited",
                        "lastTransitionTime": _now(),
                    }
                ],
                "components": {
                    "predictor": {
                        "latestCreatedRevision": rev(version),
                        "latestReadyRevision": rev(rolled) if rolled else None,
                    }
                },
            }
            self._set_status(ISVC, name, status)
            return
        proc, port = revisions[version]
        if proc.poll() is not None or not predictor_ready(port, role):
            return
        if canary is None or rolled is None:
            for v, r in list(revisions.items()):  # full rollout: the older revisions stop
                if v != version:
                    if r is not None:
                        r[0].terminate()
                    del revisions[v]
            self.rolled_out[name] = version
            traffic = [{"revisionName": rev(version), "percent": 100, "latestRevision": True}]
        else:
            traffic = [
                {"revisionName": rev(rolled), "percent": 100 - canary, "latestRevision": False},
                {"revisionName": rev(version), "percent": canary, "latestRevision": True},
            ]
        self.servers[name] = (version, proc, port, None)
        status = {
            "url": f"http://127.0.0.1:{port}",
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "PredictorReady", "lastTransitionTime": _now()}
            ],
            "components": {
                "predictor": {
                    "latestCreatedRevision": rev(version),
                    "latestReadyRevision": rev(version),
                    "traffic": traffic,
                }
            },
        }
        if (isvc.get("status") or {}).get("components") != status["components"] or not any(
            x["type"] == "Ready" and x["status"] == "True" for x in (isvc.get("status") or {}).get("conditions") or []
        ):
            self._set_status(ISVC, name, status)
