"""What a TaskClassifier's author may have the operator reach: `judge.ref` is a DNS label (it
becomes the judge's URL; the real API server refuses anything else, by kubectl), model URIs stay
in the classifier's own bucket and prefix unless the installation allows more, and the chart's
NetworkPolicy lets only ontask's pods, labelled clients and the operator's namespace reach the
predictors."""

from __future__ import annotations

import subprocess
import time

import pytest
import yaml

from ontask.api import TaskClassifierSpec
from ontask.operator.handlers import _validate, model_uri_problems
from ontask.operator.settings import OperatorSettings
from tests.conftest import REPO, run_cli


def spec(**parts) -> dict:
    return {"data": {"source": "synthetic"}, **parts}


@pytest.mark.parametrize(
    "ref",
    [
        "evil.example.com",  # another host
        "judge.other-namespace",  # another namespace's Service
        "judge:8080/x",
        "user@host",
        "Judge",
        "a" * 54,  # "-predictor" would overflow a Service name
    ],
)
def test_kubectl_refuses_a_judge_ref_that_is_not_a_dns_label(kube, crd_installed, tmp_path, ref):
    manifest = tmp_path / "ref.yaml"
    manifest.write_text(
        "apiVersion: ontask.dev/v1alpha1\nkind: TaskClassifier\nmetadata: {name: bad-ref, namespace: default}\n"
        f"spec:\n  data: {{source: synthetic}}\n  judge: {{ref: {yaml.safe_dump(ref).splitlines()[0]!s}}}\n"
    )
    out = run_cli("kubectl", "apply", "--validate=strict", "-f", str(manifest), kubeconfig=kube.admin_kubeconfig)
    assert out.returncode != 0, out.stdout
    assert "spec.judge.ref" in out.stderr


def test_a_shared_judge_by_its_name_is_accepted(kube, crd_installed, tmp_path):
    manifest = tmp_path / "ok.yaml"
    manifest.write_text(
        "apiVersion: ontask.dev/v1alpha1\nkind: TaskClassifier\nmetadata: {name: shares-a-judge, namespace: default}\n"
        "spec:\n  data: {source: synthetic}\n  judge: {ref: platform-judge}\n"
    )
    out = run_cli(
        "kubectl",
        "apply",
        "--dry-run=server",
        "--validate=strict",
        "-f",
        str(manifest),
        kubeconfig=kube.admin_kubeconfig,
    )
    assert out.returncode == 0, out.stderr


OWN = "s3://team-a/namespaces/support/classifiers/desk"


