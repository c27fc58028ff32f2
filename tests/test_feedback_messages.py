"""The correction message: its schema, validation reasons, and a round trip through the real
Kafka broker with the helper, the CLI and Kafka's own console producer."""

import json
import subprocess
import sys
import uuid

import pytest

from ontask.api import MAX_INLINE_IMAGE_BYTES
from ontask.feedback import InvalidCorrection, encode_correction, image_bytes, make_correction, parse_correction, send
from tests.conftest import REPO, console_produce, consume

VALID = {
    "id": "c-1",
    "classifier": "support-desk",
    "screenshotUri": "s3://shots/a.png",
    "task": "Answer refunds",
    "correctedLabel": "off-task",
    "timestamp": "2026-11-26T10:00:00Z",
}


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"{not json", "bad-json"),
        (b"[1, 2]", "bad-json"),
        (b"[" * 100_000, "bad-json"),  # deeper than Python's parser goes: RecursionError, not ValueError
        (json.dumps({k: v for k, v in VALID.items() if k != "task"}).encode(), "missing-field"),
        (json.dumps({**VALID, "correctedLabel": "maybe"}).encode(), "unknown-label"),
        (
            json.dumps(
                {**VALID, "screenshotUri": None, "screenshotBase64": "A" * (MAX_INLINE_IMAGE_BYTES * 2)}
            ).encode(),
            "oversized-image",
        ),
        (json.dumps({**VALID, "screenshotUri": None, "screenshotBase64": "***"}).encode(), "bad-image"),
        (json.dumps({**VALID, "screenshotBase64": "AAAA"}).encode(), "invalid-field"),  # both screenshot kinds
        (json.dumps({**VALID, "timestamp": "yesterday"}).encode(), "invalid-field"),
        (json.dumps({**VALID, "colour": "red"}).encode(), "invalid-field"),
    ],
)
def test_invalid_messages_are_refused_with_a_reason(raw, reason):
    with pytest.raises(InvalidCorrection) as err:
        parse_correction(raw)
    assert err.value.reason == reason


def test_valid_message_round_trips():
    c = parse_correction(json.dumps(VALID).encode())
    key, value = encode_correction(c)
    assert key == b"support-desk" and parse_correction(value) == c


def test_helper_cli_and_console_producer_reach_the_topic(kafka_bootstrap, tmp_path):
    topic = f"corrections-{uuid.uuid4().hex[:6]}"
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    send(
        make_correction(
            "support-desk",
            "Answer refunds",
            "off-task",
            image=png,
            id="helper-1",
            predicted_label="on-task",
            confidence=0.55,
        ),
        bootstrap=kafka_bootstrap,
        topic=topic,
    )
    shot = tmp_path / "shot.png"
    shot.write_bytes(png)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ontask.cli",
            "feedback",
            "send",
            "--classifier",
            "support-desk",
            "--image",
            str(shot),
            "--task",
            "Answer refunds",
            "--label",
            "on-task",
            "--id",
            "cli-1",
            "--bootstrap",
            kafka_bootstrap,
            "--topic",
            topic,
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    console_produce(kafka_bootstrap, topic, "support-desk", json.dumps({**VALID, "id": "console-1"}))
    messages = consume(kafka_bootstrap, topic, 3)
    assert [parse_correction(m.value).id for m in messages] == ["helper-1", "cli-1", "console-1"]
    assert all(m.key == b"support-desk" for m in messages)
    helper = parse_correction(messages[0].value)
    assert image_bytes(helper) == png and helper.predicted_label == "on-task"


def test_schema_command_prints_the_published_schema():
    out = subprocess.run(
        [sys.executable, "-m", "ontask.cli", "feedback", "schema"], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    schema = json.loads(out.stdout)
    assert {"id", "classifier", "task", "correctedLabel", "timestamp"} <= set(schema["required"])
    assert "screenshotBase64" in schema["properties"]
