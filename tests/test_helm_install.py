"""The chart for real on a fresh cluster: `helm install` with the default values (no dry run, no
CRD installed beforehand), `helm upgrade` to the working tree's chart, `helm test`, `helm
uninstall`; with two replicas (the default), one, and watchNamespaces.

The cluster is a control plane of this module's own: the session's API server has the CRDs as
soon as any test asked for `crd_installed`, and cluster-scoped objects (CRDs, ClusterRoles,
the ClusterKopfPeering) installed and deleted here would meet the other tests'. There is no
kubelet: the tests' kubelet stand-in runs the pods of the release's namespace (the operator
replicas as local processes under their ServiceAccount's token, and `helm test`'s health pod),
as it runs the operator's children in the other tests.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from ontask.api.crd import CRD_PATH, build_crd
from realservers.kube import KubeCluster
from tests.conftest import REPO, run_cli, wait_for
from tests.kubelet_standin import KubeletStandIn

CHART = REPO / "charts" / "ontask"
OURS = ("taskclassifiers.ontask.dev", "clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev")


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """etcd, kube-apiserver and kube-controller-manager of this module's own, with no CRD."""
    cluster = KubeCluster(tmp_path_factory.mktemp("fresh-cluster"))
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture
def cluster(fresh):
    """The fresh cluster for one test, left as it was found: no release, none of the chart's CRDs."""
    yield fresh
    for release in json.loads(run_cli("helm", "list", "-A", "-o", "json", kubeconfig=fresh.admin_kubeconfig).stdout):
        run_cli("helm", "uninstall", release["name"], "-n", release["namespace"], kubeconfig=fresh.admin_kubeconfig)
    _forget_crds(fresh)


@pytest.fixture(scope="module")
def previous_chart(tmp_path_factory) -> Path:
    """The chart as a release before this one: the same, but its TaskClassifier CRD lacks a
    field of the spec (spec.scheduling), as a schema from before that field was added would."""
    chart = tmp_path_factory.mktemp("previous") / "ontask"
    shutil.copytree(CHART, chart)
    crd = yaml.safe_load(CRD_PATH.read_text())
    del crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["scheduling"]
    (chart / "files" / "crds" / CRD_PATH.name).write_text(yaml.safe_dump(crd, sort_keys=False))
    return chart


def kubectl(kube, *args: str, input: str | None = None, check: bool = True):
    out = run_cli("kubectl", *args, kubeconfig=kube.admin_kubeconfig, input=input)
    assert not check or out.returncode == 0, f"kubectl {' '.join(args)}: {out.stderr}"
    return out


def helm(kube, *args: str):
    out = run_cli("helm", *args, kubeconfig=kube.admin_kubeconfig)
    assert out.returncode == 0, f"helm {' '.join(args)}: {out.stdout}\n{out.stderr}"
    return out.stdout


def _crds(kube) -> dict[str, dict]:
    out = kubectl(kube, "get", "crd", "-o", "json")
    return {c["metadata"]["name"]: c for c in json.loads(out.stdout)["items"] if c["metadata"]["name"] in OURS}


def _classifier(name: str, namespace: str, bucket: str = "ontask") -> str:
    return json.dumps(
        {
            "apiVersion": "ontask.dev/v1alpha1",
            "kind": "TaskClassifier",
            "metadata": {"name": name, "namespace": namespace},
            # Screenshots in the installation's bucket, as the quick start has them: another bucket
            # needs keys of the classifier's own or the chart's dataSources.uriPrefixes.
            "spec": {"data": {"source": f"s3://{bucket}/support-desk/screens/"}},
        }
    )


def _ready(kube, name: str, namespace: str) -> dict | None:
    out = kubectl(kube, "get", "tc", name, "-n", namespace, "-o", "json")
    conditions = (json.loads(out.stdout).get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "Ready" and c.get("reason") not in ("Pending", None)), None)