def test_model_uris_stay_in_the_classifiers_bucket_and_prefix():
    def problems(student: str, judge: str = "Qwen/Qwen2.5-VL-72B-Instruct", allowed=()) -> list[str]:
        parsed = TaskClassifierSpec.model_validate(spec(student={"model": student}, judge={"model": judge}))
        settings = OperatorSettings(store="s3://team-a", model_uri_prefixes=list(allowed))
        return model_uri_problems(parsed, "support", "desk", settings)

    assert problems("Qwen/Qwen2.5-VL-3B-Instruct") == []
    assert problems("s3://team-a/base/qwen-3b/") == []  # a base checkpoint in its own bucket
    assert problems(f"{OWN}/models/v3") == []  # its own trained model
    assert problems("pvc://weights/qwen") == []  # a claim in its own namespace: not this check's
    [p] = problems("s3://team-a/namespaces/support/classifiers/hr/models/v3")
    assert p.startswith(
        "spec.student.model: s3://team-a/namespaces/support/classifiers/hr/models/v3: another classifier's area"
    )
    [p] = problems("s3://team-a/namespaces/hr/classifiers/desk/models/v3")  # the same name in another namespace
    assert "another classifier's area (namespaces/hr/classifiers/desk/)" in p
    [p] = problems(f"{OWN}-feedback/models/v1")  # a look-alike name is another's
    assert "another classifier's area (namespaces/support/classifiers/desk-feedback/)" in p
    [p] = problems("s3://team-a/classifiers/desk/models/v1")  # a classifier of the top-level layout (0.1.0)
    assert "another classifier's area (classifiers/desk/)" in p
    [p] = problems("s3://team-a/namespaces/support/datasets/hr/v1")
    assert "datasets/ area holds datasets" in p
    [p] = problems("s3://team-a/namespaces/hr/cache/x")
    assert "ontask's namespaces/hr/ holds a namespace's classifiers and datasets" in p
    [p] = problems("s3://team-a/base/../namespaces/support/classifiers/hr/models/v3")
    assert "'..' segment" in p
    [p] = problems("Qwen/Qwen2.5-VL-3B-Instruct", judge="s3://team-b/base/judge")
    assert p.startswith("spec.judge.model: s3://team-b/base/judge: bucket 'team-b' is not this classifier's bucket")
    # The installation may allow a shared models bucket (the chart's models.uriPrefixes).
    assert problems("s3://models/qwen2.5-vl-3b/", allowed=["s3://models/"]) == []
    assert problems("s3://models-private/x", allowed=["s3://models/"]) != []  # a prefix, not a string start
    assert problems("s3://models/../x", allowed=["s3://models/"]) != []

    # The data source: the store's bucket outside other classifiers' areas, or another bucket read
    # with keys of the classifier's own or under a prefix the installation allows.
    def source(uri: str, allowed=(), **storage) -> list[str]:
        parsed = TaskClassifierSpec.model_validate({"data": {"source": uri}, "storage": storage})
        settings = OperatorSettings(store="s3://team-a", source_uri_prefixes=allowed)
        return model_uri_problems(parsed, "support", "desk", settings)

    assert source("s3://team-a/uploads/desk/") == []
    [p] = source("s3://team-b/screens/")  # another tenant's bucket, with the keys every classifier shares
    assert p.startswith("spec.data.source: s3://team-b/screens/: bucket 'team-b' is not this classifier's bucket")
    assert "storage.secretRef" in p and "dataSources.uriPrefixes" in p
    assert source("s3://team-b/screens/", secretRef="team-a-keys") == []  # the author's own keys
    assert source("s3://screens/support-desk/", allowed=["s3://screens/"]) == []
    assert source("s3://screens-private/x/", allowed=["s3://screens/"]) != []
    assert source(f"{OWN}/feedback/screenshots/") == []
    [p] = source("s3://team-a/namespaces/hr/classifiers/desk/feedback/screenshots/")
    assert p.startswith("spec.data.source: s3://team-a/namespaces/hr/classifiers/desk/feedback/screenshots/: another")
    [p] = source("s3://team-a/namespaces/support/datasets/hr-feedback/v3/")
    assert "datasets/ area" in p
    [p] = source("s3://team-a/classifiers/hr/feedback/")  # the layout before namespaces: still ontask's
    assert "another classifier's area (classifiers/hr/)" in p
    [p] = source("s3://team-a/datasets/hr/v1/")
    assert "datasets/ area" in p
    [p] = source("s3://team-a//namespaces/hr/datasets/desk/v1/images/")  # S3 would read it as namespaces/...
    assert "empty, '.' or '..' segment" in p
    [p] = source("s3://team-a/")  # every area at once
    assert "the bucket's top holds ontask's own areas" in p


def test_a_classifier_of_the_top_level_layout_names_its_own_models_there_where_the_installation_allows():
    """Which layout a classifier has is the store's to say, and the spec is checked without it: a
    classifier from before namespaces names its own models at the store's top only under a prefix
    the installation allows (models.uriPrefixes)."""
    parsed = TaskClassifierSpec.model_validate(spec(student={"model": "s3://team-a/classifiers/desk/models/v3"}))
    [p] = model_uri_problems(parsed, "support", "desk", OperatorSettings(store="s3://team-a"))
    assert "another classifier's area (classifiers/desk/)" in p
    allowing = OperatorSettings(store="s3://team-a", model_uri_prefixes=["s3://team-a/classifiers/desk/models/"])
    assert model_uri_problems(parsed, "support", "desk", allowing) == []


