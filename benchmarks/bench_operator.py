"""Operator load on the API server: requests per idle classifier per minute, GET per child vs indexes.

Before: each classifier is reconciled every 3 s and reads its children with a GET each
(`ONTASK_WATCH_CHILDREN=false`, the old way). Now: each classifier's loop wakes on its
children's watch events, its feedback and its spec edits, reads the children from watch-fed
kopf indexes, and looks again on its own only every resyncSeconds (300 s, the chart's default).

20 TaskClassifiers serve and are idle on a real kube-apiserver: each has its data Job,
training PyTorchJob and judge and student InferenceServices, made by the operator's own
manifest code and marked done and ready, and its status says Serving v1. `ontask operator` runs
as a non-admin user; the API server's audit log counts that user's requests over one minute
after a warm-up (startup listing, the first reconcile's status writes). The operator runs with a
resync of 60 s, a fifth of its default (300 s, the chart's), and the window is derived from the
resync the operator reads (OperatorSettings): two whole resync passes of every classifier, so
the figure is an upper bound of what the default costs. Goal: at most 1.

Before, every 3 s each classifier GETs each child and re-creates each InferenceService to find it
exists (a 409). Now, what is left are kopf's watch reconnections (one per child kind about every
40 s), shared by all classifiers, so the figure per classifier falls as classifiers are added; an
idle classifier reads nothing from the store either.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
N_CLASSIFIERS = 20
WARMUP_S = 45.0
# A fifth of the operator's default resync: more passes a minute than the default makes (an upper
# bound of its cost), and a window of whole passes that stays short.
RESYNC_S = 60
RESYNC_PASSES = 2  # the window holds this many resync passes of every classifier
NAMESPACE = "bench"


def _operator_env(store_dir: Path, watch_children: bool) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "ONTASK_STORE": str(store_dir),
        "ONTASK_WATCH_CHILDREN": str(watch_children).lower(),
        "ONTASK_RESYNC_SECONDS": str(RESYNC_S),
    }
    env.pop("ONTASK_KAFKA_BOOTSTRAP", None)  # idle: no feedback daemons
    return env


def window_s(env: dict[str, str]) -> float:
    """The measuring window: RESYNC_PASSES resync passes at the resync the operator reads from
    `env` (its own settings), for the run that reconciles on events."""
    from ontask.operator.settings import OperatorSettings

    return RESYNC_PASSES * OperatorSettings.from_env(env).resync_seconds


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _kubectl(kube, *args: str, stdin: str | None = None) -> None:
    from realservers import bin_path

    subprocess.run(
        [str(bin_path("kubectl")), "--kubeconfig", str(kube.admin_kubeconfig), *args],
        input=stdin,
        text=True,
        check=True,
        capture_output=True,
    )


def _set_up(kube, store_dir: Path) -> None:
    """CRDs, the namespace, the user's rights, and N serving classifiers with done children."""
    from kubernetes import client as k8s
    from kubernetes import config as k8s_config

    from ontask.api import GROUP, PLURAL, VERSION, TaskClassifierSpec
    from ontask.operator.kube_children import ISVC, context_for
    from ontask.operator.manifests import data_job, inference_service, training_job
    from ontask.operator.reconcile import FIRST_VERSION
    from ontask.operator.settings import OperatorSettings
    from ontask.operator.training import PYTORCHJOB
    from ontask.store_paths import model_key
    from realservers import upstream_crds

    chart = REPO / "charts" / "ontask"  # the TaskClassifier CRD (files/crds) and kopf's peering ones (crds)
    crds = sorted((chart / "files" / "crds").glob("*.yaml")) + sorted((chart / "crds").glob("*.yaml"))
    crds += sorted(upstream_crds().glob("*.yaml"))
    for crd in crds:
        _kubectl(kube, "apply", "--server-side", "-f", str(crd))
    for _ in range(60):  # a large CRD has no status for a moment after it is applied
        try:
            _kubectl(kube, "wait", "--for=condition=Established", "--timeout=60s", "--all", "crd")
            break
        except subprocess.CalledProcessError as e:
            if "accessor error" not in (e.stderr or ""):
                raise
            time.sleep(1)
    _kubectl(kube, "create", "namespace", NAMESPACE)
    _kubectl(
        kube,
        "create",
        "clusterrolebinding",
        "bench-operator",
        "--clusterrole=cluster-admin",
        f"--user={kube.user_name}",
    )

    api = k8s_config.new_client_from_config(str(kube.admin_kubeconfig))
    custom, batch = k8s.CustomObjectsApi(api), k8s.BatchV1Api(api)
    settings = OperatorSettings(store=str(store_dir))
    spec = TaskClassifierSpec.model_validate(
        {"data": {"source": "synthetic"}, "student": {"gpus": 0}, "judge": {"gpus": 0, "runtime": "transformers"}}
    )
    done = {"type": "Ready", "status": "True", "reason": "Ready", "lastTransitionTime": _now()}
    for i in range(N_CLASSIFIERS):
        tc = custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            NAMESPACE,
            PLURAL,
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "TaskClassifier",
                "metadata": {"name": f"idle-{i:02d}"},
                "spec": spec.wire(),
            },
        )
        ctx = context_for(tc["metadata"], spec, settings)
        job = data_job(ctx, ctx.name)
        batch.create_namespaced_job(NAMESPACE, job)
        batch.patch_namespaced_job_status(
            job["metadata"]["name"],
            NAMESPACE,
            {
                "status": {
                    "startTime": _now(),
                    "completionTime": _now(),
                    "succeeded": 1,
                    # The Job controller counts the pod it started as active; a finished Job has none.
                    "active": 0,
                    "ready": 0,
                    "conditions": [
                        {
                            "type": "SuccessCriteriaMet",
                            "status": "True",
                            "reason": "CompletionsReached",
                            "lastTransitionTime": _now(),
                        },
                        {
                            "type": "Complete",
                            "status": "True",
                            "reason": "CompletionsReached",
                            "lastTransitionTime": _now(),
                        },
                    ],
                }
            },
        )
        pj = training_job(ctx, ctx.name, "v1", FIRST_VERSION, spec.student.model)
        custom.create_namespaced_custom_object(*PYTORCHJOB[:2], NAMESPACE, PYTORCHJOB[2], pj)
        custom.patch_namespaced_custom_object_status(
            *PYTORCHJOB[:2],
            NAMESPACE,
            PYTORCHJOB[2],
            pj["metadata"]["name"],
            {
                "status": {
                    "conditions": [
                        {
                            "type": "Succeeded",
                            "status": "True",
                            "reason": "PyTorchJobSucceeded",
                            "lastTransitionTime": _now(),
                        }
                    ]
                }
            },
        )
        model_uri = f"{ctx.store_uri}/{model_key(ctx.prefix, 'v1')}"  # where the operator finds its model
        for role, uri, version in (("judge", spec.judge.model, "judge"), ("student", model_uri, "v1")):
            isvc = inference_service(ctx, role, uri, version)
            custom.create_namespaced_custom_object(*ISVC[:2], NAMESPACE, ISVC[2], isvc)
            custom.patch_namespaced_custom_object_status(
                *ISVC[:2], NAMESPACE, ISVC[2], isvc["metadata"]["name"], {"status": {"conditions": [done]}}
            )
        custom.patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            NAMESPACE,
            PLURAL,
            ctx.name,
            {"status": {"phase": "Serving", "modelVersion": "v1", "storeUri": ctx.store_uri}},
        )


