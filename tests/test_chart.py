"""The Helm chart: lint clean, and its rendered manifests accepted by the real API server."""

import yaml

from tests.conftest import REPO, run_cli

CHART = str(REPO / "charts" / "ontask")


def test_helm_lint_passes():
    out = run_cli("helm", "lint", CHART)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in out.stdout


def _render(kube, namespace: str) -> str:
    version = run_cli("kubectl", "version", "-o", "json", kubeconfig=kube.admin_kubeconfig, check=True)
    server = yaml.safe_load(version.stdout)["serverVersion"]["gitVersion"]
    out = run_cli("helm", "template", "ontask", CHART, "--namespace", namespace, "--kube-version", server)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_helm_template_is_accepted_by_the_api_server(kube, crd_installed):
    namespace = "ontask-chart"
    run_cli("kubectl", "create", "namespace", namespace, kubeconfig=kube.admin_kubeconfig)
    rendered = _render(kube, namespace)
    kinds = [d["kind"] for d in yaml.safe_load_all(rendered) if d]
    assert {
        "CustomResourceDefinition",
        "Deployment",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "PodDisruptionBudget",  # one of the two replicas stays up through a node drain
        "Service",
        "Pod",  # `helm test`'s health check
    } <= set(kinds)
    out = run_cli(
        "kubectl",
        "apply",
        "--server-side",
        "--dry-run=server",
        "--force-conflicts",  # other tests bind the same roles to their own user
        "--field-manager=helm-test",
        "-f",
        "-",
        kubeconfig=kube.admin_kubeconfig,
        input=rendered,
    )
    assert out.returncode == 0, out.stderr
    assert "deployment.apps/ontask-operator serverside-applied (server dry run)" in out.stdout


def test_the_crds_upgrade_with_the_release_and_outlive_it():
    """The TaskClassifier CRD is a template (crds/ is installed once and never upgraded by Helm),
    the schema generated from the spec, and `helm uninstall` keeps it; kopf's peering CRDs, which
    never change, are in crds/, which Helm installs before the peering object that needs them."""
    from ontask.api.crd import CRD_PATH

    kube = ("--kube-version", "1.34.0")
    out = run_cli("helm", "template", "ontask", CHART, *kube, "--show-only", "templates/crds.yaml", check=True)
    crds = {d["metadata"]["name"]: d for d in yaml.safe_load_all(out.stdout) if d}
    assert set(crds) == {"taskclassifiers.ontask.dev"}
    assert crds["taskclassifiers.ontask.dev"]["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert crds["taskclassifiers.ontask.dev"] == yaml.safe_load(CRD_PATH.read_text())
    shown = run_cli("helm", "show", "crds", CHART, check=True)
    assert {d["metadata"]["name"] for d in yaml.safe_load_all(shown.stdout) if d} == {
        "clusterkopfpeerings.kopf.dev",
        "kopfpeerings.kopf.dev",
    }
    off = run_cli("helm", "template", "ontask", CHART, *kube, "--set", "crds.install=false", check=True)
    assert "CustomResourceDefinition" not in {d["kind"] for d in yaml.safe_load_all(off.stdout) if d}


def _restricted_namespace(kube, namespace: str) -> str:
    """A namespace whose Pod Security admission enforces the "restricted" standard."""
    run_cli("kubectl", "create", "namespace", namespace, kubeconfig=kube.admin_kubeconfig)
    run_cli(
        "kubectl",
        "label",
        "namespace",
        namespace,
        "pod-security.kubernetes.io/enforce=restricted",
        "--overwrite",
        kubeconfig=kube.admin_kubeconfig,
        check=True,
    )
    return namespace


def test_operator_pod_meets_the_restricted_pod_security_standard(kube):
    namespace = _restricted_namespace(kube, "ontask-restricted")
    rendered = _render(kube, namespace)
    deployment = next(d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "Deployment")
    # Admission checks pods, not Deployments: submit the pod the Deployment would create.
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "operator-psa-check", "namespace": namespace},
        "spec": deployment["spec"]["template"]["spec"],
    }
    out = run_cli(
        "kubectl", "apply", "--dry-run=server", "-f", "-", kubeconfig=kube.admin_kubeconfig, input=yaml.safe_dump(pod)
    )
    assert out.returncode == 0, out.stderr
    assert "violate" not in out.stderr


