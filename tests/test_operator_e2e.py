"""The life of a classifier end to end on the real API server, Kafka and S3, with the real
controllers of the Kubeflow training operator and KServe (Standard mode): `kubectl apply` a
TaskClassifier; the data Job, the judge InferenceService and the training PyTorchJob appear and
run (the pods those controllers make, and the Job's, run as local processes with the real code:
the tests' kubelet stand-in); the classifier serves v1 from the Deployment KServe made; 20
corrections on Kafka start a cycle whose PyTorchJob trains and evaluates a candidate that is
promoted to v2, and KServe rolls the Deployment over to it. The operator is SIGKILLed in every
phase (bootstrapping, training, serving, syncing) and restarted: no child is made twice and the
run completes. Then a spec update reaches the student, and deleting the classifier deletes its
children and (storage.retainArtifacts false) its artifacts."""

from __future__ import annotations

import uuid

import pytest
from kubernetes import client as k8s

from ontask.api import GROUP, PLURAL, VERSION
from ontask.data import generate
from ontask.feedback import make_correction, send
from ontask.images import encode_png
from tests.conftest import run_cli, wait_for
from tests.kubelet_standin import ISVC, PYTORCHJOB
from tests.operator_env import Operator, classifier_events, classifier_status, get_child, manifest, prepare_namespace

NS = "ontask-e2e"
NAME = "focus"
BUCKET = f"e2e-{uuid.uuid4().hex[:6]}"
OURS = f"namespaces/{NS}"  # the namespace's folder of the store: every artifact of its classifiers
TOPIC = f"e2e-corrections-{uuid.uuid4().hex[:6]}"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(
    kube,
    admin_api,
    crd_installed,
    training_operator,
    kserve_controller,
    s3,
    s3_config,
    kafka_bootstrap,
    tmp_path_factory,
    tiny_vlm,
):
    work = tmp_path_factory.mktemp("e2e")
    store, standin = prepare_namespace(kube, admin_api, s3, s3_config, tiny_vlm, work, NS, BUCKET, kserve=True)
    operator = Operator(kube, s3, kafka_bootstrap, work, NS, BUCKET).start()
    yield operator, standin, store
    operator.stop()
    standin.stop()


def status(admin_api) -> dict:
    return classifier_status(admin_api, NS, NAME)


def events(admin_api) -> list:
    return classifier_events(admin_api, NS, NAME)


MANIFEST = manifest(NAME, NS, BUCKET, TOPIC, retain_artifacts=False)