def test_the_store_of_a_classifier_is_its_namespaces_folder_unless_it_claimed_the_top_before(tmp_path):
    import json

    from ontask.operator.ownership import classifier_store
    from ontask.store import LocalStore

    store, top = LocalStore(tmp_path), str(tmp_path)

    def claim(prefix: str, namespace: str, name: str) -> None:
        owner = {"namespace": namespace, "name": name, "uid": "u"}
        store.put_bytes(f"{prefix}/owner.json", json.dumps(owner).encode(), "application/json")

    assert classifier_store(store, top, "support", "desk") == f"{top}/namespaces/support"  # a new one
    claim("classifiers/desk", "sales", "desk")  # another namespace's, from before namespaces
    assert classifier_store(store, top, "support", "desk") == f"{top}/namespaces/support"
    claim("classifiers/kept", "support", "kept")  # its own, from before namespaces: it stays at the top
    assert classifier_store(store, top, "support", "kept") == top
    claim("namespaces/support/classifiers/kept", "support", "kept")  # moved: the namespace's folder wins
    assert classifier_store(store, top, "support", "kept") == f"{top}/namespaces/support"
    store.put_bytes("classifiers/odd/owner.json", b"[]", "application/json")  # not a claim
    assert classifier_store(store, top, "support", "odd") == f"{top}/namespaces/support"


def test_a_classifier_naming_another_tenants_model_is_refused_with_the_reason():
    env = {"ONTASK_STORE": "s3://team-a"}
    body = spec(student={"model": "s3://team-a/namespaces/support/classifiers/victim/models/v7"})
    meta = {"namespace": "support", "name": "thief"}
    status, problems = _validate(body, {}, 1, meta, OperatorSettings.from_env(env))
    assert status["phase"] == "Failed"
    [ready] = [c for c in status["conditions"] if c["type"] == "Ready"]
    assert ready["reason"] == "InvalidSpec" and "namespaces/support/classifiers/victim/" in ready["message"]
    victim = "s3://team-a/namespaces/support/classifiers/victim/models/"
    allowing = OperatorSettings.from_env({**env, "ONTASK_MODEL_URI_PREFIXES": victim})
    assert _validate(body, {}, 1, meta, allowing)[1] == []  # the installation allowed it
    assert allowing.model_uri_prefixes == [victim]


def _template(*values: str) -> list[dict]:
    args = ["helm", "template", "ontask", str(REPO / "charts" / "ontask"), "--namespace", "ontask-system"]
    args += ["--kube-version", "1.31.0"]
    for v in values:
        args += ["--set", v]
    return [d for d in yaml.safe_load_all(run_cli(*args, check=True).stdout) if d]