def _can_i(kube, service_account: str, *args: str) -> bool:
    out = run_cli("kubectl", "auth", "can-i", *args, "--as", service_account, kubeconfig=kube.admin_kubeconfig)
    assert out.stdout.strip() in ("yes", "no"), out.stdout + out.stderr
    return out.stdout.strip() == "yes"


def test_the_operator_account_reads_no_secrets_and_stays_in_its_namespaces(kube, crd_installed):
    from tests.operator_env import chart_rbac

    for ns in ("rbac-ops", "rbac-team-a", "rbac-team-b"):
        run_cli("kubectl", "create", "namespace", ns, kubeconfig=kube.admin_kubeconfig)
    docs = chart_rbac("rbac-team-a", release_namespace="rbac-ops")
    rbac = [d for d in docs if d["kind"] in ("ClusterRole", "ClusterRoleBinding", "RoleBinding", "ServiceAccount")]
    for d in rbac:  # one installation per test: its cluster-wide names must not meet another's
        if d["kind"] in ("ClusterRole", "ClusterRoleBinding"):
            d["metadata"]["name"] = "rbac-test-" + d["metadata"]["name"]
        if d["kind"] in ("ClusterRoleBinding", "RoleBinding"):
            d["roleRef"]["name"] = "rbac-test-" + d["roleRef"]["name"]
    run_cli("kubectl", "apply", "-f", "-", kubeconfig=kube.admin_kubeconfig, check=True, input=yaml.safe_dump_all(rbac))
    account = next(d for d in rbac if d["kind"] == "ServiceAccount")["metadata"]
    sa = f"system:serviceaccount:{account['namespace']}:{account['name']}"

    assert not _can_i(kube, sa, "get", "secrets", "--all-namespaces")
    for ns in ("rbac-ops", "rbac-team-a", "rbac-team-b"):
        assert not _can_i(kube, sa, "get", "secrets", "-n", ns)
        assert not _can_i(kube, sa, "list", "secrets", "-n", ns)
    assert _can_i(kube, sa, "create", "jobs.batch", "-n", "rbac-team-a")
    assert _can_i(kube, sa, "create", "deployments.apps", "-n", "rbac-team-a")  # the feedback collectors
    assert not _can_i(kube, sa, "create", "deployments.apps", "-n", "rbac-team-b")
    assert not _can_i(kube, sa, "create", "jobs.batch", "-n", "rbac-team-b")
    assert not _can_i(kube, sa, "list", "jobs.batch", "--all-namespaces")
    assert not _can_i(kube, sa, "patch", "taskclassifiers.ontask.dev", "-n", "rbac-team-b")
    assert not _can_i(kube, sa, "list", "namespaces")
    # Children's ownerReferences block their owner's deletion: that needs the owner's finalizers.
    assert _can_i(kube, sa, "update", "taskclassifiers.ontask.dev", "--subresource=finalizers", "-n", "rbac-team-a")
    assert _can_i(kube, sa, "patch", "taskclassifiers.ontask.dev", "--subresource=status", "-n", "rbac-team-a")


