"""verl users: the plan's own config trains through `ontask train`, and verl's own reward
manager (verl from PyPI, `make verl-venv`) scores an `ontask export verl` folder exactly as
ontask's reward module does."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from ontask.data import generate, write_version
from ontask.interop.verl_config import VerlConfigError, read_verl_config, spec_from_verl
from ontask.rewards.verl import compute_score
from ontask.store import LocalStore
from ontask.verify import builtin_verifier_config
from tests.conftest import REPO

PLAN = REPO / "examples" / "task_classification" / "config" / "task_classifier_grpo.yaml"

# The plan's task_classifier_grpo.yaml as the plan writes it, to the byte (the example folder
# must not drift from it).
PLAN_TEXT = """\
# Model configuration
model:
  path: Qwen/Qwen2.5-VL-3B-Instruct
  device_map: auto

# Data configuration  
data:
  max_prompt_length: 256      # Task description + image
  max_response_length: 16     # Just classification token
  train_batch_size: 32
  val_batch_size: 64

# Judge configuration
judge:
  enable: true
  model_path: Qwen/Qwen2.5-VL-72B-Instruct
  verification_mode: preference
  cache_judgments: true

# Training configuration
trainer:
  total_epochs: 10
  save_freq: 100
  eval_freq: 50
  semi_online_learning:
    enable: true
    sync_steps: 10  # Sync generator with trainer every 10 steps
    feedback_buffer_size: 10000
    synthetic_variants_per_feedback: 10
    update_frequency: 100

# Reward configuration
algorithm:
  adv_estimator: grpo
  reward_type: hybrid
  reward_weights:
    binary_classification: 0.3
    vlm_judge: 0.5
    visual_verifier: 0.2
  # Entropy regularization to prevent collapse
  entropy_bonus_coef: 0.01  # Add entropy bonus to prevent mode collapse
