"""`ontask demo --small` end to end on the real Kafka broker, in a folder an earlier run used: it
starts afresh, finishes, its printed table is the one in the report, and the report's plots exist;
`ontask eval` and `ontask monitor` read what the demo wrote."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def _demo(out, kafka_bootstrap):
    cmd = [
        sys.executable,
        "-m",
        "ontask.cli",
        "demo",
        "--small",
        "--out",
        str(out),
        "--kafka-bootstrap",
        kafka_bootstrap,
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=1200)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    # Not a terminal: no redrawn bars, one progress line per change of state.
    assert "\r" not in run.stderr, run.stderr[-2000:]
    progress = [line for line in run.stdout.splitlines() if line.startswith(("bootstrap + train v1:", "sync cycle 1:"))]
    assert 2 <= len(progress) <= 20, progress
    return run.stdout


@pytest.fixture(scope="module")
def demo(tmp_path_factory, kafka_bootstrap):
    """`ontask demo --small` in a folder where an earlier run left a classifier past v1: the run
    starts afresh (it says so, and nothing of the old run is left) and trains its own v1 and v2.
    (One run, not two: `fresh_run_folder`'s own test covers what is removed and what is kept.)"""
    out = tmp_path_factory.mktemp("demo")
    old_model = out / "store" / "classifiers" / "demo" / "models" / "v7"
    old_model.mkdir(parents=True)
    (old_model / "config.json").write_text("{}")
    (out / "logs").mkdir()
    (out / "logs" / "demo-train-master-0.log").write_text("an earlier run")
    (out / "my-notes.txt").write_text("not the demo's")
    stdout = _demo(out, kafka_bootstrap)
    assert "starting afresh: removed the previous demo run's logs, store from" in stdout
    assert not old_model.exists() and (out / "my-notes.txt").read_text() == "not the demo's"
    models = out / "store" / "classifiers" / "demo" / "models"
    assert sorted(p.name for p in models.iterdir()) == ["v1", "v2"], list(models.iterdir())
    return out, stdout


def test_the_printed_table_is_the_reports(demo):
    out, stdout = demo
    saved = json.loads((out / "report" / "results.json").read_text())
    assert saved["table"] in stdout
    rows = saved["table"].splitlines()
    assert rows[0].startswith("| system | held-out | team's focus music (new) | corrected screenshots")
    assert {r.split("|")[1].strip() for r in rows[2:]} == {
        "verifier alone",
        "student v1",
        "student v1 + verifier (hybrid)",
        "student v2 (after the cycle)",
        "student v2 (after the cycle) + verifier (hybrid)",
    }
    # A tiny random judge says nothing about prompt engineering: no row for it, and the demo says so.
    assert "No prompt-engineering comparison: the judge is a tiny random model" in stdout
    html = (out / "report" / "index.html").read_text()
    for png in ("accuracy.png", "training.png", "reliability.png"):
        assert f'src="{png}"' in html and (out / "report" / png).stat().st_size > 10_000
    assert "Promoted" in stdout or "KeptServing" in stdout


def test_eval_and_monitor_read_the_demo_store(demo, tmp_path):
    out, _ = demo
    store = str(out / "store")
    models = out / "store" / "classifiers" / "demo" / "models"
    ev = subprocess.run(
        [
            sys.executable,
            "-m",
            "ontask.cli",
            "eval",
            "--model",
            str(models / "v1"),
            "--model",
            str(models / "v2"),
            "--store",
            store,
            "--data",
            "demo-feedback",
            "--out",
            str(tmp_path / "ev"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert ev.returncode == 0, ev.stderr[-2000:]
    result = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    assert {"student v1", "student v2", "verifier alone"} <= set(result["results"])
    assert result["results"]["student v2"]["corrections"]["n"] == 10
    mon = subprocess.run(
        [sys.executable, "-m", "ontask.cli", "monitor", "demo", "--store", store, "--out", str(tmp_path / "mon")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert mon.returncode == 0, mon.stderr[-2000:]
    assert "v1" in mon.stdout and "v2" in mon.stdout and (tmp_path / "mon" / "training.png").exists()


def test_a_second_run_starts_from_scratch_and_removes_only_what_a_run_writes(tmp_path):
    from ontask.demo import RUN_FOLDERS, fresh_run_folder

    for name in RUN_FOLDERS:
        (tmp_path / name / "deep").mkdir(parents=True)
        (tmp_path / name / "deep" / "state.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("mine")
    assert fresh_run_folder(tmp_path) == list(RUN_FOLDERS)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    assert fresh_run_folder(tmp_path) == []


def test_a_demo_that_cannot_run_says_why_in_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "ONTASK_KAFKA_BOOTSTRAP"}
    run = subprocess.run(
        [sys.executable, "-m", "ontask.cli", "demo", "--small", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env=env,
    )
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines() == [
        "ontask demo: the demo sends corrections through Kafka: give --kafka-bootstrap (or ONTASK_KAFKA_BOOTSTRAP); "
        "`make demo` starts a local broker for it"
    ]
