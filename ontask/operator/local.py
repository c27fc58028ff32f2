"""The operator's manifests as local processes: what the embedded mode runs its children with,
and what the tests' kubelet stand-in plays the kubelet and KServe with.

A Job's container args run as one `ontask` process; a PyTorchJob's replicas run as processes
with torchrun's environment (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK); an InferenceService's
predictor runs as `ontask serve` on its STORAGE_URI (what KServe's storage initializer copies
to /mnt/models) on a free local port.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import requests

_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now, below the kernel's ephemeral range (32768 and up
    on Linux): a port the kernel picked for us could be picked again for some process's
    outgoing connection before our server binds it (SeaweedFS died of exactly that), and a port
    is never handed out twice by one process (a test session, the embedded mode)."""
    rng = random.Random()
    for _ in range(1000):
        port = rng.randrange(20000, 32768)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError("no free TCP port in 20000-32767 on 127.0.0.1")


def container_env(
    container: Mapping[str, Any],
    secrets: Optional[Mapping[str, Mapping[str, str]]] = None,
    fields: Optional[Mapping[str, str]] = None,
) -> dict[str, str]:
    """A container's environment: plain values, secret references resolved from `secrets`
    (name -> key -> value) when given (without it they are left out: the process inherits the
    caller's credentials), and the pod's fields (fieldRef, e.g. metadata.name) from `fields`."""
    env = {}
    for e in container.get("env") or []:
        source = e.get("valueFrom") or {}
        if "value" in e:
            env[e["name"]] = e["value"]
        elif secrets is not None and "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            env[e["name"]] = secrets[ref["name"]][ref["key"]]
        elif fields is not None and "fieldRef" in source:
            env[e["name"]] = fields[source["fieldRef"]["fieldPath"]]
    return env


class Processes:
    """Starts `ontask` commands with their output in `workdir/<name>.log`."""

    def __init__(self, workdir: Path, base_env: Optional[Mapping[str, str]] = None, cwd: Optional[Path] = None):
        self.workdir, self.cwd = workdir, cwd
        self.base_env = dict(base_env if base_env is not None else os.environ)
        workdir.mkdir(parents=True, exist_ok=True)

    def spawn(
        self, name: str, args: list[str], env: Mapping[str, str], command: Optional[list[str]] = None
    ) -> subprocess.Popen:
        """Run a container's args: as `ontask` (the image's entrypoint), under torchrun when
        the container's command says so (a worker with several GPUs), or as the image's `python`
        (a command such as `helm test`'s health check)."""
        if command and command[0] == "python":
            argv = [sys.executable, *command[1:], *args]
        elif command in (None, ["torchrun"]):
            argv = [sys.executable, "-m", "torch.distributed.run" if command else "ontask.cli", *args]
        else:
            raise ValueError(f"only `ontask`, `torchrun` and `python` containers run locally, not {command}")
        out = open(self.workdir / f"{name}.log", "ab")
        return subprocess.Popen(
            argv,
            cwd=self.cwd,
            env={**self.base_env, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log_tail(self, name: str, chars: int = 1500) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def replica_log(job: str, role: str = "Master", rank: int = 0) -> str:
    """The log name of a PyTorchJob replica (rank 0 is the Master's)."""
    return f"{job}-{role.lower()}-{rank}"


def run_pytorchjob(
    procs: Processes, job: dict[str, Any], env_of: Callable[[dict], dict[str, str]], port: Optional[int] = None
) -> list[subprocess.Popen]:
    """Every replica of a PyTorchJob as a process, Master first (rank 0), on one rendezvous port
    (a free one unless given)."""
    name, replicas = job["metadata"]["name"], job["spec"]["pytorchReplicaSpecs"]
    nodes = sum(r.get("replicas", 1) for r in replicas.values())
    nproc = int(job["spec"].get("nprocPerNode") or 1)
    port, rank, started = port or free_port(), 0, []
    for role in ("Master", "Worker"):
        if role not in replicas:
            continue
        c = replicas[role]["template"]["spec"]["containers"][0]
        for _ in range(replicas[role].get("replicas", 1)):
            # What the training operator sets (torchrun reads the PET_ ones when a pod runs
            # one process per GPU).
            torchrun = {
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": str(port),
                "WORLD_SIZE": str(nodes * nproc),
                "RANK": str(rank),
                "LOCAL_RANK": "0",
                "PET_MASTER_ADDR": "127.0.0.1",
                "PET_MASTER_PORT": str(port),
                "PET_NNODES": str(nodes),
                "PET_NODE_RANK": str(rank),
                "PET_NPROC_PER_NODE": str(nproc),
            }
            log = replica_log(name, role, rank)
            started.append(procs.spawn(log, c["args"], {**env_of(c), **torchrun}, c.get("command")))
            rank += 1
    return started


def predictor_command(
    container: dict[str, Any], env: Mapping[str, str], port: int, url_of: Callable[[str], Optional[str]]
) -> Optional[list[str]]:
    """The predictor's `ontask serve` args as they run here: the model from STORAGE_URI, the given
    port (metrics on it too), and the judge's in-cluster address replaced by where that judge runs here (`url_of`
    an InferenceService name). None while the judge is not up yet."""
    if "--model-uri" not in container.get("args", []):
        raise RuntimeError(
            "only `ontask serve` predictors run locally: a judge on KServe's Hugging Face runtime "
            "(judge.runtime: vllm) needs a GPU cluster; use judge.runtime: transformers here"
        )
    args = list(container["args"])
    args[args.index("--model-uri") + 1] = env["STORAGE_URI"]
    args[args.index("--http-port") + 1] = str(port)
    if "--metrics-port" in args:
        # Pods have a port each; here the predictors share one machine: metrics stay on the
        # prediction port, which only this machine reaches.
        args[args.index("--metrics-port") + 1] = "0"
    return with_local_judge(args, url_of)


def with_local_judge(args: list[str], url_of: Callable[[str], Optional[str]]) -> Optional[list[str]]:
    """A child's args with the judge's in-cluster address (http://<isvc>-predictor.<namespace>)
    replaced by where that InferenceService's predictor runs here (`url_of` its name); None while
    it is not up yet."""
    if "--judge-url" not in args:
        return list(args)
    args = list(args)
    i = args.index("--judge-url") + 1
    judge = url_of(args[i].split("//")[1].split("-predictor")[0])
    if judge is None:
        return None
    args[i] = judge
    return args


def predictor_role(container: dict[str, Any]) -> str:
    args = container["args"]
    return args[args.index("serve") + 1]


def predictor_ready(port: int, role: str) -> bool:
    """KServe's readiness: the model's v1 endpoint says ready."""
    try:
        r = requests.get(f"http://127.0.0.1:{port}/v1/models/{role}", timeout=2)
        return r.status_code == 200 and r.json().get("ready") is True
    except requests.RequestException:
        return False