def test_the_chart_renders_a_network_policy_that_selects_the_predictors():
    from ontask.operator.context import Context
    from ontask.operator.manifests import PREDICTOR_METRICS_PORT, inference_service

    docs = _template("operator.watchNamespaces={team-a,team-b}", "networkPolicy.metricsFromNamespaces={monitoring}")
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    assert [p["metadata"]["namespace"] for p in policies] == ["team-a", "team-b"]
    policy = policies[0]["spec"]
    # It selects the predictors the operator creates, by the labels it gives them.
    for role in ("student", "judge"):
        ctx = Context(
            "desk", "team-a", "uid", TaskClassifierSpec.model_validate(spec(judge={"runtime": "transformers"}))
        )
        labels = inference_service(ctx, role, "s3://b/m/v1", "v1")["metadata"]["labels"]
        assert policy["podSelector"]["matchLabels"].items() <= labels.items()
        [rule] = policy["podSelector"]["matchExpressions"]
        assert labels[rule["key"]] in rule["values"]
    assert policy["policyTypes"] == ["Ingress"]
    allowed, metrics = policy["ingress"]
    assert {"podSelector": {"matchLabels": {"ontask.dev/predictor-client": "true"}}} in allowed["from"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ontask-system"}}} in allowed["from"]
    assert metrics["ports"] == [{"port": PREDICTOR_METRICS_PORT, "protocol": "TCP"}]
    assert metrics["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    # On by default, in the release's namespace when the operator watches all; off when asked.
    assert [d["metadata"]["namespace"] for d in _template() if d["kind"] == "NetworkPolicy"] == ["ontask-system"]
    assert not [d for d in _template("networkPolicy.enabled=false") if d["kind"] == "NetworkPolicy"]
    deployment = next(
        d
        for d in _template(
            "models.uriPrefixes={s3://models/,s3://shared/base/}", "dataSources.uriPrefixes={s3://screens/}"
        )
        if d["kind"] == "Deployment"
    )
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["ONTASK_MODEL_URI_PREFIXES"] == "s3://models/,s3://shared/base/"
    settings = OperatorSettings.from_env(env)
    assert settings.source_uri_prefixes == ["s3://screens/"]


def test_a_classifier_named_after_another_s_cycle_datasets_is_refused(kube, crd_installed, tmp_path):
    """`<victim>-feedback` would own the victim's cycle datasets (datasets/<victim>-feedback):
    kubectl is refused by the schema with the reason, and the operator refuses it too."""
    manifest = tmp_path / "collide.yaml"
    manifest.write_text(
        "apiVersion: ontask.dev/v1alpha1\nkind: TaskClassifier\nmetadata: {name: desk-feedback, namespace: default}\n"
        "spec:\n  data: {source: synthetic}\n"
    )
    out = run_cli("kubectl", "apply", "--validate=strict", "-f", str(manifest), kubeconfig=kube.admin_kubeconfig)
    assert out.returncode != 0, out.stdout
    assert "may not end in '-feedback'" in out.stderr
    status, problems = _validate(spec(), {}, 1, {"namespace": "default", "name": "desk-feedback"}, OperatorSettings())
    assert status["phase"] == "Failed" and any("-feedback" in p for p in problems)
    assert _validate(spec(), {}, 1, {"namespace": "default", "name": "desk-feedback-2"}, OperatorSettings())[1] == []


def writer_rbac(namespace: str, user: str, binding: str) -> str:
    """A Role that writes TaskClassifiers in `namespace` and nothing else, bound to `user`."""
    return f"""apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: classifier-writer, namespace: {namespace}}}
rules:
  - {{apiGroups: [ontask.dev], resources: [taskclassifiers], verbs: [get, list, create, update, patch]}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: {binding}, namespace: {namespace}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: classifier-writer}}
subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: User, name: {user}}}]
"""


ALICE_RBAC = (
    """apiVersion: v1
kind: Namespace
metadata: {name: team-refs}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: classifier-author, namespace: team-refs}
rules:
  - {apiGroups: [ontask.dev], resources: [taskclassifiers], verbs: [get, list, create, update, patch]}
  - {apiGroups: [""], resources: [secrets], resourceNames: [alice-s3, alice-s3-read], verbs: [get]}
  - {apiGroups: [""], resources: [persistentvolumeclaims], resourceNames: [alice-weights], verbs: [get]}
  - {apiGroups: [""], resources: [pods], verbs: [create]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-authors, namespace: team-refs}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: classifier-author}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}]
---
"""
    + writer_rbac("team-refs", "victor", "viewer-writes-classifiers")
    + """---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: viewer-views, namespace: team-refs}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: victor}]
"""
)


@pytest.fixture
def reference_policy(kube, crd_installed, tmp_path):
    """The chart's admission policy in the real API server (as `helm install` puts it there) and a
    user, alice, who may write TaskClassifiers in team-refs and read one Secret and one claim."""
    chart = str(REPO / "charts" / "ontask")
    rendered = run_cli(
        "helm",
        "template",
        "ontask",
        chart,
        "--show-only",
        "templates/admissionpolicy.yaml",
        "--kube-version",
        "1.34.0",
        check=True,
    )
    [policy, binding] = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    files = tmp_path / "policy.yaml"
    files.write_text(yaml.safe_dump_all([policy, binding]) + "---\n" + ALICE_RBAC)
    out = run_cli("kubectl", "apply", "-f", str(files), kubeconfig=kube.admin_kubeconfig)
    assert out.returncode == 0, out.stderr
    yield policy["metadata"]["name"]
    run_cli("kubectl", "delete", "-f", str(files), "--wait=false", kubeconfig=kube.admin_kubeconfig)


def _apply_as(kube, tmp_path, user: str, spec_: dict, namespace: str = "team-refs") -> subprocess.CompletedProcess[str]:
    """`kubectl apply --as=user` of a TaskClassifier with this spec, checked by the API server."""
    manifest = tmp_path / "tc.yaml"
    tc = {"apiVersion": "ontask.dev/v1alpha1", "kind": "TaskClassifier", "spec": spec_}
    manifest.write_text(yaml.safe_dump(tc | {"metadata": {"name": "refs", "namespace": namespace}}))
    return run_cli(
        "kubectl", "apply", "--dry-run=server", f"--as={user}", "-f", str(manifest), kubeconfig=kube.admin_kubeconfig
    )


def test_a_classifier_naming_a_secret_its_author_may_not_read_is_refused_with_the_reason(
    kube, reference_policy, tmp_path
):
    """The chart's ValidatingAdmissionPolicy asks the API server's authorizer, for the user who
    applies the TaskClassifier, whether they may read each Secret, claim, ServiceAccount and
    PriorityClass the spec names: the operator's pods would use them on the author's behalf."""
    synthetic = {"data": {"source": "synthetic"}}
    # The policy takes a moment to reach the API server's admission chain: wait until it refuses.
    deadline = time.monotonic() + 30
    while True:
        out = _apply_as(kube, tmp_path, "alice", synthetic | {"storage": {"secretRef": "team-admin-s3"}})
        if out.returncode != 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert out.returncode != 0, out.stdout
    assert "spec.storage.secretRef: alice may not get Secret team-admin-s3 in namespace team-refs" in out.stderr
    assert "ValidatingAdmissionPolicy" in out.stderr
    allowed = {
        "data": {"source": "pvc://alice-weights/screens"},
        "storage": {"secretRef": "alice-s3", "readOnlySecretRef": "alice-s3-read"},
    }
    ok = _apply_as(kube, tmp_path, "alice", allowed)
    assert ok.returncode == 0, ok.stderr
    refusals = [
        ({"scheduling": {"imagePullSecrets": ["alice-s3", "registry-admin"]}}, "alice-s3, registry-admin"),
        ({"serving": {"tokenSecretRef": "predictor-token"}}, "may not get Secret predictor-token"),
        (
            {"feedback": {"userKeySecretRef": "team-user-key"}},
            "spec.feedback.userKeySecretRef: alice may not get Secret team-user-key",
        ),
        (
            {"storage": {"secretRef": "alice-s3", "readOnlySecretRef": "team-admin-s3"}},
            "spec.storage.readOnlySecretRef: alice may not get Secret team-admin-s3",
        ),
        (
            {"data": {"source": "pvc://finance-data/screens"}},
            "spec.data.source: alice may not get PersistentVolumeClaim finance-data",
        ),
        (
            {"student": {"model": "pvc://alice-weights/qwen"}, "judge": {"model": "pvc://judge-weights/qwen-72b"}},
            "spec.judge.model: alice may not get PersistentVolumeClaim judge-weights",
        ),
        ({"storage": {"serviceAccountName": "deployer"}}, "may not get ServiceAccount deployer"),
        ({"scheduling": {"priorityClassName": "system-cluster-critical"}}, "may not get PriorityClass system-"),
    ]
    for parts, reason in refusals:
        out = _apply_as(kube, tmp_path, "alice", synthetic | parts)
        assert out.returncode != 0 and reason in out.stderr, (parts, out.stdout, out.stderr)
    # Reading a claim or an account (the built-in view role) is not enough to mount or run as it:
    # Kubernetes asks for creating pods, and so does the policy.
    for parts, named in (
        ({"data": {"source": "pvc://alice-weights/screens"}}, "PersistentVolumeClaim(s) alice-weights"),
        ({"storage": {"serviceAccountName": "default"}}, "ServiceAccount default"),
    ):
        out = _apply_as(kube, tmp_path, "victor", synthetic | parts)
        assert out.returncode != 0, out.stdout
        assert f"spec names {named}: victor may not create pods in namespace team-refs" in out.stderr, out.stderr
    assert _apply_as(kube, tmp_path, "victor", synthetic).returncode == 0  # naming nothing needs nothing
    # Someone who may read them all (the cluster's admin here) applies the last one.
    admin = run_cli(
        "kubectl", "apply", "--dry-run=server", "-f", str(tmp_path / "tc.yaml"), kubeconfig=kube.admin_kubeconfig
    )
    assert admin.returncode == 0, admin.stderr


# tina may write TaskClassifiers in team-tol, and nothing else.
TINA_RBAC = """apiVersion: v1
kind: Namespace
metadata: {name: team-tol}
---
""" + writer_rbac("team-tol", "tina", "tina-writes-classifiers")


def test_tolerations_are_limited_to_the_taints_the_chart_lists(kube, crd_installed, tmp_path):
    """admissionPolicy.tolerationKeys: a spec tolerating a taint the installation did not list (the
    control plane's) is refused with the key; the listed ones pass."""
    rendered = run_cli(
        "helm", "template", "ontask-tol", str(REPO / "charts" / "ontask"), "--show-only",
        "templates/admissionpolicy.yaml", "--kube-version", "1.34.0",
        "--set", "admissionPolicy.tolerationKeys={nvidia.com/gpu,example.com/batch}",
        check=True,
    )  # fmt: skip
    files = tmp_path / "policy.yaml"
    files.write_text(rendered.stdout + "---\n" + TINA_RBAC)
    out = run_cli("kubectl", "apply", "-f", str(files), kubeconfig=kube.admin_kubeconfig)
    assert out.returncode == 0, out.stderr
    try:

        def tolerating(*keys: str) -> dict:
            tolerations = [{"key": k, "operator": "Exists", "effect": "NoSchedule"} for k in keys]
            return {"data": {"source": "synthetic"}, "scheduling": {"tolerations": tolerations}}

        control_plane = tolerating("nvidia.com/gpu", "node-role.kubernetes.io/control-plane")
        deadline = time.monotonic() + 30  # until the policy reaches the admission chain
        while (out := _apply_as(kube, tmp_path, "tina", control_plane, "team-tol")).returncode == 0:
            assert time.monotonic() < deadline, "the policy never refused"
            time.sleep(1)
        assert (
            "spec.scheduling.tolerations: node-role.kubernetes.io/control-plane is not among the taints this "
            "installation lets classifiers tolerate: nvidia.com/gpu, example.com/batch"
        ) in out.stderr, out.stderr
        ok = _apply_as(kube, tmp_path, "tina", tolerating("nvidia.com/gpu", "example.com/batch"), "team-tol")
        assert ok.returncode == 0, ok.stderr
    finally:
        run_cli("kubectl", "delete", "-f", str(files), "--wait=false", kubeconfig=kube.admin_kubeconfig)
