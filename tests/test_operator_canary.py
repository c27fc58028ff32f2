"""Promotion through a canary where KServe runs in Serverless mode (the kubelet stand-in plays
KServe's revisions and traffic split): cycle 1's candidate fails as a revision and is rolled
back, with the reason; cycle 2's candidate first serves 10% of the traffic and then replaces
the serving version."""

from __future__ import annotations

import uuid

import pytest
from kubernetes import client as k8s

from ontask.data import generate
from ontask.feedback import make_correction, send
from ontask.images import encode_png
from tests.conftest import run_cli, wait_for
from tests.kubelet_standin import ISVC
from tests.operator_env import Operator, classifier_events, classifier_status, get_child, manifest, prepare_namespace

NS = "ontask-canary"
NAME = "canary"
BUCKET = f"canary-{uuid.uuid4().hex[:6]}"
TOPIC = f"canary-corrections-{uuid.uuid4().hex[:6]}"

pytestmark = pytest.mark.slow


def _corrections(kafka_bootstrap: str, first: int) -> None:
    for i, ex in enumerate(generate(20, seed=first)):
        send(
            make_correction(
                NAME,
                ex.task,
                "off-task" if ex.label == "on-task" else "on-task",
                image=encode_png(ex.image),
                id=f"canary-{first}-{i}",
                windows=ex.windows,
                predicted_label=ex.label,
                confidence=0.6,
            ),
            bootstrap=kafka_bootstrap,
            topic=TOPIC,
        )


def test_a_failed_canary_rolls_back_and_a_good_one_is_promoted(
    kube, admin_api, crd_installed, training_operator, s3, s3_config, kafka_bootstrap, tmp_path, tiny_vlm
):
    store, standin = prepare_namespace(kube, admin_api, s3, s3_config, tiny_vlm, tmp_path, NS, BUCKET)
    standin.fail_versions = {"v2"}  # cycle 1's revision will not come up
    operator = Operator(
        kube, s3, kafka_bootstrap, tmp_path, NS, BUCKET, extra_env={"ONTASK_KSERVE_MODE": "Serverless"}
    ).start()
    custom = k8s.CustomObjectsApi(admin_api)
    status = lambda: classifier_status(admin_api, NS, NAME)  # noqa: E731
    student = lambda: get_child(custom, ISVC, NS, f"{NAME}-student") or {}  # noqa: E731
    diagnose = lambda: f"status: {status()}\nstudent: {student().get('status')}\n{operator.tail()}"  # noqa: E731
    try:
        out = run_cli(
            "kubectl", "apply", "-f", "-", kubeconfig=kube.admin_kubeconfig, input=manifest(NAME, NS, BUCKET, TOPIC)
        )
        assert out.returncode == 0, out.stderr
        wait_for(
            lambda: status().get("phase") == "Serving" and status().get("modelVersion") == "v1",
            420,
            "Serving v1",
            diagnose,
            interval=1.0,
        )
        assert student()["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Serverless"

        # Cycle 1: the candidate passes its evaluation, its canary revision fails: rolled back.
        _corrections(kafka_bootstrap, 100)
        final = wait_for(
            lambda: (s := status()).get("cycle") == 1 and s, 420, "cycle 1 decided", diagnose, interval=1.0
        )
        assert final["modelVersion"] == "v1"
        trained = next(c for c in final["conditions"] if c["type"] == "Trained")
        assert trained["reason"] == "NotPromoted" and "canary failed" in trained["message"]
        wait_for(
            lambda: any(
                e.reason == "CanaryRolledBack" and e.type == "Warning" for e in classifier_events(admin_api, NS, NAME)
            ),
            60,
            "the rollback event",
            diagnose,
        )
        wait_for(
            lambda: (
                (isvc := student())["metadata"]["annotations"]["ontask.dev/model-version"] == "v1"
                and isvc["spec"]["predictor"].get("canaryTrafficPercent") is None
            ),
            60,
            "the student back on v1",
            diagnose,
        )

        # Cycle 2: the canary takes 10% beside v1, then all of it.
        _corrections(kafka_bootstrap, 200)
        split = wait_for(
            lambda: (
                (t := (((student().get("status") or {}).get("components") or {}).get("predictor") or {}).get("traffic"))
                and len(t) == 2
                and t
            ),
            480,
            "a 90/10 traffic split",
            diagnose,
            interval=0.5,
        )
        assert sorted(x["percent"] for x in split) == [10, 90]
        assert next(x for x in split if x["percent"] == 10)["revisionName"].endswith("-v3")
        wait_for(
            lambda: (s := status()).get("cycle") == 2 and s.get("modelVersion") == "v3",
            240,
            "cycle 2 promoted",
            diagnose,
            interval=1.0,
        )
        traffic = wait_for(
            lambda: (t := student()["status"]["components"]["predictor"]["traffic"]) and len(t) == 1 and t,
            120,
            "all traffic on v3",
            diagnose,
        )
        assert traffic[0]["percent"] == 100 and traffic[0]["revisionName"].endswith("-v3")
        assert student()["spec"]["predictor"].get("canaryTrafficPercent") is None
    finally:
        operator.stop()
        standin.stop()
