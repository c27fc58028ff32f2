"""The predictors over real HTTP: the student loaded from the real S3, v1 and v2 answers in the
documented shape, bad input refused with 4xx while good requests keep succeeding, and the
disagreement loop publishing a judge correction to the real Kafka topic."""

from __future__ import annotations

import base64
import io
import json
import os
import random
import uuid

import pytest
import requests
from PIL import Image

from ontask.data import generate
from ontask.feedback.messages import parse_correction
from ontask.images import encode_png
from ontask.store import S3Store, upload_folder
from realservers.predictors import Predictor, s3_env
from tests.conftest import consume

BUCKET = "serving-test"
TOPIC = f"serving-corrections-{uuid.uuid4().hex[:6]}"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def shots():
    return [(encode_png(ex.image), ex) for ex in generate(8, seed=21)]


@pytest.fixture(scope="module")
def servers(tmp_path_factory, s3, s3_config, kafka_bootstrap, tiny_vlm):
    work = tmp_path_factory.mktemp("serving")
    store = S3Store(s3_config, BUCKET)
    upload_folder(store, tiny_vlm(5), "classifiers/srv/models/v1")
    env = {**s3_env(s3), "ONTASK_S3_BUCKET": BUCKET}
    judge = Predictor("judge", str(tiny_vlm(9, copy_to=work / "judge")), work, env=env).start()
    # The student's bucket, and the prefixes screenshot references may point into, are its spec's.
    spec = work / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "data": {"source": "synthetic"},
                "storage": {"bucket": BUCKET},
                "feedback": {"screenshotUriPrefixes": [f"s3://{BUCKET}/shots/"]},
            }
        )
    )
    # judge-below 1.0: every answer of a random student is "low confidence", so each is checked.
    student = Predictor(
        "student",
        f"s3://{BUCKET}/classifiers/srv/models/v1",
        work,
        "--classifier",
        "srv",
        "--spec",
        str(spec),
        "--judge-url",
        judge.url,
        "--kafka-bootstrap",
        kafka_bootstrap,
        "--feedback-topic",
        TOPIC,
        "--judge-below",
        "1.0",
        "--correction-min-confidence",
        "0.5",
        "--max-image-bytes",
        "400000",
        "--max-image-pixels",
        "3000000",
        "--max-body-bytes",
        str(4 * 1024 * 1024),
        env=s3_env(s3),
    ).start()
    yield student, judge, store
    student.stop()
    judge.stop()


def test_v1_answers_in_the_documented_shape_from_the_model_in_s3(servers, shots):
    student, _, _ = servers
    png, ex = shots[0]
    r = student.v1([{"image": b64(png), "task": ex.task, "windows": ex.windows, "sessionId": "s1"}])
    assert r.status_code == 200, r.text
    (p,) = r.json()["predictions"]
    assert set(p) == {"label", "pOnTask", "confidence", "modelVersion", "evidence", "latencyMs"}
    assert p["label"] == ("on-task" if p["pOnTask"] >= 0.5 else "off-task")
    assert p["confidence"] == pytest.approx(max(p["pOnTask"], 1 - p["pOnTask"]), abs=1e-6)
    assert p["modelVersion"] == "v1" and p["evidence"] == "request" and p["latencyMs"] > 0


def test_v2_gives_the_same_probability_as_v1(servers, shots):
    student, _, _ = servers
    png, ex = shots[1]
    v1 = student.v1([{"image": b64(png), "task": ex.task, "windows": ex.windows}]).json()["predictions"][0]
    body = {
        "inputs": [
            {"name": "image", "datatype": "BYTES", "shape": [1], "data": [b64(png)]},
            {"name": "task", "datatype": "BYTES", "shape": [1], "data": [ex.task]},
            {"name": "windows", "datatype": "BYTES", "shape": [1], "data": [json.dumps(ex.windows)]},
        ]
    }
    r = requests.post(f"{student.url}/v2/models/student/infer", json=body, timeout=60)
    assert r.status_code == 200, r.text
    outputs = {o["name"]: o for o in r.json()["outputs"]}
    assert set(outputs) == {"label", "p_on_task", "confidence", "evidence", "model_version"}
    assert outputs["p_on_task"]["data"][0] == pytest.approx(v1["pOnTask"], abs=1e-5)
    assert outputs["label"]["data"] == [v1["label"]] and outputs["model_version"]["data"] == ["v1"]
    assert requests.get(f"{student.url}/v2/health/ready", timeout=5).status_code == 200