def _forget_crds(kube) -> None:
    """Back to a cluster with none of the chart's CRDs, for the next case: the classifiers' kopf
    finalizer first (no operator is left to remove it), then the CRDs."""
    if "taskclassifiers.ontask.dev" in _crds(kube):
        listed = json.loads(kubectl(kube, "get", "tc", "-A", "-o", "json").stdout)["items"]
        for tc in listed:
            meta = tc["metadata"]
            patch = '{"metadata":{"finalizers":null}}'
            kubectl(kube, "patch", "tc", meta["name"], "-n", meta["namespace"], "--type=merge", "-p", patch)
    kubectl(kube, "delete", "crd", *_crds(kube), "--wait=false", check=False)

    def gone() -> bool:
        left = _crds(kube)
        for name, crd in left.items():
            # The API server's CRD finalizer lists the instances to delete them; a CRD deleted
            # while its storage starts gets "storage is (re)initializing", and the finalizer
            # backs off exponentially (minutes: operator-framework/operator-controller#1437).
            # Touching the CRD queues it again at once; the finalizer still deletes the instances.
            terminating = [c for c in (crd.get("status") or {}).get("conditions") or [] if c["type"] == "Terminating"]
            if any(c.get("reason") == "InstanceDeletionFailed" for c in terminating):
                touch = json.dumps({"metadata": {"annotations": {"ontask.dev/test-requeue": uuid.uuid4().hex}}})
                kubectl(kube, "patch", "crd", name, "--type=merge", "-p", touch, check=False)
        return not left

    wait_for(gone, timeout=120, interval=3, what="the chart's CRDs deleted", diagnose=lambda: repr(_crds(kube)))


