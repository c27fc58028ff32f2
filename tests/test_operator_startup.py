"""The operator process, run as a non-admin user bound by the chart's RBAC, against the real
API server: it starts, reports healthy, and records what it found in each classifier's status."""

import os
import subprocess
import sys
import urllib.request
import uuid

import pytest
from kubernetes import client as k8s

from ontask.api import GROUP, PLURAL, VERSION
from ontask.operator.local import free_port
from tests.conftest import REPO, run_cli, wait_for
from tests.operator_env import bind_chart_role

NS = "ontask-op"
BUCKET = f"startup-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def operator(kube, admin_api, crd_installed, s3, tmp_path_factory):
    run_cli("kubectl", "create", "namespace", NS, kubeconfig=kube.admin_kubeconfig)
    bind_chart_role(kube, NS)
    port = free_port()
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    env = {
        **os.environ,
        "KUBECONFIG": str(kube.user_kubeconfig),
        "PYTHONPATH": str(REPO),
        # The store where each classifier claims its prefix before its first job writes there.
        "ONTASK_STORE": f"s3://{BUCKET}",
        "S3_ENDPOINT": s3.endpoint,
        "AWS_ACCESS_KEY_ID": s3.access_key,
        "AWS_SECRET_ACCESS_KEY": s3.secret_key,
    }
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ontask.cli",
                "operator",
                "--standalone",
                "--namespace",
                NS,
                "--liveness",
                f"http://127.0.0.1:{port}/healthz",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        wait_for(lambda: _healthy(port), timeout=60, what="operator /healthz")
        yield proc, log
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _healthy(port):
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).status == 200
    except OSError:
        return False


def _tc(name, spec):
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "TaskClassifier", "metadata": {"name": name}, "spec": spec}


def _status(admin_api, name):
    obj = k8s.CustomObjectsApi(admin_api).get_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, name)
    return obj.get("status") or {}


def test_valid_classifier_is_accepted_and_starts_bootstrapping(operator, admin_api):
    api = k8s.CustomObjectsApi(admin_api)
    created = api.create_namespaced_custom_object(
        GROUP, VERSION, NS, PLURAL, _tc("good", {"data": {"source": f"s3://{BUCKET}/p"}})
    )
    status = wait_for(
        lambda: _status(admin_api, "good").get("phase") and _status(admin_api, "good"), what="status of 'good'"
    )
    assert status["phase"] == "Bootstrapping"
    assert status["observedGeneration"] == 1
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "Bootstrapping")
    # As the API server stores them: shaped as metav1.Condition, decided from generation 1.
    for c in status["conditions"]:
        assert {"type", "status", "observedGeneration", "lastTransitionTime", "reason", "message"} <= c.keys(), c
        assert c["observedGeneration"] == 1, c
    # Its first child, owned by it (garbage-collected with it): the judge, which labels the
    # screenshots; the data Job waits for it to be ready (no KServe runs here, so it never is).
    judge = api.get_namespaced_custom_object("serving.kserve.io", "v1beta1", NS, "inferenceservices", "good-judge")
    assert judge["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
    assert "waiting for the judge" in ready["message"]
    with pytest.raises(k8s.ApiException) as absent:
        k8s.BatchV1Api(admin_api).read_namespaced_job("good-data", NS)
    assert absent.value.status == 404


def test_inconsistent_classifier_fails_with_a_condition_and_an_event(operator, admin_api):
    api = k8s.CustomObjectsApi(admin_api)
    api.create_namespaced_custom_object(
        GROUP,
        VERSION,
        NS,
        PLURAL,
        _tc("no-judge", {"data": {"source": f"s3://{BUCKET}/p"}, "judge": {"enabled": False}}),
    )
    status = wait_for(
        lambda: _status(admin_api, "no-judge").get("phase") and _status(admin_api, "no-judge"),
        what="status of 'no-judge'",
    )
    assert status["phase"] == "Failed"
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "InvalidSpec"
    assert "rewardWeights.judge > 0" in ready["message"]

    def invalid_event():
        events = k8s.CoreV1Api(admin_api).list_namespaced_event(NS, field_selector="involvedObject.name=no-judge")
        return [e for e in events.items if e.reason == "InvalidSpec"]

    [event] = wait_for(invalid_event, what="InvalidSpec event")
    assert "judge.enabled is false" in event.message


def test_fixing_the_spec_moves_it_out_of_failed(operator, admin_api):
    api = k8s.CustomObjectsApi(admin_api)
    api.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        NS,
        PLURAL,
        "no-judge",
        {"spec": {"training": {"rewardWeights": {"binary": 0.7, "judge": 0.0, "verifier": 0.3}}}},
    )
    status = wait_for(
        lambda: _status(admin_api, "no-judge").get("phase") == "Bootstrapping" and _status(admin_api, "no-judge"),
        what="'no-judge' out of Failed",
    )
    assert status["observedGeneration"] == 2
    # The Ready condition says it was decided from the fixed spec, the one kubectl wait reads.
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["observedGeneration"]) == ("False", 2)