def test_every_child_pod_meets_the_restricted_standard_and_carries_no_api_token(kube):
    """The pods of the data Job, the PyTorchJob, the feedback collector and a predictor, as the real API server's Pod
    Security admission judges them in a namespace that enforces "restricted"."""
    from ontask.api import TaskClassifierSpec
    from ontask.operator.context import Context
    from ontask.operator.manifests import (
        data_job,
        feedback_collector,
        inference_service,
        training_job,
        vllm_judge_service,
    )

    namespace = _restricted_namespace(kube, "ontask-restricted-children")
    spec = TaskClassifierSpec.model_validate({"data": {"source": "synthetic"}})
    ctx = Context("c", namespace, "uid", spec, kafka_bootstrap="kafka:9092")
    predictor = inference_service(ctx, "student", "s3://b/models/v1", "v1")["spec"]["predictor"]
    judge = vllm_judge_service(ctx)["spec"]["predictor"]
    pods = {
        "data": data_job(ctx, "c")["spec"]["template"]["spec"],
        "train": training_job(ctx, "c", "v1", "v1", "Qwen/x")["spec"]["pytorchReplicaSpecs"]["Master"]["template"][
            "spec"
        ],
        "feedback": feedback_collector(ctx)["spec"]["template"]["spec"],
        # KServe makes the predictor's pod from the predictor's pod fields.
        "student": {k: v for k, v in predictor.items() if k not in ("minReplicas", "maxReplicas")},
        # The vLLM judge on KServe's runtime, under the runtime image's own user.
        "judge": {
            "containers": [
                {
                    **{k: v for k, v in judge["model"].items() if k not in ("modelFormat", "storageUri")},
                    "name": "kserve-container",
                    "image": "kserve/huggingfaceserver",
                }
            ],
            **{k: v for k, v in judge.items() if k not in ("minReplicas", "maxReplicas", "model")},
        },
    }
    for role, spec in pods.items():
        assert spec["automountServiceAccountToken"] is False, role
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"psa-{role}", "namespace": namespace}}
        out = run_cli(
            "kubectl",
            "apply",
            "--dry-run=server",
            "-f",
            "-",
            kubeconfig=kube.admin_kubeconfig,
            input=yaml.safe_dump({**pod, "spec": spec}),
        )
        assert out.returncode == 0 and "violate" not in out.stderr, (role, out.stderr)


def test_values_are_checked_by_the_charts_schema_with_the_operators_own_enums():
    import json
    import typing

    from ontask.feedback.kafka_security import SaslMechanism, SecurityProtocol
    from ontask.operator.settings import OperatorSettings

    out = run_cli("helm", "template", "ontask", CHART, "--set", "kserve.deploymentMode=Knative-ish")
    assert out.returncode != 0 and "deploymentMode" in out.stderr, out.stderr
    out = run_cli("helm", "template", "ontask", CHART, "--set", "operator.replicas=0")
    assert out.returncode != 0 and "replicas" in out.stderr, out.stderr
    schema = json.loads((REPO / "charts" / "ontask" / "values.schema.json").read_text())["properties"]
    kafka, kserve = schema["kafka"]["properties"], schema["kserve"]["properties"]
    assert kafka["securityProtocol"]["enum"] == list(typing.get_args(SecurityProtocol))
    assert kafka["saslMechanism"]["enum"] == ["", *typing.get_args(SaslMechanism)]
    modes = typing.get_args(OperatorSettings.model_fields["kserve_mode"].annotation)
    assert kserve["deploymentMode"]["enum"] == list(modes)
    one = run_cli("helm", "template", "ontask", CHART, "--set", "operator.replicas=1", "--kube-version", "1.34.0")
    assert one.returncode == 0 and "PodDisruptionBudget" not in one.stdout  # nothing to keep up


