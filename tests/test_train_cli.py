"""`ontask train` end to end on a local store: dataset in, model version and metrics out; bad
rows are skipped and counted; the checkpoint loads."""

import json
import subprocess
import sys

from ontask.data import generate, read_version, write_version
from ontask.data.dataset import Example
from ontask.models.loading import load_vlm
from ontask.store import LocalStore
from tests.conftest import REPO


def test_train_command_writes_a_loadable_model_and_metrics(tmp_path, tiny_vlm):
    store = LocalStore(tmp_path / "store")
    examples = list(generate(10, seed=4))
    bad = Example(id="bad-label", image=examples[0].image, task="x", label="maybe", label_source="manifest")
    write_version(store, "screens", examples + [bad], "ontask/synthetic", {"test": True})
    base = tiny_vlm()
    config = tmp_path / "tc.yaml"
    config.write_text(
        "apiVersion: ontask.dev/v1alpha1\nkind: TaskClassifier\nmetadata: {name: demo}\nspec:\n"
        "  data: {source: synthetic, trainBatchSize: 2, maxResponseLength: 4}\n"
        "  judge: {enabled: false}\n"
        "  training: {epochs: 1, groupSize: 2, learningRate: 0.001, evalEvery: 2,\n"
        "             rewardWeights: {binary: 0.8, judge: 0.0, verifier: 0.2}, syncSteps: 2}\n"
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ontask.cli",
            "train",
            "--config",
            str(config),
            "--store",
            str(tmp_path / "store"),
            "--classifier",
            "demo",
            "--dataset",
            "screens",
            "--base-model",
            str(base),
            "--warm-start-steps",
            "2",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "trained" in out.stdout and "'bad label': 1" in out.stdout
    # The run is not silent while it trains: a line per evaluation and per tenth step.
    progress = [line for line in out.stdout.splitlines() if line.startswith("step ")]
    assert (
        progress[0].startswith("step 0/")
        and " config train_rows=" in progress[0]
        and "learning_rate=0.001" in progress[0]
    )
    assert progress[1].startswith("step 0/") and " start val_accuracy=" in progress[1]
    assert any(" warm-start sft_loss=" in line and "val_accuracy=" in line for line in progress), progress
    assert any(" grpo reward=" in line for line in progress) and " end val_accuracy=" in progress[-2] + progress[-1]
    assert "label 'maybe' is not on-task or off-task" in out.stderr
    model, processor = load_vlm(str(tmp_path / "store" / "classifiers" / "demo" / "models" / "v1"))
    assert model.config.model_type == "qwen2_5_vl"
    lines = [
        json.loads(ln)
        for ln in (tmp_path / "store" / "classifiers" / "demo" / "metrics" / "v1.jsonl").read_text().splitlines()
    ]
    assert lines[0]["phase"] == "config"
    assert lines[0]["skipped_rows"] == {"missing image": 0, "bad label": 1, "prompt too long": 0}
    assert {ln["phase"] for ln in lines} >= {"start", "warm-start", "grpo", "end", "hybrid"}
    # The hybrid's weight, fitted on the validation rows, beside the model for the predictor.
    fit = json.loads((tmp_path / "store" / "classifiers" / "demo" / "models" / "v1" / "ontask-hybrid.json").read_text())
    assert 0.0 <= fit["student_weight"] <= 1.0 and fit["fitted_on"] == "screens:v1 val"
    assert set(fit["accuracy"]) == {"student", "verifier", "hybrid"}
    assert read_version(store, "screens").manifest["rows"] == 11


RESUME_CONFIG = (
    "apiVersion: ontask.dev/v1alpha1\nkind: TaskClassifier\nmetadata: {name: resume}\nspec:\n"
    "  data: {source: synthetic, trainBatchSize: 2, maxResponseLength: 4}\n"
    "  judge: {enabled: false}\n"
    "  training: {epochs: 1, groupSize: 2, learningRate: 0.001, evalEvery: 1000, saveEvery: 3,\n"
    "             rewardWeights: {binary: 0.8, judge: 0.0, verifier: 0.2}, syncSteps: 2}\n"
)


def _train_cmd(tmp_path, store_dir, *extra):
    """`ontask train` on the resume test's config, dataset and base model."""
    return [
        sys.executable,
        "-m",
        "ontask.cli",
        "train",
        "--config",
        str(tmp_path / "resume.yaml"),
        "--store",
        str(store_dir),
        "--classifier",
        "resume",
        "--dataset",
        "screens",
        "--base-model",
        str(tmp_path / "base"),
        "--warm-start-steps",
        "2",
        *extra,
    ]


def _train(tmp_path, store_dir, *extra):
    cmd = _train_cmd(tmp_path, store_dir, *extra)
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600)


