"""The generated CRD on a real kube-apiserver: accepted, validating, with printer columns."""

import copy
import json

import pytest
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from ontask.api import GROUP, PLURAL, VERSION, crd
from tests.conftest import run_cli

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
        (("feedback", "reviewTopic"), "ontask.corrections", "reviewTopic must be a topic of its own"),
        (("feedback", "judgeTopic"), "ontask.corrections.dead-letter", "judgeTopic must be a topic of its own"),
        (("feedback",), {"reviewTopic": "trusted", "judgeTopic": "trusted"}, "reviewTopic and judgeTopic must be two"),
        # A toleration without a key tolerates every taint: control-plane and cordoned nodes.
        (("scheduling", "tolerations"), [{"operator": "Exists"}], "spec.scheduling.tolerations[0].key: Required"),
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


# Fields whose values cannot be made from their type and bounds: strings (patterns, meanings),
# lists and maps, and values other fields constrain (weights sum to 1; the deprecated syncSteps
# must agree with its replacement). Every other field gets a value from its type.
NON_DEFAULT = {
    "student.model": "s3://models/qwen2.5-vl-3b-instruct/",
    "student.resources.cpu": "6",
    "student.resources.memory": "40Gi",
    "judge.model": "pvc://judge-weights/qwen2.5-vl-72b",
    "judge.resources.cpu": "1500m",
    "judge.resources.memory": "300Gi",
    "judge.ref": "shared-judge",
    "data.source": "s3://screens/support-desk/",
    "data.resources.cpu": "3",
    "data.resources.memory": "6Gi",
    "training.rewardWeights": {"binary": 0.6, "judge": 0.0, "verifier": 0.4},
    "training.syncSteps": 11,
    "feedback.syncSteps": 11,
    "feedback.topic": "team-a.corrections",
    "feedback.reviewTopic": "team-a.corrections.reviews",
    "feedback.judgeTopic": "team-a.corrections.judge",
    "feedback.deadLetterTopic": "team-a.corrections.rejected",
    "feedback.reviewers": ["alice@team-a", "qa-console"],
    "feedback.screenshotUriPrefixes": ["s3://captures/team-a/", "s3://captures/shared/"],
    "feedback.maxEvidenceBytes": 65_536,
    "feedback.maxStateBytes": 128 * 1024 * 1024,
    "storage.endpoint": "https://s3.eu-west-1.amazonaws.com",
    "storage.bucket": "team-a-models",
    "storage.secretRef": "team-a-s3",
    "storage.readOnlySecretRef": "team-a-s3-read",
    "serving.tokenSecretRef": "team-a-predict-token",
    "feedback.userKeySecretRef": "team-a-user-key",
    "storage.serviceAccountName": "team-a-kserve",
    "scheduling.nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3", "node.kubernetes.io/pool": "gpu"},
    "scheduling.tolerations": [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoExecute"},
    ],
    "scheduling.priorityClassName": "gpu-high",
    "scheduling.labels": {"team": "support", "app.kubernetes.io/part-of": "desk"},
    "scheduling.annotations": {"example.com/owner": "team-a", "cost-center": "ml-42"},
    "scheduling.roles.training.labels": {"kueue.x-k8s.io/priority-class": "batch"},
    "scheduling.roles.training.annotations": {"sidecar.istio.io/inject": "true"},
    "scheduling.roles.data.labels": {"stage": "bootstrap"},
    "scheduling.roles.data.annotations": {"example.com/data": "yes"},
    "scheduling.roles.serving.labels": {"tier": "online"},
    "scheduling.roles.serving.annotations": {"prometheus.io/scrape": "true"},
    "scheduling.roles.feedback.labels": {"tier": "stream"},
    "scheduling.roles.feedback.annotations": {"example.com/stream": "kafka"},
    "scheduling.queueName": "team-a-gpu",
    "scheduling.imagePullSecrets": ["registry-a", "registry-b"],
}


