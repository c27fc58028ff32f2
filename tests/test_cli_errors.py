"""The `ontask` command as a user meets it: its version, and bad input answered in one line that
names the input and what to do, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import ontask
from tests.conftest import REPO


def ontask_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ontask.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )


def test_version():
    out = ontask_cli("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"ontask {ontask.__version__}"


def test_bad_windows_json_names_the_flag(tmp_path):
    shot = tmp_path / "shot.png"
    shot.write_bytes(b"\x89PNG")
    for windows, says in (("{bad", "not JSON"), ('{"app": "x"}', "a JSON list")):
        out = ontask_cli(
            "feedback", "send", "--classifier", "c", "--task", "t", "--label", "on-task", "--image", str(shot),
            "--windows", windows,
        )  # fmt: skip
        assert out.returncode == 2
        assert f"argument --windows: {says}" in out.stderr
        assert "Traceback" not in out.stderr


def test_an_unreachable_kafka_is_one_line_naming_the_brokers(tmp_path):
    shot = tmp_path / "shot.png"
    shot.write_bytes(b"\x89PNG")
    out = ontask_cli(
        "feedback", "send", "--classifier", "c", "--task", "t", "--label", "on-task", "--image", str(shot),
        "--bootstrap", "127.0.0.1:1",
    )  # fmt: skip
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    [line] = out.stderr.strip().splitlines()
    assert line.startswith("ontask: error: cannot reach Kafka at 127.0.0.1:1: ")
    assert line.endswith("give the brokers with --bootstrap (or ONTASK_KAFKA_BOOTSTRAP) and check they are up")