def test_an_interrupted_run_resumes_from_its_checkpoint_and_ends_where_an_uninterrupted_one_does(tmp_path, tiny_vlm):
    from safetensors.torch import load_file

    tiny_vlm(3, copy_to=tmp_path / "base")
    (tmp_path / "resume.yaml").write_text(RESUME_CONFIG)
    for name in ("straight", "interrupted"):
        write_version(LocalStore(tmp_path / name), "screens", list(generate(10, seed=8)), "ontask/synthetic", {})
    straight = _train(tmp_path, tmp_path / "straight")
    assert straight.returncode == 0, straight.stderr[-3000:]
    first = _train(tmp_path, tmp_path / "interrupted", "--stop-at-step", "4")
    assert first.returncode == 0 and "stopped at step 4" in first.stdout, first.stderr[-3000:]
    second = _train(tmp_path, tmp_path / "interrupted")
    assert second.returncode == 0, second.stderr[-3000:]
    models = "classifiers/resume/models/v1/model.safetensors"
    a, b = load_file(str(tmp_path / "straight" / models)), load_file(str(tmp_path / "interrupted" / models))
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-5
    metrics = [
        json.loads(ln)
        for ln in (tmp_path / "interrupted" / "classifiers/resume/metrics/v1.jsonl").read_text().splitlines()
    ]
    resumed = next(m for m in metrics if m["phase"] == "resume")
    assert resumed["step"] == 3  # the checkpoint written at step 3 (saveEvery), not a fresh start


def test_a_corrupt_base_checkpoint_is_refused_with_a_clear_error(tmp_path, tiny_vlm):
    base = tiny_vlm(copy_to=tmp_path / "base")
    (base / "model.safetensors").write_bytes(b"\x00" * 64)
    (tmp_path / "resume.yaml").write_text(RESUME_CONFIG)
    write_version(LocalStore(tmp_path / "store"), "screens", list(generate(4, seed=1)), "ontask/synthetic", {})
    out = _train(tmp_path, tmp_path / "store")
    assert out.returncode == 1
    assert "model.safetensors is corrupt" in out.stderr and "Traceback" not in out.stderr


def test_a_running_train_publishes_its_metrics_before_it_ends(tmp_path, tiny_vlm):
    import time

    store = LocalStore(tmp_path / "store")
    write_version(store, "screens", list(generate(24, seed=5)), "ontask/synthetic", {"test": True})
    tiny_vlm(copy_to=tmp_path / "base")
    (tmp_path / "resume.yaml").write_text(
        RESUME_CONFIG.replace("epochs: 1", "epochs: 6").replace("evalEvery: 1000", "evalEvery: 2")
    )
    cmd = _train_cmd(tmp_path, tmp_path / "store", "--model-version", "v1")
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    metrics = tmp_path / "store" / "classifiers" / "resume" / "metrics" / "v1.jsonl"
    seen_while_running = []
    deadline = time.monotonic() + 600
    while proc.poll() is None and time.monotonic() < deadline:
        if metrics.exists() and not (tmp_path / "store" / "classifiers" / "resume" / "models" / "v1").exists():
            seen_while_running.append(len(metrics.read_text().splitlines()))
        time.sleep(0.2)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out[-3000:]
    # `ontask monitor --follow` reads this file: it grew while the job ran, before the model existed.
    assert len(set(seen_while_running)) >= 2, seen_while_running
    final = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert final[-1]["phase"] in ("end", "hybrid") and len(final) > max(seen_while_running)
    assert "eta=" in out


def test_on_a_terminal_training_draws_a_bar_under_its_lines(capsys):
    from ontask.trainers.reporting import progress_reporter

    report = progress_reporter(lambda m: None, 20, live=True)
    report({"phase": "start", "step": 0, "val_accuracy": 0.5})
    for step in range(1, 21):
        report({"phase": "grpo", "step": step, "reward": 0.5 + step / 100})
    report({"phase": "end", "step": 20, "val_accuracy": 0.75})
    out = capsys.readouterr()
    assert "training: 100%" in out.err and "20/20" in out.err and "reward=0.700" in out.err
    assert "step 10/20 grpo reward=" in out.out + out.err and "end val_accuracy=0.750" in out.out + out.err