def _bounds(field) -> tuple[float | None, float | None]:
    lo = hi = None
    for m in field.metadata:
        lo = getattr(m, "ge", None) if getattr(m, "ge", None) is not None else lo
        lo = getattr(m, "gt", None) if getattr(m, "gt", None) is not None else lo
        hi = getattr(m, "le", None) if getattr(m, "le", None) is not None else hi
    return lo, hi


def _other_value(path: str, field):
    """A valid value of a field other than its default, from its type and bounds."""
    import enum
    import typing

    tp = field.annotation
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) is typing.Union and len(args) == 1:
        tp = args[0]
    default = field.default
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return next(m.value for m in tp if m != default)
    if typing.get_origin(tp) is typing.Literal:
        return next(v for v in typing.get_args(tp) if v != default)
    if tp is bool:
        return not default
    if tp in (int, float):
        lo, hi = _bounds(field)
        base = default if default is not None else (lo if lo is not None else 1)
        between = [(base + b) / 2 for b in (hi, lo) if b is not None]
        for candidate in (base * 2, base + 1, base - 1, base / 2, *between):
            candidate = tp(candidate)
            if candidate != default and (lo is None or candidate > lo) and (hi is None or candidate <= hi):
                return candidate
    raise AssertionError(f"spec.{path}: add a non-default value to NON_DEFAULT (its type: {field.annotation})")


def _every_field(model, prefix: str = "") -> dict:
    """A spec document with every field of `model` set to a value other than its default."""
    from pydantic import BaseModel

    doc = {}
    for name, field in model.model_fields.items():
        alias = field.alias or name
        path = f"{prefix}{alias}"
        sub = field.annotation if isinstance(field.annotation, type) else None
        if path in NON_DEFAULT:
            doc[alias] = NON_DEFAULT[path]
        elif sub is not None and issubclass(sub, BaseModel):
            doc[alias] = _every_field(sub, f"{path}.")
        else:
            doc[alias] = _other_value(path, field)
    return doc


def _defaults_kept(sent: dict, model, prefix: str = "") -> list[str]:
    """The fields of a sent spec whose value is still the model's default (none may be)."""
    from pydantic import BaseModel

    same = []
    for name, field in model.model_fields.items():
        alias = field.alias or name
        sub = field.annotation if isinstance(field.annotation, type) else None
        if sub is not None and issubclass(sub, BaseModel):
            same += _defaults_kept(sent[alias], sub, f"{prefix}{alias}.")
        elif not field.is_required():
            default = field.get_default(call_default_factory=True)
            if sent[alias] == (default.value if hasattr(default, "value") else default):
                same.append(f"{prefix}{alias}")
    return same


def test_every_spec_field_round_trips_through_kubectl_apply(kube, crd_installed, tmp_path):
    """A classifier with every field set (none at its default), applied as kubectl applies it
    (strict field validation), reads back equal: no field refused, pruned or defaulted away."""
    from ontask.api import TaskClassifierSpec

    spec = _every_field(TaskClassifierSpec)
    assert _defaults_kept(spec, TaskClassifierSpec) == []
    # The operator takes it too (nothing the CRD accepts that the models refuse, or the reverse).
    assert TaskClassifierSpec.model_validate(spec).wire() == spec
    doc = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TaskClassifier",
        "metadata": {"name": "every-field", "namespace": "default"},
        "spec": spec,
    }
    manifest = tmp_path / "every-field.json"
    manifest.write_text(json.dumps(doc))
    out = run_cli("kubectl", "apply", "-f", str(manifest), kubeconfig=kube.admin_kubeconfig)
    try:
        assert out.returncode == 0, out.stderr
        got = run_cli(
            "kubectl", "get", "tc", "every-field", "-n", "default", "-o", "json", kubeconfig=kube.admin_kubeconfig
        )
        assert got.returncode == 0, got.stderr
        assert json.loads(got.stdout)["spec"] == spec
    finally:
        run_cli("kubectl", "delete", "-f", str(manifest), "--wait=false", kubeconfig=kube.admin_kubeconfig)