"""


def test_the_plans_yaml_maps_onto_the_spec_key_by_key():
    assert PLAN.read_text() == PLAN_TEXT
    spec = read_verl_config(PLAN).spec
    assert spec.student.model == "Qwen/Qwen2.5-VL-3B-Instruct"
    assert (
        spec.data.max_prompt_length,
        spec.data.max_response_length,
        spec.data.train_batch_size,
        spec.data.val_batch_size,
    ) == (256, 16, 32, 64)
    assert spec.judge.enabled and spec.judge.model == "Qwen/Qwen2.5-VL-72B-Instruct"
    assert spec.judge.mode.value == "preference" and spec.judge.cache and spec.judge.gpus == 4  # judge_config.yaml
    assert (spec.training.epochs, spec.training.save_every, spec.training.eval_every) == (10, 100, 50)
    assert (
        spec.training.sync_steps,
        spec.feedback.buffer_size,
        spec.feedback.variants_per_correction,
        spec.feedback.cycle_every,
    ) == (10, 10000, 10, 100)
    w = spec.training.reward_weights
    assert (w.binary, w.judge, w.verifier) == (0.3, 0.5, 0.2) and spec.training.entropy_coef == 0.01


def test_every_unsupported_key_bad_value_and_conflict_is_named_at_once(tmp_path):
    doc = {
        "model": {"path": "m", "device_map": "cuda:0"},
        "algorithm": {"adv_estimator": "ppo"},
        "trainer": {"total_epochs": 3, "logger": ["wandb"], "semi_online_learning": {"enable": "yes"}},
        "actor_rollout_ref": {"model": {"path": "other"}, "rollout": {"n": 1}},
    }
    with pytest.raises(VerlConfigError) as e:
        spec_from_verl(doc)
    msg = str(e.value)
    for part in (
        "model.device_map: 'cuda:0'",
        "algorithm.adv_estimator: 'ppo'",
        "trainer.logger: not supported",
        "trainer.semi_online_learning.enable: 'yes'",
        "contradicts model.path",
        "actor_rollout_ref.rollout.n:",
    ):
        assert part in msg, msg
    # The judge file beside the config must agree with the config's own judge section.
    (tmp_path / "task_classifier_grpo.yaml").write_text(PLAN_TEXT)
    (tmp_path / "judge_config.yaml").write_text("judge: {verification_mode: pointwise}\n")
    with pytest.raises(VerlConfigError, match="judge.verification_mode: 'preference' here but 'pointwise' in"):
        read_verl_config(tmp_path / "task_classifier_grpo.yaml")


def test_semi_online_learning_off_means_on_policy():
    spec = spec_from_verl({"trainer": {"semi_online_learning": {"enable": False}}})
    assert spec.training.sync_steps == 1


def test_the_plans_yaml_verbatim_trains_through_ontask_train_with_its_verifier_file(tmp_path, tiny_vlm):
    """The plan's file as written (10 epochs, batches of 32, groups of 5, 16 answer tokens) and a
    verifier_config.yaml beside it that the training uses."""
    store = tmp_path / "store"
    write_version(LocalStore(store), "screens", list(generate(8, seed=5)), "ontask/synthetic", {})
    base = tiny_vlm()
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "task_classifier_grpo.yaml").write_text(PLAN_TEXT)
    (folder / "verifier_config.yaml").write_text("categories: [{name: broken, regex: '('}]\n")
    cmd = [
        sys.executable,
        "-m",
        "ontask.cli",
        "train",
        "--config",
        str(folder / "task_classifier_grpo.yaml"),
        "--store",
        str(store),
        "--classifier",
        "plan",
        "--dataset",
        "screens",
        "--base-model",
        str(base),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert out.returncode == 2 and "verifier_config.yaml" in out.stderr and "Traceback" not in out.stderr
    (folder / "verifier_config.yaml").unlink()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "trained" in out.stdout
    config = json.loads((store / "classifiers/plan/metrics/v1.jsonl").read_text().splitlines()[0])
    assert (config["group_size"], config["max_response_length"], config["entropy_coef"]) == (5, 16, 0.01)
    assert config["weights"] == {"binary": 0.3, "judge": 0.5, "verifier": 0.2}


def test_spec_from_verl_config_prints_a_task_classifier_the_schema_accepts():
    import yaml

    from ontask.api import TaskClassifier

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ontask.cli",
            "spec",
            "from-verl-config",
            str(PLAN),
            "--name",
            "plan",
            "--source",
            "s3://screens/team-a/",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    tc = TaskClassifier.model_validate(yaml.safe_load(out.stdout))
    assert tc.metadata["name"] == "plan" and tc.spec.data.source == "s3://screens/team-a/"
    assert tc.spec.feedback.cycle_every == 100


def test_verls_own_reward_manager_scores_an_export_as_ontask_does(tmp_path, tiny_vlm):
    verl_python = os.environ.get("ONTASK_VERL_PYTHON", "")
    assert Path(verl_python).is_file(), "verl's venv is missing: run `make verl-venv` (make test builds it)"
    store = tmp_path / "store"
    write_version(LocalStore(store), "screens", list(generate(16, seed=6)), "ontask/synthetic", {})
    tiny = tiny_vlm()
    # The plan's folder with rules of its own beside it (no distractions): the export hands them on.
    config = tmp_path / "config"
    shutil.copytree(PLAN.parent, config)
    rules = yaml.safe_load(builtin_verifier_config().text)
    rules["distractions"] = []
    (config / "verifier_config.yaml").write_text(yaml.safe_dump(rules))
    export = tmp_path / "export"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ontask.cli",
            "export",
            "verl",
            "--dataset",
            "screens",
            "--store",
            str(store),
            "--out",
            str(export),
            "--config",
            str(config / PLAN.name),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert (export / "run_task_classification.sh").stat().st_mode & 0o111
    rows = (
        pq.read_table(export / "data/train.parquet").to_pylist()
        + pq.read_table(export / "data/val.parquet").to_pylist()
    )
    assert len(rows) == 16 and all(r["images"][0]["bytes"][:4] == b"\x89PNG" for r in rows)
    # Sampled answers as a student writes them: right, wrong, and malformed.
    answers = {
        r["extra_info"]["id"]: ("on-task", "off-task", "on-task, I think", "")[i % 4] for i, r in enumerate(rows)
    }
    (tmp_path / "answers.json").write_text(json.dumps(answers))
    run = subprocess.run(
        [
            verl_python,
            str(REPO / "tests/verl/reward_manager_check.py"),
            str(export),
            str(tiny),
            str(tmp_path / "answers.json"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["manager"] == "NaiveRewardManager"
    exported_rules = export / "config" / "verifier_config.yaml"
    assert yaml.safe_load(exported_rules.read_text())["distractions"] == []

    def scores(**rules) -> dict[str, float]:
        return {
            r["extra_info"]["id"]: compute_score(
                r["data_source"],
                answers[r["extra_info"]["id"]],
                r["reward_model"]["ground_truth"],
                r["extra_info"],
                **rules,
            )["score"]
            for r in rows
        }

    expected = scores(verifier_config=str(exported_rules))
    assert expected != scores()  # the plan's rules, not the built-in ones, score the export
    assert result["scores"] == pytest.approx(expected, abs=1e-9)
    assert result["rm_scores_sum"] == pytest.approx([expected[r["extra_info"]["id"]] for r in rows], abs=1e-6)
    assert len({round(s, 6) for s in expected.values()}) > 3  # scores that tell answers apart