def test_several_instances_share_a_batch_and_match_single_answers(servers, shots):
    student, _, _ = servers
    items = [{"image": b64(png), "task": ex.task, "windows": ex.windows} for png, ex in shots[:3]]
    batch = student.v1(items).json()["predictions"]
    singles = [student.v1([item]).json()["predictions"][0] for item in items]
    assert [b["pOnTask"] for b in batch] == pytest.approx([s["pOnTask"] for s in singles], abs=1e-4)


def test_without_window_evidence_ocr_supplies_it_and_the_answer_says_so(servers, shots):
    student, _, _ = servers
    png, ex = shots[2]
    p = student.v1([{"image": b64(png), "task": ex.task}]).json()["predictions"][0]
    assert p["evidence"] == "ocr"


def test_a_screenshot_by_s3_reference(servers, shots):
    student, _, store = servers
    png, ex = shots[3]
    store.put_bytes("shots/one.png", png, "image/png")
    r = student.v1([{"imageUri": f"s3://{BUCKET}/shots/one.png", "task": ex.task, "windows": ex.windows}])
    assert r.status_code == 200, r.text
    missing = student.v1([{"imageUri": f"s3://{BUCKET}/shots/none.png", "task": ex.task}])
    assert missing.status_code == 400 and "none.png" in missing.json()["error"]
    # A client cannot make the predictor read what is not a screenshot of its own: ontask's
    # artifacts (another classifier's screenshots, a model file), another bucket, a '..' path.
    store.put_bytes("classifiers/other/feedback/screenshots/x.png", png, "image/png")
    store.put_bytes("elsewhere/one.png", png, "image/png")
    for uri, why in (
        (f"s3://{BUCKET}/classifiers/other/feedback/screenshots/x.png", "ontask's own classifiers/ area"),
        ("s3://another-bucket/shots/one.png", "not this classifier's bucket"),
        (f"s3://{BUCKET}/shots/../classifiers/other/feedback/screenshots/x.png", "'..' segment"),
        (f"s3://{BUCKET}/elsewhere/one.png", f"outside the allowed prefixes (s3://{BUCKET}/shots/)"),
    ):
        r = student.v1([{"imageUri": uri, "task": ex.task, "windows": ex.windows}])
        assert r.status_code == 400 and why in r.json()["error"], (uri, r.text)
    # Its size is checked before a byte is read: a reference cannot make the predictor read a huge object.
    store.put_bytes("shots/huge.bin", os.urandom(500_000))
    r = student.v1([{"imageUri": f"s3://{BUCKET}/shots/huge.bin", "task": ex.task, "windows": ex.windows}])
    assert r.status_code == 400 and "500,000 bytes, over the limit" in r.json()["error"], r.text


def _bad_requests(shots) -> list[tuple[str, dict | bytes, str]]:
    png, ex = shots[0]
    noise = Image.effect_noise((800, 600), 100).convert("RGB")
    buf = io.BytesIO()
    noise.save(buf, format="PNG")
    big_bytes = buf.getvalue()  # ~480 kB: over the 400 kB limit set for the test
    huge = io.BytesIO()
    Image.new("RGB", (2000, 1600)).save(huge, format="PNG")  # 3.2 Mpx: over 3 Mpx, few bytes
    return [
        ("invalid base64", {"instances": [{"image": "not base64!!", "task": ex.task}]}, "base64"),
        ("not an image", {"instances": [{"image": b64(b"hello, world" * 10), "task": ex.task}]}, "not an image"),
        ("too many bytes", {"instances": [{"image": b64(big_bytes), "task": ex.task}]}, "exceeds the limit"),
        ("too many pixels", {"instances": [{"image": b64(huge.getvalue()), "task": ex.task}]}, "pixels"),
        ("missing task", {"instances": [{"image": b64(png)}]}, "task"),
        ("no instances", {"rows": []}, "instances"),
        ("not json", b"{this is not json", ""),
        (
            "10 MB body",
            b'{"instances": [{"image": "' + b"A" * (10 * 1024 * 1024) + b'", "task": "x"}]}',
            "exceeds the limit",
        ),
    ]


