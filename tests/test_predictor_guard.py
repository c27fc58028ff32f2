"""Who may ask a predictor, over real HTTP to a real `ontask serve student` process: KServe's
model repository routes are refused (one unload took the model away until a restart), a token
turned on refuses requests without it while health probes still answer, and /metrics, with the
team's on/off-task rates, moves to its own port."""

from __future__ import annotations

import base64

import pytest
import requests

from ontask.data import generate
from ontask.images import encode_png
from ontask.operator.local import free_port
from realservers.predictors import Predictor

TOKEN = "s3cr3t-token-for-tests"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory, tiny_vlm):
    work = tmp_path_factory.mktemp("guard")
    metrics_port = free_port()
    student = Predictor(
        "student",
        str(tiny_vlm(5, copy_to=work / "v1")),
        work,
        "--metrics-port",
        str(metrics_port),
        env={"ONTASK_PREDICT_TOKEN": TOKEN},
    ).start()
    ex = next(generate(1, seed=3))
    body = {
        "instances": [
            {"image": base64.b64encode(encode_png(ex.image)).decode(), "task": ex.task, "windows": ex.windows}
        ]
    }
    yield student, metrics_port, body
    student.stop()


def _auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_repository_routes_are_refused_and_the_model_stays(guarded):
    student, _, body = guarded
    for path in ("/v2/repository/models/student/unload", "/v2/repository/models/student/load", "/v2/repository/index"):
        for headers in (None, _auth()):  # a token does not open them either
            r = requests.post(f"{student.url}{path}", headers=headers, timeout=10)
            assert r.status_code == 403, (path, r.status_code, r.text)
            assert "no repository API" in r.json()["error"]
    assert student.ready()
    r = requests.post(f"{student.url}/v1/models/student:predict", json=body, headers=_auth(), timeout=60)
    assert r.status_code == 200, r.text


def test_without_the_token_a_request_is_refused_and_probes_still_answer(guarded):
    student, _, body = guarded
    url = f"{student.url}/v1/models/student:predict"
    r = requests.post(url, json=body, timeout=10)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "no Authorization: Bearer token" in r.json()["error"]
    assert requests.post(url, json=body, headers=_auth("guess"), timeout=10).status_code == 401
    v2 = {"inputs": [{"name": "task", "datatype": "BYTES", "shape": [1], "data": ["x"]}]}
    assert requests.post(f"{student.url}/v2/models/student/infer", json=v2, timeout=10).status_code == 401
    assert requests.get(f"{student.url}/v2/models/student", timeout=10).status_code == 401  # metadata too
    for probe in ("/v2/health/ready", "/v2/health/live", "/v1/models/student", "/v2/models/student/ready"):
        assert requests.get(f"{student.url}{probe}", timeout=10).status_code == 200, probe
    r = requests.post(url, json=body, headers=_auth(), timeout=60)
    assert r.status_code == 200 and r.json()["predictions"][0]["label"] in ("on-task", "off-task")


def test_metrics_live_on_their_own_port_only(guarded):
    student, metrics_port, body = guarded
    requests.post(f"{student.url}/v1/models/student:predict", json=body, headers=_auth(), timeout=60)
    assert requests.get(f"{student.url}/metrics", headers=_auth(), timeout=10).status_code == 404
    text = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
    assert 'ontask_predict_requests_total{model="student",outcome="ok"}' in text


def test_the_operator_gives_predictors_the_token_by_reference_and_a_metrics_port():
    """The spec names a Secret, never the token; the predictor's env reads its key `token`. The
    metrics port is declared where KServe allows a second port (RawDeployment), and the local
    stand-in of a pod (the embedded mode) keeps metrics on its own prediction port."""
    from ontask.api import TaskClassifierSpec
    from ontask.operator.context import Context
    from ontask.operator.local import predictor_command
    from ontask.operator.manifests import PREDICTOR_METRICS_PORT, inference_service

    spec = TaskClassifierSpec.model_validate(
        {"data": {"source": "synthetic"}, "serving": {"tokenSecretRef": "desk-predict-token"}}
    )
    student = inference_service(Context("desk", "ns", "uid", spec), "student", "s3://b/m/v1", "v1")
    container = student["spec"]["predictor"]["containers"][0]
    [token] = [e for e in container["env"] if e["name"] == "ONTASK_PREDICT_TOKEN"]
    assert token == {
        "name": "ONTASK_PREDICT_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": "desk-predict-token", "key": "token"}},
    }
    args = container["args"]
    assert args[args.index("--metrics-port") + 1] == str(PREDICTOR_METRICS_PORT)
    assert {p["name"] for p in container["ports"]} == {"http1", "metrics"}
    serverless = inference_service(
        Context("desk", "ns", "uid", spec, kserve_mode="Serverless"), "student", "s3://b/m/v1", "v1"
    )
    assert [p["name"] for p in serverless["spec"]["predictor"]["containers"][0]["ports"]] == ["http1"]
    local = predictor_command(container, {"STORAGE_URI": "/models/v1"}, 18080, lambda name: None)
    assert local[local.index("--metrics-port") + 1] == "0" and local[local.index("--http-port") + 1] == "18080"
    unauthenticated = inference_service(
        Context("desk", "ns", "uid", TaskClassifierSpec.model_validate({"data": {"source": "synthetic"}})),
        "student",
        "s3://b/m/v1",
        "v1",
    )
    assert "ONTASK_PREDICT_TOKEN" not in str(unauthenticated)


def test_the_judge_clients_carry_the_token_a_guarded_judge_wants(tmp_path, tiny_vlm):
    """A classifier with spec.serving.tokenSecretRef guards its judge predictor too: the data Job
    (which labels through it) gets the token from the same Secret, and the judge client sends it
    (refused without it, answered with it, over real HTTP to `ontask serve judge`)."""
    from ontask.api import TaskClassifierSpec
    from ontask.judge.remote import judge_client
    from ontask.operator.context import Context
    from ontask.operator.manifests import data_job

    spec = TaskClassifierSpec.model_validate(
        {"data": {"source": "s3://ontask/screens/"}, "serving": {"tokenSecretRef": "desk-predict-token"}}
    )
    [container] = data_job(Context("desk", "ns", "uid", spec), "desk")["spec"]["template"]["spec"]["containers"]
    assert {
        "name": "ONTASK_PREDICT_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": "desk-predict-token", "key": "token"}},
    } in container["env"]
    judge = Predictor(
        "judge", str(tiny_vlm(6, copy_to=tmp_path / "judge")), tmp_path, env={"ONTASK_PREDICT_TOKEN": TOKEN}
    )
    judge.start()
    try:
        ex = next(generate(1, seed=4))
        png = encode_png(ex.image)
        with pytest.raises(requests.HTTPError, match="401"):
            judge_client(judge.url).p_on_task(png, None, ex.task, ex.windows)
        assert 0.0 <= judge_client(judge.url, token=TOKEN).p_on_task(png, None, ex.task, ex.windows) <= 1.0
    finally:
        judge.stop()