def _requests_by(audit_log: Path, user: str, start: int) -> tuple[dict[str, str], int]:
    """(requests of `user` in the audit log after byte `start`: audit ID -> "verb resource", the
    log's end)."""
    seen: dict[str, str] = {}
    with open(audit_log, "rb") as f:
        f.seek(start)
        data = f.read()
    for line in data.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("user", {}).get("username") == user:
            ref = event.get("objectRef") or {}
            what = ref.get("resource", event.get("requestURI", "?"))
            seen[event["auditID"]] = f"{event.get('verb')} {what}" + (
                f"/{ref['subresource']}" if ref.get("subresource") else ""
            )
    return seen, start + len(data)


def _measure(kube, store_dir: Path, watch_children: bool, workdir: Path, window: float) -> tuple[float, Counter]:
    """(requests per classifier per minute over `window` seconds, how many of each verb and resource)."""
    env = {**_operator_env(store_dir, watch_children), "KUBECONFIG": str(kube.user_kubeconfig)}
    log = open(workdir / f"operator-{watch_children}.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ontask.cli", "operator", "--standalone", "--namespace", NAMESPACE, "--liveness", ""],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )
    try:
        time.sleep(WARMUP_S)
        _, start = _requests_by(kube.audit_log, kube.user_name, 0)
        time.sleep(window)
        seen, _ = _requests_by(kube.audit_log, kube.user_name, start)
    finally:
        proc.terminate()
        proc.wait(30)
    return len(seen) / N_CLASSIFIERS / (window / 60.0), Counter(seen.values())


def run() -> None:
    from ontask.operator.settings import OperatorSettings
    from realservers import RealServers

    servers = RealServers()
    try:
        kube = servers.kube()
        with tempfile.TemporaryDirectory() as tmp:
            store_dir = Path(tmp) / "store"
            store_dir.mkdir()
            window = window_s(_operator_env(store_dir, True))
            _set_up(kube, store_dir)
            before, _ = _measure(kube, store_dir, False, Path(tmp), window)
            now, kinds = _measure(kube, store_dir, True, Path(tmp), window)
    finally:
        servers.stop()
    default = OperatorSettings.model_fields["resync_seconds"].default
    print(
        f"{N_CLASSIFIERS} idle serving classifiers, {window:.0f} s window ({RESYNC_PASSES} resync passes) after "
        f"{WARMUP_S:.0f} s of warm-up, resync every {RESYNC_S} s (the operator's default: {default:.0f} s); "
        "API requests of the operator's user, from the API server's audit log"
    )
    print("| reconcile | API requests per classifier per minute |")
    print("|---|---|")
    print(f"| every 3 s, a GET per child (before) | {before:.1f} |")
    print(f"| on events, children from watch-fed indexes (now) | {now:.2f} |")
    print(f"goal: at most 1 -> {'met' if now <= 1.0 else 'NOT met'}")
    print("now, what the requests were: " + (", ".join(f"{n} x {k}" for k, n in kinds.most_common()) or "none"))