def test_bad_input_gets_a_4xx_with_a_message(servers, shots):
    student, _, _ = servers
    for what, body, words in _bad_requests(shots):
        if isinstance(body, bytes):
            r = requests.post(
                f"{student.url}/v1/models/student:predict",
                data=body,
                headers={"content-type": "application/json"},
                timeout=60,
            )
        else:
            r = requests.post(f"{student.url}/v1/models/student:predict", json=body, timeout=60)
        assert 400 <= r.status_code < 500, (what, r.status_code, r.text[:300])
        assert words.lower() in r.json()["error"].lower(), (what, r.text[:300])


def test_200_bad_requests_interleaved_with_good_ones(servers, shots):
    student, _, _ = servers
    bad = _bad_requests(shots)[:6]  # the 10 MB body is covered above; 200 of them only cost time
    png, ex = shots[4]
    good = {"instances": [{"image": b64(png), "task": ex.task, "windows": ex.windows}]}
    rng = random.Random(0)
    codes_good, codes_bad = [], []
    session = requests.Session()
    for i in range(200):
        _, body, _ = rng.choice(bad)
        codes_bad.append(session.post(f"{student.url}/v1/models/student:predict", json=body, timeout=60).status_code)
        if i % 4 == 0:
            codes_good.append(
                session.post(f"{student.url}/v1/models/student:predict", json=good, timeout=60).status_code
            )
    assert all(400 <= c < 500 for c in codes_bad)
    assert codes_good == [200] * 50
    assert student.process.running and student.ready()


def test_metrics_count_requests_labels_and_rejections(servers, shots):
    student, _, _ = servers
    text = requests.get(f"{student.url}/metrics", timeout=10).text
    assert 'ontask_predict_requests_total{model="student",outcome="ok"}' in text
    assert 'ontask_predict_requests_total{model="student",outcome="invalid"}' in text
    assert "ontask_predict_latency_seconds_bucket" in text and "ontask_predictions_total" in text
    assert 'ontask_low_confidence_total{model="student"}' in text


def test_the_judge_predictor_answers_the_same_format(servers, shots):
    _, judge, _ = servers
    png, ex = shots[5]
    p = judge.v1([{"image": b64(png), "task": ex.task, "windows": ex.windows}]).json()["predictions"][0]
    assert 0 < p["pOnTask"] < 1 and p["modelVersion"] == "judge"


def test_a_confident_judge_disagreement_becomes_a_correction_on_kafka(servers, shots, kafka_bootstrap):
    student, judge, _ = servers
    answers = []
    for png, ex in shots:
        s = student.v1([{"image": b64(png), "task": ex.task, "windows": ex.windows}]).json()["predictions"][0]
        j = judge.v1([{"image": b64(png), "task": ex.task, "windows": ex.windows}]).json()["predictions"][0]
        answers.append((s["label"], j["label"]))
    disagreements = sum(s != j for s, j in answers)
    assert disagreements, f"the two random models agree on every screenshot: {answers}"
    records = consume(kafka_bootstrap, TOPIC, 10_000, timeout_ms=20000)  # all of them, until 20 s of quiet
    assert len(records) >= disagreements
    corrections = [parse_correction(r.value) for r in records]
    assert {r.key for r in records} == {b"srv"}
    assert all(c.source == "judge" and c.classifier == "srv" and c.model_version == "v1" for c in corrections)
    assert all(c.corrected_label != c.predicted_label for c in corrections)
    # The id is content-based: however often a screenshot is predicted, its corrections share one
    # id, so the collector keeps one.
    assert len({c.id for c in corrections}) <= len(shots)
    # What users were doing stays out of the logs.
    logged = student.process.log_path.read_text(errors="replace")
    assert not [ex.task for _, ex in shots if ex.task in logged]