CASES = {
    # name: (helm values, the peering objects the release creates)
    "defaults": ([], [("clusterkopfpeerings", None)]),
    # One replica asks for its peering object too (kopf does nothing while it is missing).
    "one-replica": (["--set", "operator.replicas=1"], [("clusterkopfpeerings", None)]),
    "namespaces": (
        ["--set", "operator.watchNamespaces={team-a,team-b}"],
        [("kopfpeerings", "team-a"), ("kopfpeerings", "team-b")],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_install_upgrade_test_and_uninstall_on_a_fresh_cluster(cluster, previous_chart, request, tmp_path, case):
    fresh = cluster
    values, peerings = CASES[case]
    release, namespace = f"ontask-{case}", f"{case}-system"
    assert _crds(fresh) == {}, "the case must start from a cluster without the chart's CRDs"
    for ns in {namespace, *(ns for _, ns in peerings if ns)}:
        kubectl(fresh, "create", "namespace", ns)
    access, secret_key = "unused", "unused"
    storage, bucket = [], "ontask"
    if case == "one-replica":
        # A store that answers, so that a classifier gets as far as its first child.
        s3 = request.getfixturevalue("s3")
        bucket = f"helm-{uuid.uuid4().hex[:8]}"
        storage = ["--set", f"storage.endpoint={s3.endpoint}", "--set", f"storage.bucket={bucket}"]
        access, secret_key = s3.access_key, s3.secret_key
    keys = {"AWS_ACCESS_KEY_ID": access, "AWS_SECRET_ACCESS_KEY": secret_key}  # KServe's S3 Secret format
    secret = [f"--from-literal={k}={v}" for k, v in keys.items()]
    kubectl(fresh, "create", "secret", "generic", "minio-creds", "-n", namespace, *secret)

    # The release before this one, with the default values but for the case's.
    out = helm(fresh, "install", release, str(previous_chart), "-n", namespace, *values, *storage)
    assert "STATUS: deployed" in out
    crds = _crds(fresh)
    assert set(crds) == set(OURS)
    annotations = crds["taskclassifiers.ontask.dev"]["metadata"]["annotations"]
    assert annotations["meta.helm.sh/release-name"] == release
    schema = crds["taskclassifiers.ontask.dev"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert "scheduling" not in schema["properties"]["spec"]["properties"]
    for plural, ns in peerings:
        where = ["-n", ns] if ns else []
        kubectl(fresh, "get", f"{plural}.kopf.dev", "ontask", *where)

    # `helm upgrade` to the working tree's chart brings its CRD's schema.
    notes = helm(fresh, "upgrade", release, str(CHART), "-n", namespace, *values, *storage)
    # Watching every namespace, the predictors' NetworkPolicy covers the release's alone: it says so.
    assert ("the predictors' NetworkPolicy covers only" in notes) == (case != "namespaces"), notes
    crd = _crds(fresh)["taskclassifiers.ontask.dev"]
    assert crd["spec"]["versions"][0]["schema"] == build_crd()["spec"]["versions"][0]["schema"]

    # `helm test`: the health pod asks the operator's Service; the stand-in runs the operator's
    # replicas (as their ServiceAccount) and the health pod.
    api = k8s_config.new_client_from_config(config_file=str(fresh.admin_kubeconfig))
    standin = KubeletStandIn(api, namespace, tmp_path / "kubelet", {"minio-creds": keys}, kserve=True).start()
    try:
        replicas = 2 if case != "one-replica" else 1

        def ready_replicas():
            return (
                k8s.AppsV1Api(api).read_namespaced_deployment(f"{release}-operator", namespace).status.ready_replicas
                or 0
            ) == replicas

        wait_for(
            ready_replicas, timeout=120, what=f"{replicas} ready operator replicas", diagnose=lambda: _logs(standin)
        )
        out = run_cli("helm", "test", release, "-n", namespace, "--timeout", "90s", kubeconfig=fresh.admin_kubeconfig)
        assert out.returncode == 0, out.stdout + out.stderr + _logs(standin)
        assert "Phase:          Succeeded" in out.stdout
        if replicas == 2:
            # Both replicas found each other through the chart's peering object (one works, one waits).
            plural, ns = peerings[0]
            where = ["-n", ns] if ns else []

            def peers():
                got = kubectl(fresh, "get", f"{plural}.kopf.dev", "ontask", *where, "-o", "json").stdout
                return len(json.loads(got).get("status") or {}) == 2

            wait_for(peers, timeout=60, what="two peers in the peering object", diagnose=lambda: _logs(standin))
        if case == "defaults":
            # Nothing answers at the default storage.endpoint of a fresh cluster: a classifier says so.
            kubectl(fresh, "create", "namespace", "desk-a")
            kubectl(fresh, "apply", "-f", "-", input=_classifier("desk", "desk-a"))
            ready = wait_for(
                lambda: _ready(fresh, "desk", "desk-a"),
                timeout=90,
                what="desk's Ready condition",
                diagnose=lambda: _logs(standin),
            )
            assert ready["status"] == "False" and ready["reason"] == "StoreUnavailable", ready
            assert "minio.ontask" in ready["message"]
        if case == "one-replica":
            # No KServe in this cluster: the judge cannot be created, and the classifier says why.
            kubectl(fresh, "create", "namespace", "desk-b")
            kubectl(fresh, "apply", "-f", "-", input=_classifier("desk", "desk-b", bucket))
            ready = wait_for(
                lambda: _ready(fresh, "desk", "desk-b"),
                timeout=90,
                what="desk's Ready condition",
                diagnose=lambda: _logs(standin),
            )
            assert (ready["status"], ready["reason"]) == ("False", "CRDMissing"), ready
            assert "InferenceService (serving.kserve.io/v1beta1)" in ready["message"] and "KServe" in ready["message"]
            events = kubectl(fresh, "get", "events", "-n", "desk-b", "--field-selector", "reason=CRDMissing")
            assert "desk" in events.stdout
    finally:
        standin.stop()

    helm(fresh, "uninstall", release, "-n", namespace)
    # The release is gone, its CRDs are not (removing one would delete every classifier).
    assert not k8s.AppsV1Api(api).list_namespaced_deployment(namespace).items
    assert release not in kubectl(fresh, "get", "clusterroles", "-o", "name").stdout
    assert set(_crds(fresh)) == set(OURS)
    if case in ("defaults", "one-replica"):
        kubectl(fresh, "get", "tc", "desk", "-n", "desk-a" if case == "defaults" else "desk-b")


def _logs(standin: KubeletStandIn) -> str:
    return "\n".join(f"--- {name}\n{standin.log_tail(name)}" for name in standin.pods)


def test_a_second_release_leaves_the_crd_to_the_release_that_owns_it(cluster):
    """Two releases in one cluster (each operator watching its own namespaces): the second
    installs instead of failing on the CRD the first owns, and says whose it is."""
    fresh = cluster
    releases = {"ontask-a": "team-c", "ontask-b": "team-d"}
    for release, team in releases.items():
        kubectl(fresh, "create", "namespace", team)
        kubectl(fresh, "create", "namespace", f"{release}-system")
    notes = {}
    for release, team in releases.items():
        values = ["--set", f"operator.watchNamespaces={{{team}}}"]
        notes[release] = helm(fresh, "install", release, str(CHART), "-n", f"{release}-system", *values)
    owner = _crds(fresh)["taskclassifiers.ontask.dev"]["metadata"]["annotations"]
    assert owner["meta.helm.sh/release-name"] == "ontask-a"
    assert "owned by the Helm release ontask-a in namespace ontask-a-system" in notes["ontask-b"]
    assert "owned by" not in notes["ontask-a"]
    # The owner's upgrades still reach it.
    helm(fresh, "upgrade", "ontask-a", str(CHART), "-n", "ontask-a-system", "--reuse-values")
    for release in releases:
        helm(fresh, "uninstall", release, "-n", f"{release}-system")
    assert set(_crds(fresh)) == set(OURS)
