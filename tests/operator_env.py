"""What the operator's end-to-end tests share: a namespace with the chart's RBAC bound to the
non-admin test user, tiny base models in S3, the kubelet stand-in, and the operator process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Optional

import yaml
from kubernetes import client as k8s

from ontask.api import GROUP, PLURAL, VERSION
from ontask.operator.local import free_port
from ontask.store import S3Store, upload_folder
from tests.conftest import REPO, run_cli
from tests.kubelet_standin import KubeletStandIn


class Operator:
    """`ontask operator` as the non-admin user bound by the chart's ClusterRole."""

    def __init__(
        self,
        kube,
        s3,
        kafka_bootstrap: str,
        workdir: Path,
        namespace: str,
        bucket: str,
        extra_env: Optional[dict[str, str]] = None,
    ):
        self.namespace = namespace
        self.log = workdir / "operator.log"
        self.env = {
            **os.environ,
            "KUBECONFIG": str(kube.user_kubeconfig),
            "PYTHONPATH": str(REPO),
            "ONTASK_STORE": f"s3://{bucket}",
            "S3_ENDPOINT": s3.endpoint,
            "AWS_ACCESS_KEY_ID": s3.access_key,
            "AWS_SECRET_ACCESS_KEY": s3.secret_key,
            "ONTASK_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "ONTASK_S3_SECRET": "s3-creds",
            "ONTASK_CHILD_S3_ENDPOINT": s3.endpoint,
            # No safety-net pass within a test: every step of a classifier's life must come from an
            # event (a child's, a feedback batch's, a spec edit's) or a canary's deadline.
            "ONTASK_RESYNC_SECONDS": "3600",
            **(extra_env or {}),
        }
        self.proc: Optional[subprocess.Popen] = None
        self.metrics_port = free_port()

    def start(self) -> "Operator":
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ontask.cli",
                    "operator",
                    "--standalone",
                    "--namespace",
                    self.namespace,
                    "--liveness",
                    "",
                    "--metrics-port",
                    str(self.metrics_port),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=REPO,
            )
        return self

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def metrics(self) -> str:
        """What Prometheus would scrape from it."""
        import requests

        return requests.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).text


def chart_rbac(namespace: str, release_namespace: Optional[str] = None) -> list[dict]:
    """The chart's RBAC (and its other documents) rendered by the real Helm for an operator that
    watches `namespace`."""
    rendered = run_cli(
        "helm",
        "template",
        "ontask",
        str(REPO / "charts" / "ontask"),
        "--namespace",
        release_namespace or namespace,
        "--set",
        f"operator.watchNamespaces[0]={namespace}",
        "--kube-version",
        "1.34.0",
        check=True,
    ).stdout
    return [d for d in yaml.safe_load_all(rendered) if d]


def bind_chart_role(kube, namespace: str, extra: tuple[str, ...] = ()) -> None:
    """The chart's roles and bindings for an operator watching `namespace`, bound to the tests'
    non-admin user instead of the chart's ServiceAccount (the operator runs as that user), with
    the rendered documents of the kinds in `extra`."""
    docs = chart_rbac(namespace)
    for d in docs:
        if d["kind"] in ("ClusterRoleBinding", "RoleBinding"):
            d["subjects"] = [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": kube.user_name}]
    wanted = {"ClusterRole", "ClusterRoleBinding", "RoleBinding", *extra}
    run_cli(
        "kubectl",
        "apply",
        "-f",
        "-",
        kubeconfig=kube.admin_kubeconfig,
        check=True,
        input=yaml.safe_dump_all([d for d in docs if d["kind"] in wanted]),
    )


def prepare_namespace(
    kube, admin_api, s3, s3_config, tiny_vlm, work: Path, namespace: str, bucket: str, kserve: bool = False
) -> tuple[S3Store, KubeletStandIn]:
    """The namespace, RBAC, base models in S3 (the session's tiny models, `tiny_vlm`), and a
    running kubelet stand-in for it (`kserve`: KServe's real controller runs, and the stand-in
    runs the pods it makes)."""
    run_cli("kubectl", "create", "namespace", namespace, kubeconfig=kube.admin_kubeconfig)
    bind_chart_role(kube, namespace)
    store = S3Store(s3_config, bucket)
    upload_folder(store, tiny_vlm(1), "base/student")
    upload_folder(store, tiny_vlm(2), "base/judge")
    standin = KubeletStandIn(
        admin_api,
        namespace,
        work / "kubelet",
        {"s3-creds": {"AWS_ACCESS_KEY_ID": s3.access_key, "AWS_SECRET_ACCESS_KEY": s3.secret_key}},
        kserve=kserve,
    ).start()
    return store, standin


def manifest(name: str, namespace: str, bucket: str, topic: str, retain_artifacts: bool = True) -> str:
    """A small TaskClassifier: synthetic data, tiny models from S3, cycles of 20 corrections."""
    return f"""
apiVersion: ontask.dev/v1alpha1
kind: TaskClassifier
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  student: {{model: "s3://{bucket}/base/student", gpus: 0}}
  judge: {{enabled: true, model: "s3://{bucket}/base/judge", runtime: transformers, gpus: 0}}
  data: {{source: synthetic, syntheticRows: 40, trainBatchSize: 4, maxResponseLength: 4}}
  training:
    warmStartSteps: 4
    syncSteps: 2
    epochs: 1
    groupSize: 2
    learningRate: 0.001
    workers: 1
    evalEvery: 1000
    saveEvery: 1000
    rewardWeights: {{binary: 0.8, judge: 0.0, verifier: 0.2}}
  feedback: {{topic: {topic}, cycleEvery: 20, variantsPerCorrection: 1, replayRatio: 0.5}}
  # The operator tests are about the mechanics of a cycle, not what it learns: any candidate passes.
  serving: {{promoteIfGain: -1.0, maxRegression: 1.0, canaryPercent: 10, canaryMinutes: 0.25}}
  storage: {{retainArtifacts: {str(retain_artifacts).lower()}}}
"""


def classifier_status(admin_api, namespace: str, name: str) -> dict:
    obj = k8s.CustomObjectsApi(admin_api).get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    return obj.get("status") or {}


def classifier_events(admin_api, namespace: str, name: str) -> list:
    return k8s.CoreV1Api(admin_api).list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}").items


def get_child(custom, kind, namespace: str, name: str) -> Optional[dict]:
    try:
        return custom.get_namespaced_custom_object(*kind[:2], namespace, kind[2], name)
    except k8s.exceptions.ApiException as e:
        if e.status == 404:
            return None
        raise
