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
    out = run_cli(
        "helm", "template", "ontask", CHART, "--namespace", namespace, "--include-crds", "--kube-version", server
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_helm_template_is_accepted_by_the_api_server(kube, crd_installed):
    namespace = "ontask-chart"
    run_cli("kubectl", "create", "namespace", namespace, kubeconfig=kube.admin_kubeconfig)
    rendered = _render(kube, namespace)
    kinds = [d["kind"] for d in yaml.safe_load_all(rendered) if d]
    assert {"CustomResourceDefinition", "Deployment", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"} <= set(
        kinds
    )
    out = run_cli(
        "kubectl",
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=helm-test",
        "-f",
        "-",
        kubeconfig=kube.admin_kubeconfig,
        input=rendered,
    )
    assert out.returncode == 0, out.stderr
    assert "deployment.apps/ontask-operator serverside-applied (server dry run)" in out.stdout


def test_operator_pod_meets_the_restricted_pod_security_standard(kube):
    namespace = "ontask-restricted"
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
