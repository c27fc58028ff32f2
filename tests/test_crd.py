"""The generated CRD on a real kube-apiserver: accepted, validating, with printer columns."""

import copy
import json

import pytest
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from ontask import crd
from ontask.spec import GROUP, PLURAL, VERSION
from tests.conftest import REPO, run_cli

VALID = {
    "apiVersion": f"{GROUP}/{VERSION}",
    "kind": "TaskClassifier",
    "metadata": {"name": "support-desk", "namespace": "default"},
    "spec": {
        "data": {"source": "s3://ontask/support-desk/screens/"},
        "training": {"groupSize": 5, "rewardWeights": {"binary": 0.3, "judge": 0.5, "verifier": 0.2}},
    },
}


def test_chart_crd_matches_the_models():
    assert crd.main(["--check"]) == 0, "charts/ontask/files/crds is stale: run `make crd`"


def _create(api, body, field_validation="Strict"):
    return k8s.CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, body, field_validation=field_validation
    )


def test_valid_classifier_is_created_and_read_back_with_defaults(admin_api, crd_installed):
    _create(admin_api, VALID)
    try:
        got = k8s.CustomObjectsApi(admin_api).get_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, "support-desk"
        )
        assert got["spec"]["data"]["source"] == "s3://ontask/support-desk/screens/"
        # Leaf defaults come from the schema the models generated.
        assert got["spec"]["training"]["entropyCoef"] == 0.01
        assert got["spec"]["data"]["maxResponseLength"] == 16
    finally:
        k8s.CustomObjectsApi(admin_api).delete_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, "support-desk"
        )


@pytest.mark.parametrize(
    "path, value, expect",
    [
        (
            ("training", "rewardWeights"),
            {"binary": -0.2, "judge": 1.0, "verifier": 0.2},
            "spec.training.rewardWeights.binary",
        ),
        (("training", "rewardWeights"), {"binary": 0.5, "judge": 0.5, "verifier": 0.5}, "rewardWeights must sum to 1"),
        (("training", "groupSize"), 1, "spec.training.groupSize"),
        (("training", "learningRateTypo"), 0.1, 'unknown field "spec.training.learningRateTypo"'),
        (("serving",), {"minReplicas": 3, "maxReplicas": 1}, "maxReplicas must be >= minReplicas"),
        (("judge", "mode"), "ranking", "spec.judge.mode"),
    ],
)
def test_invalid_classifier_is_refused_naming_the_field(admin_api, crd_installed, path, value, expect):
    body = copy.deepcopy(VALID)
    body["metadata"]["name"] = "bad"
    node = body["spec"]
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    with pytest.raises(ApiException) as err:
        _create(admin_api, body)
    assert err.value.status in (400, 422)
    assert expect in json.loads(err.value.body)["message"]


def test_kubectl_get_tc_shows_the_printer_columns(kube, admin_api, crd_installed):
    body = copy.deepcopy(VALID)
    body["metadata"]["name"] = "columns"
    _create(admin_api, body)
    try:
        api = k8s.CustomObjectsApi(admin_api)
        api.patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            "default",
            PLURAL,
            "columns",
            {"status": {"phase": "Serving", "modelVersion": "v3", "metrics": {"accuracy": 0.94}}},
        )
        out = run_cli("kubectl", "get", "tc", "-n", "default", kubeconfig=kube.admin_kubeconfig)
        assert out.returncode == 0, out.stderr
        header, row = out.stdout.splitlines()[:2]
        assert header.split() == ["NAME", "PHASE", "MODEL", "ACCURACY", "AGE"]
        assert row.split()[:4] == ["columns", "Serving", "v3", "0.94"]
    finally:
        k8s.CustomObjectsApi(admin_api).delete_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "columns")


def test_kubectl_refuses_a_malformed_manifest_with_the_field(kube, crd_installed, tmp_path):
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(
        "apiVersion: ontask.dev/v1alpha1\nkind: TaskClassifier\nmetadata: {name: bad-weights, namespace: default}\n"
        "spec:\n  data: {source: s3://b/p}\n  training: {groupSize: 1}\n"
    )
    out = run_cli("kubectl", "apply", "-f", str(manifest), kubeconfig=kube.admin_kubeconfig)
    assert out.returncode != 0
    assert "spec.training.groupSize" in out.stderr


def test_readme_reference_matches_the_models():
    readme = (REPO / "README.md").read_text()
    start, end = "<!-- spec-reference:start -->\n", "<!-- spec-reference:end -->"
    documented = readme[readme.index(start) + len(start) : readme.index(end)]
    assert documented == crd.reference_markdown(), "README's TaskClassifier reference is stale"
