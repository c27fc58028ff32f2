"""The learning target: `ontask train` takes the tiny random-initialised student from chance to
at least 85% held-out accuracy on a synthetic set within 15 minutes on this 2-core CPU (a
supervised warm start, reported as such in the metrics, then GRPO), with the answer entropy
above a floor throughout GRPO. What GRPO adds over the same steps of supervised training is
measured beside a control arm in benchmarks/bench_convergence.py, not claimed here: on this set
the warm start alone reaches most of it. The curve is saved as a PNG. The same
student, trained on synthetic screens only, then answers real screenshots of real applications
(the real-screens set's validation tasks) at 75% or better."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ontask.data.catalog import catalog_corpus
from tests.conftest import REPO

pytestmark = pytest.mark.slow

BUDGET_MINUTES = 15
ENTROPY_FLOOR = 0.02  # nats per answer token; a collapsed policy sits near 0
WARM_START_STEPS = 80
ARTIFACTS = Path(os.environ.get("ONTASK_TEST_ARTIFACTS", REPO / "out" / "test-artifacts"))

CONFIG = """apiVersion: ontask.dev/v1alpha1
kind: TaskClassifier
metadata: {name: learner}
spec:
  data: {source: synthetic, trainBatchSize: 8, maxResponseLength: 8}
  judge: {enabled: false}
  training: {epochs: 2, groupSize: 5, learningRate: 0.001, entropyCoef: 0.01, evalEvery: 10, saveEvery: 1000,
             rewardWeights: {binary: 1.0, judge: 0.0, verifier: 0.0}, syncSteps: 10}
"""


def _cli(*args: str, timeout: float) -> subprocess.CompletedProcess:
    out = subprocess.run(
        [sys.executable, "-m", "ontask.cli", *args], capture_output=True, text=True, cwd=REPO, timeout=timeout
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def test_the_tiny_student_learns_from_chance_to_85_percent_within_15_minutes(tmp_path, tiny_vlm):
    store = str(tmp_path / "store")
    _cli("data", "generate", "--n", "1200", "--seed", "21", "--out", store, "--name", "screens", timeout=600)
    base = tiny_vlm(11, corpus=catalog_corpus())
    (tmp_path / "tc.yaml").write_text(CONFIG)
    started = time.monotonic()
    _cli(
        "train",
        "--config",
        str(tmp_path / "tc.yaml"),
        "--store",
        store,
        "--classifier",
        "learner",
        "--dataset",
        "screens",
        "--base-model",
        str(base),
        "--warm-start-steps",
        str(WARM_START_STEPS),
        "--max-minutes",
        str(BUDGET_MINUTES - 2),
        timeout=BUDGET_MINUTES * 60 + 120,
    )
    minutes = (time.monotonic() - started) / 60
    metrics = [
        json.loads(line)
        for line in (tmp_path / "store" / "classifiers" / "learner" / "metrics" / "v1.jsonl").read_text().splitlines()
    ]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    _cli("monitor", "learner", "--store", store, "--out", str(ARTIFACTS / "learning"), timeout=120)
    (ARTIFACTS / "learning" / "metrics.jsonl").write_text("\n".join(json.dumps(m) for m in metrics) + "\n")

    curve = [(m["step"], m["phase"], m["val_accuracy"]) for m in metrics if m.get("val_accuracy") is not None]
    start, final = curve[0][2], curve[-1][2]
    warm = [m for m in metrics if m["phase"] == "warm-start"]
    grpo = [m for m in metrics if m["phase"] == "grpo"]
    after_warm = next(a for s, p, a in curve if s >= len(warm))
    entropies = [m["entropy"] for m in grpo if m.get("entropy") is not None]
    summary = f"{minutes:.1f} min, curve {curve}"
    (ARTIFACTS / "learning" / "summary.json").write_text(
        json.dumps(
            {
                "train_minutes": round(minutes, 2),
                "start": start,
                "after_warm_start": after_warm,
                "final": final,
                "min_entropy": min(entropies, default=None),
                "curve": curve,
            },
            indent=1,
        )
    )
    assert minutes <= BUDGET_MINUTES, summary
    assert 0.35 <= start <= 0.65, f"the random student should start near chance: {summary}"
    assert final >= 0.85, summary
    assert len(warm) == WARM_START_STEPS and grpo, summary
    # GRPO keeps what the warm start reached (its gain, if any, is the convergence bench's to measure).
    assert final >= after_warm - 0.03, summary
    assert entropies and min(entropies) > ENTROPY_FLOOR, f"entropy collapsed: min {min(entropies):.4f}"
    assert (ARTIFACTS / "learning" / "training.png").stat().st_size > 10_000
    # Real screens, balanced (each screenshot with a task it serves and one it does not): the student
    # trained on synthetic screens only, never on a real one. A student that answers one label for
    # 90% of them has learned the label prior, not the task.
    model = str(tmp_path / "store" / "classifiers" / "learner" / "models" / "v1")
    _cli("data", "real-screens", "--out", store, "--name", "real", timeout=900)
    _cli(
        "eval",
        "--model",
        model,
        "--store",
        store,
        "--data",
        "real",
        "--slices",
        "val",
        "--out",
        str(tmp_path / "eval-real"),
        timeout=600,
    )
    val = json.loads((tmp_path / "eval-real" / "evaluation.json").read_text())["results"]["student v1"]["val"]
    said = {label: sum(row[label] for row in val["confusion"].values()) for label in ("on-task", "off-task")}
    truth = {label: sum(val["confusion"][label].values()) for label in ("on-task", "off-task")}
    assert truth["on-task"] == truth["off-task"], truth
    assert max(said.values()) <= 0.9 * val["n"], f"one label for most rows: {said}"
    assert val["accuracy"] >= 0.75, f"{val['accuracy']:.3f} on {val['n']} real held-out rows"
    (ARTIFACTS / "learning" / "real-screens.json").write_text(json.dumps({"accuracy": val["accuracy"], "n": val["n"]}))