def test_a_classifier_trains_serves_learns_from_corrections_and_survives_operator_kills(
    cluster, kube, admin_api, kafka_bootstrap
):
    operator, standin, store = cluster
    custom = k8s.CustomObjectsApi(admin_api)
    diagnose = lambda: f"status: {status(admin_api)}\noperator: {operator.tail()}\nkubelet: {standin.runs}"  # noqa: E731
    out = run_cli("kubectl", "apply", "-f", "-", kubeconfig=kube.admin_kubeconfig, input=MANIFEST)
    assert out.returncode == 0, out.stderr

    # Bootstrap: the data Job and the judge, owned by the classifier.
    wait_for(lambda: status(admin_api).get("phase") in ("Bootstrapping", "Training"), 60, "Bootstrapping", diagnose)
    operator.kill()  # during Bootstrapping
    operator.start()
    judge = custom.get_namespaced_custom_object(*ISVC[:2], NS, ISVC[2], f"{NAME}-judge")
    container = judge["spec"]["predictor"]["containers"][0]
    assert container["args"][:2] == ["serve", "judge"]
    assert {"name": "STORAGE_URI", "value": f"s3://{BUCKET}/base/judge"} in container["env"]

    # Train: the PyTorchJob with the trainer's command; the operator is killed while it runs.
    job = wait_for(lambda: _get(custom, PYTORCHJOB, f"{NAME}-train"), 180, "the training PyTorchJob", diagnose)
    # The data Job ran first, as the Job controller's pod; that controller wrote its status.
    data = k8s.BatchV1Api(admin_api).read_namespaced_job(f"{NAME}-data", NS)
    assert data.status.succeeded == 1
    assert any(c.type == "Complete" and c.status == "True" for c in data.status.conditions)
    data_pods = k8s.CoreV1Api(admin_api).list_namespaced_pod(
        NS, label_selector=f"batch.kubernetes.io/job-name={NAME}-data"
    )
    assert [p.status.phase for p in data_pods.items] == ["Succeeded"]
    master = job["spec"]["pytorchReplicaSpecs"]["Master"]
    assert master["replicas"] == 1 and "Worker" not in job["spec"]["pytorchReplicaSpecs"]
    args = master["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "train" and args[args.index("--model-version") + 1] == "v1"
    assert job["metadata"]["ownerReferences"][0]["name"] == NAME
    # Its pod is the training operator's, with the rendezvous it set (the Master's Service name).
    pod = wait_for(
        lambda: _pod(admin_api, f"{NAME}-train-master-0"), 60, "the training operator's Master pod", diagnose
    )
    env = {e.name: e.value for e in pod.spec.containers[0].env}
    assert env["MASTER_ADDR"] == f"{NAME}-train-master-0" and env["WORLD_SIZE"] == "1" and env["RANK"] == "0"
    operator.kill()
    operator.start()

    # Serve v1.
    wait_for(
        lambda: status(admin_api).get("modelVersion") == "v1" and status(admin_api).get("phase") == "Serving",
        420,
        "Serving v1",
        diagnose,
    )
    printed = run_cli("kubectl", "get", "taskclassifier", NAME, "-n", NS, kubeconfig=kube.admin_kubeconfig)
    assert "Serving" in printed.stdout and "v1" in printed.stdout
    # KServe made the predictor (its address in the status), whose storage initializer fetches v1.
    student = custom.get_namespaced_custom_object(*ISVC[:2], NS, ISVC[2], f"{NAME}-student")
    assert student["status"]["address"]["url"] == f"http://{NAME}-student-predictor.{NS}.svc.cluster.local"
    assert standin.served_uris(f"{NAME}-student") == {f"s3://{BUCKET}/{OURS}/classifiers/{NAME}/models/v1"}
    assert status(admin_api)["storeUri"] == f"s3://{BUCKET}/{OURS}"  # where a user finds its artifacts

    # The feedback collector runs in a Deployment of its own, owned by the classifier.
    collector = k8s.AppsV1Api(admin_api).read_namespaced_deployment(f"{NAME}-feedback", NS)
    assert collector.metadata.owner_references[0].name == NAME
    assert collector.spec.template.spec.containers[0].args[:2] == ["feedback", "collect"]
    operator.kill()  # while Serving
    operator.start()

    # Learn: 20 corrections start cycle 1; the operator is killed while the cycle trains.
    for i, ex in enumerate(generate(20, seed=77)):
        send(
            make_correction(
                NAME,
                ex.task,
                "off-task" if ex.label == "on-task" else "on-task",
                image=encode_png(ex.image),
                id=f"e2e-{i}",
                windows=ex.windows,
                predicted_label=ex.label,
                confidence=0.6,
            ),
            bootstrap=kafka_bootstrap,
            topic=TOPIC,
        )
    wait_for(lambda: _get(custom, PYTORCHJOB, f"{NAME}-cycle-c1"), 240, "the cycle PyTorchJob", diagnose)
    # The status patch lands just after the job is created.
    wait_for(
        lambda: (s := status(admin_api)).get("phase") == "Syncing" and s.get("candidateVersion") == "v2",
        30,
        "Syncing v2",
        diagnose,
    )
    operator.kill()
    operator.start()

    final = wait_for(
        lambda: (s := status(admin_api)).get("cycle") == 1 and s.get("modelVersion") == "v2" and s,
        480,
        "cycle 1 promoted",
        diagnose,
    )
    # The gate measured the held-out corrections (this small dataset leaves no regression set, and
    # maxRegression 1.0 lets that pass): the candidate's figure is in the status.
    assert final["feedback"]["received"] == 20 and final["metrics"]["edgeCaseAccuracy"] is not None
    assert final.get("candidateVersion") is None  # decided: no candidate left in flight
    conditions = {c["type"]: c for c in final["conditions"]}
    assert conditions["Trained"]["reason"] == "Promoted" and "promoteIfGain" in conditions["Trained"]["message"]
    assert conditions["FeedbackConnected"]["status"] == "True"
    wait_for(lambda: any(e.reason == "Promoted" for e in events(admin_api)), 60, "the Promoted event", diagnose)
    wait_for(
        lambda: (
            (s := status(admin_api)).get("phase") == "Serving"
            and {c["type"]: c["status"] for c in s["conditions"]}.get("StudentServing") == "True"
        ),
        240,
        "the student serving v2",
        diagnose,
    )
    student = custom.get_namespaced_custom_object(*ISVC[:2], NS, ISVC[2], f"{NAME}-student")
    assert student["metadata"]["annotations"]["ontask.dev/model-version"] == "v2"
    # The Deployment rolled out: v2's pod serves, and v1's was scaled down by the ReplicaSets.
    wait_for(
        lambda: standin.served_uris(f"{NAME}-student") == {f"s3://{BUCKET}/{OURS}/classifiers/{NAME}/models/v2"},
        60,
        "v1's pod gone",
        diagnose,
    )
    # Nothing made or run twice, whatever the kills interrupted.
    assert all(n == 1 for n in standin.runs.values()), standin.runs
    assert set(standin.runs) == {f"job/{NAME}-data", f"pytorchjob/{NAME}-train", f"pytorchjob/{NAME}-cycle-c1"}
    # What Prometheus scrapes from the operator says the same as the status.
    scraped = operator.metrics()
    assert f'ontask_classifier_phase{{name="{NAME}",namespace="{NS}",phase="Serving"}} 1.0' in scraped
    assert f'ontask_classifier_cycle{{name="{NAME}",namespace="{NS}"}} 1.0' in scraped
    assert f'ontask_classifier_corrections{{kind="received",name="{NAME}",namespace="{NS}"}} 20.0' in scraped
    assert store.exists(f"{OURS}/classifiers/{NAME}/evaluations/v2.json")
    # The operator's word that cycle 1 is decided, which lets the collector write cycle 2's data.
    assert store.exists(f"{OURS}/classifiers/{NAME}/feedback/cycles/cycle-1.decided.json")

    # Update: new replica bounds reach the student InferenceService; observedGeneration follows.
    generation = custom.get_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, NAME)["metadata"]["generation"]
    custom.patch_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, NAME, {"spec": {"serving": {"maxReplicas": 3}}})
    wait_for(
        lambda: _get(custom, ISVC, f"{NAME}-student")["spec"]["predictor"]["maxReplicas"] == 3,
        60,
        "maxReplicas on the student",
        diagnose,
    )
    wait_for(lambda: status(admin_api).get("observedGeneration") == generation + 1, 60, "observedGeneration", diagnose)

    # Delete: the children go with the classifier (the real garbage collector, by ownerReferences),
    # and with retainArtifacts false so do its artifacts in S3; the tiny base models it was
    # given (not its own) stay.
    assert store.exists(f"{OURS}/classifiers/{NAME}/models/v2/model.safetensors")
    custom.delete_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, NAME)
    wait_for(
        lambda: (
            not custom.list_namespaced_custom_object(*PYTORCHJOB[:2], NS, PYTORCHJOB[2])["items"]
            and not custom.list_namespaced_custom_object(*ISVC[:2], NS, ISVC[2])["items"]
            and not k8s.BatchV1Api(admin_api).list_namespaced_job(NS).items
        ),
        120,
        "children garbage-collected",
        diagnose,
    )
    wait_for(
        lambda: not list(store.list(f"{OURS}/classifiers/{NAME}")) and not list(store.list(f"{OURS}/datasets/{NAME}")),
        60,
        "artifacts deleted",
        diagnose,
    )
    assert not list(store.list(f"{OURS}/datasets/{NAME}-feedback")) and store.exists("base/student/config.json")


def _get(custom, kind, name):
    return get_child(custom, kind, NS, name)


def _pod(admin_api, name):
    try:
        return k8s.CoreV1Api(admin_api).read_namespaced_pod(name, NS)
    except k8s.exceptions.ApiException as e:
        if e.status == 404:
            return None
        raise