def _owner(store, prefix: str, namespace: str, name: str, uid: str = "0000") -> dict:
    import json

    owner = {"namespace": namespace, "name": name, "uid": uid}
    store.put_bytes(f"{prefix}/owner.json", json.dumps(owner).encode(), "application/json")
    return owner


def _runnable_spec() -> dict:
    spec = {"data": {"source": f"s3://{BUCKET}/p"}, "judge": {"enabled": False}}
    spec["training"] = {"rewardWeights": {"binary": 0.7, "judge": 0.0, "verifier": 0.3}}
    return spec


def _data_job_store(admin_api, name: str) -> str:
    """The store the classifier's data job writes its dataset to (its --out)."""
    job = wait_for(lambda: _job(admin_api, f"{name}-data"), what=f"{name}-data")
    args = job.spec.template.spec.containers[0].args
    return args[args.index("--out") + 1]


def _job(admin_api, name):
    try:
        return k8s.BatchV1Api(admin_api).read_namespaced_job(name, NS)
    except k8s.ApiException:
        return None


def test_the_same_name_in_two_namespaces_has_a_folder_each(operator, admin_api, s3_config):
    """A classifier named like one in another namespace that shares the bucket runs in its
    namespace's folder of the store and never touches the other's models, datasets or feedback."""
    import json

    from ontask.store import S3Store

    store = S3Store(s3_config, BUCKET)
    theirs = _owner(store, "classifiers/desk", "team-b", "desk")  # team-b's, from before namespaces
    k8s.CustomObjectsApi(admin_api).create_namespaced_custom_object(
        GROUP, VERSION, NS, PLURAL, _tc("desk", _runnable_spec())
    )
    assert _data_job_store(admin_api, "desk") == f"s3://{BUCKET}/namespaces/{NS}"
    mine = json.loads(store.get_bytes(f"namespaces/{NS}/classifiers/desk/owner.json"))
    assert (mine["namespace"], mine["name"]) == (NS, "desk")
    assert json.loads(store.get_bytes("classifiers/desk/owner.json")) == theirs
    assert _status(admin_api, "desk").get("phase") != "Failed"


def test_a_classifier_from_before_namespaces_keeps_its_artifacts_where_they_are(operator, admin_api, s3_config):
    """An upgrade from the top-level layout (0.1.0): the classifier that claimed classifiers/<name>
    at the top of the store, re-created under its namespace and name (a new uid), adopts it there,
    where its models and datasets are."""
    import json

    from ontask.store import S3Store

    store = S3Store(s3_config, BUCKET)
    _owner(store, "classifiers/kept", NS, "kept", uid="from-0.1.0")
    store.put_bytes("classifiers/kept/models/v1/config.json", b"{}", "application/json")
    k8s.CustomObjectsApi(admin_api).create_namespaced_custom_object(
        GROUP, VERSION, NS, PLURAL, _tc("kept", _runnable_spec())
    )
    assert _data_job_store(admin_api, "kept") == f"s3://{BUCKET}"
    adopted = wait_for(lambda: json.loads(store.get_bytes("classifiers/kept/owner.json"))["uid"] != "from-0.1.0")
    assert adopted and not list(store.list(f"namespaces/{NS}/classifiers/kept"))
    assert store.exists("classifiers/kept/models/v1/config.json")


def test_a_prefix_another_classifier_owns_is_never_written_and_the_status_says_whose(operator, admin_api, s3_config):
    """A folder that another classifier's claim holds (a store two installations share, or one
    copied by hand): refused before any job writes into the other's models, datasets or feedback."""
    import json

    from ontask.store import S3Store

    store = S3Store(s3_config, BUCKET)
    owner = _owner(store, f"namespaces/{NS}/classifiers/taken", "team-b", "taken")
    k8s.CustomObjectsApi(admin_api).create_namespaced_custom_object(
        GROUP, VERSION, NS, PLURAL, _tc("taken", _runnable_spec())
    )
    status = wait_for(lambda: _status(admin_api, "taken").get("phase") == "Failed" and _status(admin_api, "taken"))
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "PrefixTaken" and "team-b/taken" in ready["message"]
    assert _job(admin_api, "taken-data") is None
    assert json.loads(store.get_bytes(f"namespaces/{NS}/classifiers/taken/owner.json")) == owner
