"""A kubelet stand-in for tests: no kubelet can run here, but the controllers that make pods
do (the kube-controller-manager's Job, Deployment and ReplicaSet controllers, the Kubeflow
training operator's, see realservers/training_operator.py, Kubeflow Trainer v2's and JobSet's,
see realservers/trainer.py, and KServe's where a module starts it, `kserve=True`). It watches the
real API server and runs every pod of its namespace as a kubelet would, with the real code: the
container's args as a local `ontask` process with the pod's environment (a PyTorchJob's
MASTER_ADDR, WORLD_SIZE, RANK from the training operator; a TrainJob node's PET_* rendezvous
from Trainer v2, under torchrun; a KServe predictor on the URI its storage initializer would
copy to /mnt/models), and writes the pod's status back through the API, so the controllers and
the operator see what they would see in a cluster. Without KServe's controller (its Serverless
mode needs Knative, which cannot run here) it also plays KServe: an InferenceService runs as a
local `ontask serve` predictor and its status is written as KServe would."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Optional

import requests
import yaml
from kubernetes import client as k8s

from ontask.operator.local import (
    Processes,
    container_env,
    free_port,
    predictor_command,
    predictor_ready,
    predictor_role,
    with_local_judge,
)

REPO = Path(__file__).resolve().parents[1]
PYTORCHJOB = ("kubeflow.org", "v1", "pytorchjobs")
JOB_LABEL = "training.kubeflow.org/job-name"  # on every pod the training operator creates
JOBSET_LABEL = "jobset.sigs.k8s.io/jobset-name"  # on every pod of a JobSet (a Trainer v2 TrainJob's)
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"  # on every pod the Job controller creates
RESTART_DELAY = 1.0  # a kubelet's crash-loop backoff starts at 10 s; shortened for tests
ISVC = ("serving.kserve.io", "v1beta1", "inferenceservices")
ISVC_LABEL = "serving.kserve.io/inferenceservice"  # on KServe's predictor Deployments and their pods


def _run_key(labels: dict[str, str]) -> Optional[str]:
    """What a pod is a run of, for counting reruns: its Job, or its PyTorchJob when it is the
    Master (a Worker is part of the same run); None for a Deployment's pod."""
    if JOB_NAME_LABEL in labels:
        return f"job/{labels[JOB_NAME_LABEL]}"
    if labels.get("training.kubeflow.org/replica-type") == "master":
        return f"pytorchjob/{labels[JOB_LABEL]}"
    return None


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
        self.kserve = kserve  # KServe's real controller runs: run the pods it makes, do not play it
        self.core, self.custom = k8s.CoreV1Api(api), k8s.CustomObjectsApi(api)
        self.namespace, self.workdir, self.secrets = namespace, workdir, secrets
        self.runs: dict[str, int] = {}  # job/<Job> or pytorchjob/<PyTorchJob> -> pods started (a rerun shows here)
        self.pods: dict[str, dict[str, Any]] = {}  # pod name -> its process, restarts, start time, port...
        self.job_ports: dict[str, int] = {}  # PyTorchJob name -> its rendezvous port here
        self.starts: dict[str, int] = {}  # pod name -> how many times its container started
        # Without KServe: a Standard-mode InferenceService's one predictor (name -> version,
        # process, port), and Serverless-mode revisions (name -> {version: (process, port) or None
        # when failed}) with the rolled-out version.
        self.servers: dict[str, tuple[str, subprocess.Popen, int, Optional[str]]] = {}
        self.revisions: dict[str, dict[str, Optional[tuple[subprocess.Popen, int]]]] = {}
        self.rolled_out: dict[str, str] = {}
        self.fail_versions: set[str] = set()
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
        for state in self.pods.values():
            if state["proc"].poll() is None:
                state["proc"].kill()
        procs = {id(p): p for _, p, _, _ in self.servers.values()}
        procs.update({id(r[0]): r[0] for revs in self.revisions.values() for r in revs.values() if r})
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
                p.wait(30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._pods()
                if not self.kserve:
                    self._inference_services()
            except Exception as e:  # noqa: BLE001 - keep playing the kubelet; the test asserts outcomes
                print(f"kubelet stand-in: {e!r}", file=sys.stderr)
            self._stop.wait(0.5)

    def _pods(self) -> None:
        """Every pod of the namespace, as a kubelet runs it: its container's args as a local
        process with the pod's environment, Running once started and Ready once it can serve (a
        predictor when KServe's readiness endpoint says so), restarted in place under
        restartPolicy OnFailure or Always (the training operator counts those restarts against a
        job's backoffLimit), Succeeded or Failed when it exits otherwise (the Job controller
        then decides), killed when the pod is deleted. The pods come from the real controllers:
        the Job controller's, the ReplicaSet controller's (the feedback collector; KServe's
        predictor Deployments), the training operator's."""
        pods = self.core.list_namespaced_pod(self.namespace).items
        alive = {p.metadata.name: p for p in pods if not p.metadata.deletion_timestamp}
        for name in [n for n in self.pods if n not in alive]:
            proc = self.pods.pop(name)["proc"]
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        for name, pod in alive.items():
            if pod.status.phase in ("Succeeded", "Failed"):
                continue
            state = self.pods.get(name)
            if state is None:
                self._start_pod(pod, {"restarts": 0, "last": None, "first": True})
                continue
            proc = state["proc"]
            if proc.poll() is None:
                if not state["ready"] and self._ready(state):
                    state["ready"] = True
                    self._pod_status(pod, "Running", state, {"running": {"startedAt": state["started"]}})
                continue
            finished = {"exitCode": proc.returncode, "startedAt": state["started"], "finishedAt": _now()}
            finished["reason"] = "Completed" if proc.returncode == 0 else "Error"
            policy = pod.spec.restart_policy or "Always"
            if policy == "Always" or (proc.returncode != 0 and policy == "OnFailure"):
                time.sleep(RESTART_DELAY)
                self._start_pod(pod, {**state, "restarts": state["restarts"] + 1, "last": {"terminated": finished}})
                continue
            state["ready"] = False
            self._pod_status(pod, "Succeeded" if proc.returncode == 0 else "Failed", state, {"terminated": finished})

    def _start_pod(self, pod, state: dict[str, Any]) -> None:
        """Start the pod's container (again): the environment and args as the cluster would
        give them, adjusted for processes sharing one machine."""
        labels = pod.metadata.labels or {}
        main = next((c for c in pod.spec.containers if c.name == "kserve-container"), pod.spec.containers[0])
        c = self.core.api_client.sanitize_for_serialization(main)
        fields = {"metadata.name": pod.metadata.name, "metadata.namespace": self.namespace}
        # The downward API's labels and annotations (Trainer v2 reads a node's rank from its Job
        # completion index annotation).
        for kind, values in (("labels", labels), ("annotations", pod.metadata.annotations or {})):
            fields.update({f"metadata.{kind}['{k}']": v for k, v in values.items()})
        env, args, port, role = container_env(c, self.secrets, fields), list(c.get("args") or []), None, None
        command = c.get("command")
        # Pods have addresses of their own; here they share one: each container port gets a local one.
        ports = {p["containerPort"]: free_port() for p in c.get("ports") or []}
        if pod.spec.automount_service_account_token is not False and pod.spec.service_account_name:
            # The kubelet mounts the pod's ServiceAccount token; here its process gets a kubeconfig
            # with one, so it talks to the API server as that account, with its RBAC. (Nothing
            # here makes a namespace's "default" account: a pod that names a missing one runs as before.)
            kubeconfig = self._account_kubeconfig(pod.spec.service_account_name)
            if kubeconfig is not None:
                env["KUBECONFIG"] = str(kubeconfig)
        if ISVC_LABEL in labels:
            # KServe's predictor: on the URI its storage initializer would copy to /mnt/models
            # (ontask reads the URI itself), on a port of its own.
            init = {i.name: i for i in pod.spec.init_containers or []}["storage-initializer"]
            env["STORAGE_URI"] = state["storage_uri"] = init.args[0]
            port, role = free_port(), predictor_role(c)
            args = predictor_command(c, env, port, self.url_of)
        elif JOB_LABEL in labels:
            # Each PyTorchJob gets its own rendezvous port (pods have their own IPs; here they
            # share one), and the Master's Service name resolves to this machine. Init containers
            # (the Workers' wait for the Master's name) count as done.
            job = labels[JOB_LABEL]
            rendezvous = str(self.job_ports.setdefault(job, free_port()))
            network = {"MASTER_ADDR": "127.0.0.1", "PET_MASTER_ADDR": "127.0.0.1"}
            network.update({"MASTER_PORT": rendezvous, "PET_MASTER_PORT": rendezvous})
            env.update({k: v for k, v in network.items() if k in env})
        elif JOBSET_LABEL in labels and "PET_MASTER_ADDR" in env:
            # A Trainer v2 node: torchrun's rendezvous at node 0's name (its headless Service) on
            # port 29400 in a cluster; here this machine, on a port of the JobSet's own.
            rendezvous = str(self.job_ports.setdefault(f"jobset/{labels[JOBSET_LABEL]}", free_port()))
            env.update({"PET_MASTER_ADDR": "127.0.0.1", "PET_MASTER_PORT": rendezvous})
        elif args[:1] == ["operator"]:
            # The chart's operator: its health endpoint (the runner's default, 8080) and its
            # metrics on this pod's local ports.
            args = [a for a in args if not a.startswith("--metrics-port=")]
            metrics = next((int(a.split("=")[1]) for a in c["args"] if a.startswith("--metrics-port=")), None)
            if metrics in ports:
                args.append(f"--metrics-port={ports[metrics]}")
            args += ["--liveness", f"http://127.0.0.1:{ports.setdefault(8080, free_port())}/healthz"]
        elif (c.get("command") or [""])[0] == "python":
            # A check such as `helm test`'s calls a Service by its DNS name: here, the address of
            # a ready pod behind it.
            command = self._with_local_services(c["command"] + args)
            args = None if command is None else []
        else:
            args = with_local_judge(args, self.url_of)  # the data Job labels through the judge
        if args is None:
            return  # the judge or the Service it calls is not up yet: started on a later pass
        if state.pop("first", False):
            run = _run_key(labels)
            if run is not None:
                self.runs[run] = self.runs.get(run, 0) + 1
        name = pod.metadata.name
        # A predictor's readiness is KServe's endpoint on its own port (KServe's probes name the pod's).
        probe = (c.get("readinessProbe") or {}).get("httpGet") if port is None else None
        if probe is not None:
            named = {p.get("name"): p["containerPort"] for p in c.get("ports") or []}
            target = named.get(probe["port"], probe["port"])
            probe = f"http://127.0.0.1:{ports.get(target, target)}{probe.get('path', '/')}"
        state.update(
            proc=self.procs.spawn(name, args, env, command),
            port=port,
            role=role,
            probe=probe,
            labels=labels,
            ports=ports,
            port_names={p.get("name"): p["containerPort"] for p in c.get("ports") or []},
            isvc=labels.get(ISVC_LABEL),
            created=pod.metadata.creation_timestamp,
            started=_now(),
            ready=False,
        )
        self.pods[name] = state
        self.starts[name] = self.starts.get(name, 0) + 1
        self._pod_status(pod, "Running", state, {"running": {"startedAt": state["started"]}})

    def _ready(self, state: dict[str, Any]) -> bool:
        """The pod's readiness: its readinessProbe's httpGet, or a predictor's KServe endpoint."""
        if state.get("probe"):
            try:
                return requests.get(state["probe"], timeout=2).status_code == 200
            except requests.RequestException:
                return False
        return state["port"] is None or predictor_ready(state["port"], state["role"])

    def _account_kubeconfig(self, account: str) -> Optional[Path]:
        """A kubeconfig with a fresh token of the namespace's ServiceAccount `account` (TokenRequest,
        as the kubelet gets the token it mounts); None when there is no such account."""
        request = k8s.AuthenticationV1TokenRequest(spec=k8s.V1TokenRequestSpec(audiences=[], expiration_seconds=3600))
        try:
            token = self.core.create_namespaced_service_account_token(account, self.namespace, request).status.token
        except k8s.exceptions.ApiException as e:
            if e.status == 404:
                return None
            raise
        config = self.core.api_client.configuration
        path = self.workdir / f"{account}.kubeconfig"
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {"name": "c", "cluster": {"server": config.host, "certificate-authority": config.ssl_ca_cert}}
                    ],
                    "users": [{"name": account, "user": {"token": token}}],
                    "contexts": [
                        {"name": account, "context": {"cluster": "c", "user": account, "namespace": self.namespace}}
                    ],
                    "current-context": account,
                }
            )
        )
        return path

    def _with_local_services(self, args: list[str]) -> Optional[list[str]]:
        """Args with every http://<service>.<namespace>[.svc[.cluster.local]]:<port> replaced by the
        local address of a ready pod of this stand-in behind that Service; None while there is none."""
        pattern = re.compile(r"http://([a-z0-9-]+)\.([a-z0-9-]+)(?:\.svc(?:\.cluster\.local)?)?:(\d+)")
        out = []
        for arg in args:
            for service, namespace, port in set(pattern.findall(arg)):
                address = self._service_address(service, namespace, int(port))
                if address is None:
                    return None
                arg = re.sub(rf"http://{service}\.{namespace}(\.svc(\.cluster\.local)?)?:{port}", address, arg)
            out.append(arg)
        return out

    def _service_address(self, name: str, namespace: str, port: int) -> Optional[str]:
        """http://127.0.0.1:<local port> of a ready pod that Service `name` sends `port` to."""
        if namespace != self.namespace:
            return None
        svc = self.core.read_namespaced_service(name, namespace)
        target = next(p.target_port or p.port for p in svc.spec.ports if p.port == port)
        selector = svc.spec.selector or {}
        for state in self.pods.values():
            if state["ready"] and selector.items() <= state["labels"].items():
                container_port = state["port_names"].get(target, target)
                if container_port in state["ports"]:
                    return f"http://127.0.0.1:{state['ports'][container_port]}"
        return None

    def _pod_status(self, pod, phase: str, state: dict[str, Any], container_state: dict[str, Any]) -> None:
        now, ready = _now(), "True" if state["ready"] else "False"
        status = {
            "phase": phase,
            "startTime": pod.status.start_time.isoformat().replace("+00:00", "Z") if pod.status.start_time else now,
            "podIP": "127.0.0.1",
            "conditions": [
                {"type": t, "status": ready, "lastTransitionTime": now} for t in ("Ready", "ContainersReady")
            ],
            "containerStatuses": [
                {
                    "name": c.name,
                    "image": c.image,
                    "imageID": "",
                    "ready": state["ready"],
                    "started": phase == "Running",
                    "restartCount": state["restarts"],
                    "state": container_state,
                    **({"lastState": state["last"]} if state["last"] else {}),
                }
                for c in pod.spec.containers
            ],
        }
        self.core.patch_namespaced_pod_status(pod.metadata.name, self.namespace, {"status": status})

    def url_of(self, name: str) -> Optional[str]:
        """Where InferenceService `name`'s predictor answers here (its Service's address in a
        cluster): under KServe, its newest ready pod."""
        if self.kserve:
            ready = [s for s in self.pods.values() if s.get("isvc") == name and s["ready"]]
            return f"http://127.0.0.1:{max(ready, key=lambda s: s['created'])['port']}" if ready else None
        s = self.servers.get(name)
        return f"http://127.0.0.1:{s[2]}" if s else None

    def served_uris(self, isvc: str) -> set[str]:
        """The model URIs of InferenceService `isvc`'s predictor pods that run (under KServe)."""
        return {s["storage_uri"] for s in self.pods.values() if s.get("isvc") == isvc and s["proc"].poll() is None}

    def _set_status(self, kind, name: str, status: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object_status(*kind[:2], self.namespace, kind[2], name, {"status": status})

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