def test_an_optional_service_monitor_and_pod_monitor_scrape_the_operator_and_the_predictors():
    from ontask.api import TaskClassifierSpec
    from ontask.operator.context import Context
    from ontask.operator.manifests import inference_service

    kube = ("--kube-version", "1.34.0")
    default = run_cli("helm", "template", "ontask", CHART, *kube, check=True).stdout
    assert not {"ServiceMonitor", "PodMonitor"} & {d["kind"] for d in yaml.safe_load_all(default) if d}
    out = run_cli(
        "helm",
        "template",
        "ontask",
        CHART,
        *kube,
        "--set",
        "metrics.serviceMonitor.enabled=true",
        "--set",
        "metrics.serviceMonitor.labels.release=prom",
        check=True,
    ).stdout
    docs = {d["kind"]: d for d in yaml.safe_load_all(out) if d}
    service, monitor, pods = docs["Service"], docs["ServiceMonitor"], docs["PodMonitor"]
    assert monitor["metadata"]["labels"]["release"] == "prom"
    # The ServiceMonitor selects the operator's Service, on its metrics port, which the pod serves.
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}
    args = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--metrics-port=9090" in args
    # The PodMonitor selects the predictors by the labels the operator gives them, on their port.
    ctx = Context("c", "ns", "uid", TaskClassifierSpec.model_validate({"data": {"source": "synthetic"}}))
    student = inference_service(ctx, "student", "s3://b/m/v1", "v1")
    labels = student["metadata"]["labels"]
    assert pods["spec"]["selector"]["matchLabels"].items() <= labels.items()
    [rule] = pods["spec"]["selector"]["matchExpressions"]
    assert labels[rule["key"]] in rule["values"]
    ports = student["spec"]["predictor"]["containers"][0]["ports"]
    assert pods["spec"]["podMetricsEndpoints"][0]["port"] in {p.get("name") for p in ports}


def test_the_operator_reads_s3_keys_in_kserves_format_or_none_and_offline_is_a_value():
    """storage.secretName's keys are KServe's (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), the same
    the children read; empty, the operator gets no keys (its ServiceAccount's cloud identity) and
    hands none to the children. storage.readOnlySecretName names the predictors' Secret (the
    operator keeps secretName's keys). models.offline reaches the children as HF_HUB_OFFLINE=1."""
    from ontask.operator.settings import OperatorSettings

    def operator_env(*values: str) -> dict:
        out = run_cli("helm", "template", "ontask", CHART, "--kube-version", "1.34.0", *values, check=True).stdout
        [deployment] = [d for d in yaml.safe_load_all(out) if d and d["kind"] == "Deployment"]
        return {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}

    keys = operator_env()
    assert keys["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"] == {"name": "minio-creds", "key": "AWS_ACCESS_KEY_ID"}
    assert keys["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "AWS_SECRET_ACCESS_KEY"
    assert keys["ONTASK_S3_SECRET"]["value"] == "minio-creds"
    identity = operator_env("--set", "storage.secretName=", "--set", "models.offline=true")
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ONTASK_S3_SECRET"} & set(identity)
    settings = OperatorSettings.from_env({k: e["value"] for k, e in identity.items() if "value" in e})
    assert settings.s3_secret is None and settings.child_env()["HF_HUB_OFFLINE"] == "1"
    assert (
        "HF_HUB_OFFLINE"
        not in OperatorSettings.from_env({k: e["value"] for k, e in keys.items() if "value" in e}).child_env()
    )
    # storage.readOnlySecretName: a name the operator hands to the predictors, never keys it reads.
    assert "ONTASK_S3_READ_ONLY_SECRET" not in keys
    read_only = operator_env("--set", "storage.readOnlySecretName=minio-read")
    assert read_only["ONTASK_S3_READ_ONLY_SECRET"] == {"name": "ONTASK_S3_READ_ONLY_SECRET", "value": "minio-read"}
    assert read_only["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["name"] == "minio-creds"
    settings = OperatorSettings.from_env({k: e["value"] for k, e in read_only.items() if "value" in e})
    assert (settings.s3_secret, settings.s3_read_only_secret) == ("minio-creds", "minio-read")


def test_the_image_sets_no_global_hub_offline_switch():
    """The default student is a Hub id the training job fetches: an image-wide HF_HUB_OFFLINE=1
    would fail the quick start's first job (air-gapped clusters set the chart's models.offline)."""
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "HF_HUB_OFFLINE" not in "\n".join(line for line in dockerfile.splitlines() if not line.startswith("#"))
