"""Two operator replicas elect a leader through kopf peering on the real API server: the
higher-priority one reconciles, the other waits; when the leader is killed, the other takes over."""

import os
import signal
import subprocess
import sys

from kubernetes import client as k8s

from ontask.api import GROUP, PLURAL, VERSION
from tests.conftest import REPO, run_cli, wait_for
from tests.operator_env import bind_chart_role

NS = "ontask-peer"
SPEC = {
    "data": {"source": "s3://peering/p"},
    "judge": {"enabled": False},
    "training": {"rewardWeights": {"binary": 0.8, "judge": 0.0, "verifier": 0.2}},
}


def _start(kube, s3, priority: int, log):
    env = {
        **os.environ,
        "KUBECONFIG": str(kube.user_kubeconfig),
        "PYTHONPATH": str(REPO),
        "ONTASK_PEERING_PRIORITY": str(priority),
        "ONTASK_PEERING_LIFETIME": "5",
        # The store where a classifier claims its prefix before its data Job is created.
        "ONTASK_STORE": "s3://peering",
        "S3_ENDPOINT": s3.endpoint,
        "AWS_ACCESS_KEY_ID": s3.access_key,
        "AWS_SECRET_ACCESS_KEY": s3.secret_key,
    }
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ontask.cli", "operator", "--namespace", NS, "--liveness", ""],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO,
        )


def _phase(admin_api, name):
    try:
        obj = k8s.CustomObjectsApi(admin_api).get_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, name)
    except k8s.exceptions.ApiException:
        return None
    return (obj.get("status") or {}).get("phase")


def test_the_higher_priority_replica_leads_and_the_other_takes_over(kube, admin_api, crd_installed, s3, tmp_path):
    run_cli("kubectl", "create", "namespace", NS, kubeconfig=kube.admin_kubeconfig)
    bind_chart_role(kube, NS, extra=("KopfPeering",))
    custom = k8s.CustomObjectsApi(admin_api)
    leader = _start(kube, s3, 200, tmp_path / "leader.log")
    follower = _start(kube, s3, 100, tmp_path / "follower.log")
    try:
        wait_for(
            lambda: (
                len(
                    custom.get_namespaced_custom_object("kopf.dev", "v1", NS, "kopfpeerings", "ontask").get("status")
                    or {}
                )
                == 2
            ),
            60,
            "both replicas in the peering object",
        )
        custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            NS,
            PLURAL,
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "TaskClassifier",
                "metadata": {"name": "peer-a"},
                "spec": SPEC,
            },
        )
        wait_for(lambda: _phase(admin_api, "peer-a") == "Bootstrapping", 60, "peer-a reconciled")
        assert "peer-a" in (tmp_path / "leader.log").read_text()
        assert "peer-a" not in (tmp_path / "follower.log").read_text()  # it waited

        leader.send_signal(signal.SIGKILL)
        leader.wait(30)
        custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            NS,
            PLURAL,
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "TaskClassifier",
                "metadata": {"name": "peer-b"},
                "spec": SPEC,
            },
        )
        wait_for(lambda: _phase(admin_api, "peer-b") == "Bootstrapping", 90, "peer-b reconciled by the follower")
        assert "peer-b" in (tmp_path / "follower.log").read_text()
    finally:
        for p in (leader, follower):
            if p.poll() is None:
                p.terminate()
                p.wait(30)
