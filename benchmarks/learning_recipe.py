"""The learning recipe, in one place for the learning test (tests/test_learning.py: one seed, with
its bars) and its benchmark (bench_learning: three seeds, median and range): `ontask data
generate` 1,200 synthetic rows, `ontask train` the tiny random-initialised student from a
supervised warm start into GRPO within a time budget, then `ontask eval` of that student on the
real-screens set's validation tasks, with the verifier beside it on the same rows."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from benchmarks import REPO

BUDGET_MINUTES = 15
WARM_START_STEPS = 80
SYNTHETIC_ROWS = 1200
CLASSIFIER = "learner"
CONFIG = """apiVersion: ontask.dev/v1alpha1
kind: TaskClassifier
metadata: {name: learner}
spec:
  data: {source: synthetic, trainBatchSize: 8, maxResponseLength: 8}
  judge: {enabled: false}
  training: {epochs: 2, groupSize: 5, learningRate: 0.001, entropyCoef: 0.01, evalEvery: 10, saveEvery: 1000,
             rewardWeights: {binary: 1.0, judge: 0.0, verifier: 0.0}, syncSteps: 10}
"""


def cli(*args: str, timeout: float) -> subprocess.CompletedProcess:
    """`ontask ARGS` from the repository; raises with the end of its stderr when it fails."""
    out = subprocess.run(
        [sys.executable, "-m", "ontask.cli", *args], capture_output=True, text=True, cwd=REPO, timeout=timeout
    )
    if out.returncode != 0:
        raise AssertionError(f"ontask {' '.join(args[:2])} failed: {out.stderr[-3000:]}")
    return out


@dataclass
class Learned:
    """One run of the recipe: its training curve and where its student lies."""

    minutes: float
    metrics: list[dict[str, Any]]
    store: Path

    @property
    def curve(self) -> list[tuple[int, str, float]]:
        """(step, phase, held-out accuracy) at each evaluation."""
        return [(m["step"], m["phase"], m["val_accuracy"]) for m in self.metrics if m.get("val_accuracy") is not None]

    @property
    def warm_steps(self) -> int:
        return sum(1 for m in self.metrics if m["phase"] == "warm-start")

    @property
    def after_warm_start(self) -> float:
        return next(a for s, _, a in self.curve if s >= self.warm_steps)

    @property
    def entropies(self) -> list[float]:
        """The sampled answers' entropy at each GRPO step that logged one."""
        return [m["entropy"] for m in self.metrics if m["phase"] == "grpo" and m.get("entropy") is not None]

    @property
    def model(self) -> Path:
        return self.store / "classifiers" / CLASSIFIER / "models" / "v1"


def train(work: Path, base_model: Path, data_seed: int) -> Learned:
    """Generate the synthetic set with `data_seed` and train `base_model` on it under `work`."""
    store = work / "store"
    cli("data", "generate", "--n", str(SYNTHETIC_ROWS), "--seed", str(data_seed), "--out", str(store),
        "--name", "screens", timeout=600)  # fmt: skip
    (work / "tc.yaml").write_text(CONFIG)
    started = time.monotonic()
    cli(
        "train", "--config", str(work / "tc.yaml"), "--store", str(store), "--classifier", CLASSIFIER,
        "--dataset", "screens", "--base-model", str(base_model), "--warm-start-steps", str(WARM_START_STEPS),
        "--max-minutes", str(BUDGET_MINUTES - 2),
        timeout=BUDGET_MINUTES * 60 + 120,
    )  # fmt: skip
    minutes = (time.monotonic() - started) / 60
    lines = (store / "classifiers" / CLASSIFIER / "metrics" / "v1.jsonl").read_text().splitlines()
    return Learned(minutes, [json.loads(line) for line in lines], store)


def on_real_screens(learned: Learned, out: Path, real_dataset: Optional[str] = None) -> dict[str, dict]:
    """The student and the verifier alone on the real-screens set's validation tasks (the set is
    copied into the run's store first): each one's summary (accuracy, n, confusion, ...)."""
    name = real_dataset or "real"
    cli("data", "real-screens", "--out", str(learned.store), "--name", name, timeout=900)
    cli("eval", "--model", str(learned.model), "--store", str(learned.store), "--data", name, "--slices", "val",
        "--out", str(out), timeout=600)  # fmt: skip
    results = json.loads((out / "evaluation.json").read_text())["results"]
    return {"student": results["student v1"]["val"], "verifier": results["verifier alone"]["val"]}
