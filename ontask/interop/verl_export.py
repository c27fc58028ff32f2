"""`ontask export verl`: a dataset version as verl trains on it.

The folder holds what the plan's example folder holds, made from a dataset version, a spec and
the verifier's rules:
- ``data/train.parquet`` and ``data/val.parquet``: verl's RL layout (``data_source``, ``prompt``
  with an ``<image>`` placeholder, its task words read with the rules, ``images`` as
  ``[{"bytes": ...}]``, ``ability``, ``reward_model``, ``extra_info``); each row's ``extra_info``
  carries what ontask's reward needs (task, window evidence, the spec's reward weights), since
  verl hands reward functions no images;
- ``config/verifier_config.yaml``: the rules, as the plan's folder has them;
- ``config/ontask_grpo.yaml``: a Hydra config over verl's ``ppo_trainer`` with GRPO, the spec's
  lengths, batch sizes and optimiser settings, and ``reward.custom_reward_function`` pointing at
  ``ontask/rewards/verl.py:compute_score`` with the rules file in its ``reward_kwargs``;
- ``run_task_classification.sh``: the launch line (``python3 -m verl.trainer.main_ppo``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from ontask.api import AUTO_LORA_MIN_PARAMS, TaskClassifierSpec
from ontask.data.dataset import read_version, row_windows
from ontask.interop.verl_config import VERIFIER_FILE
from ontask.prompt import verl_prompt
from ontask.store import Store
from ontask.verify import VerifierConfig

CONFIG_NAME = "ontask_grpo"
LAUNCH_SCRIPT = "run_task_classification.sh"


@dataclass
class Exported:
    folder: Path
    rows: dict[str, int]  # split -> rows written
    version: str


def reward_function_path() -> Path:
    """ontask's verl reward entry point, where this installation has it."""
    import ontask.rewards.verl

    return Path(ontask.rewards.verl.__file__).resolve()


def _lora_rank(spec: TaskClassifierSpec) -> int:
    """training.loraRank, or where it is unset the rank ontask's trainer picks for the student: by
    its parameter count when the model is a local folder (counted on torch's meta device), else
    as for a student too large to fine-tune whole (verl trains real checkpoints, the 3B among them)."""
    t = spec.training
    folder = Path(spec.student.model.removeprefix("file://"))
    if t.lora_rank is not None or not (folder / "config.json").is_file():
        return t.lora_rank_for(AUTO_LORA_MIN_PARAMS)
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText

    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(AutoConfig.from_pretrained(folder))
    return t.lora_rank_for(sum(p.numel() for p in model.parameters()))


def verl_config(spec: TaskClassifierSpec, data_dir: Path, verifier_file: Path) -> dict[str, Any]:
    """verl's settings for the spec (the keys of verl 0.9's ppo_trainer), with the verifier's rules
    file handed to the reward. What verl has no counterpart for stays with ontask: the judge runs
    before (its labels are in the data), the feedback loop and serving are the operator's."""
    t, d = spec.training, spec.data
    return {
        "hydra": {"searchpath": ["pkg://verl.trainer.config"]},
        "defaults": ["ppo_trainer", "_self_"],
        "algorithm": {"adv_estimator": "grpo"},
        "data": {
            "train_files": str(data_dir / "train.parquet"),
            "val_files": str(data_dir / "val.parquet"),
            "prompt_key": "prompt",
            "image_key": "images",
            "max_prompt_length": d.max_prompt_length,
            "max_response_length": d.max_response_length,
            "train_batch_size": d.train_batch_size,
            "val_batch_size": d.val_batch_size,
        },
        "actor_rollout_ref": {
            "model": {"path": spec.student.model, "lora_rank": _lora_rank(spec)},
            "actor": {
                "optim": {"lr": t.learning_rate},
                "entropy_coeff": t.entropy_coef,
                "use_kl_loss": t.kl_coef > 0,
                "kl_loss_coef": t.kl_coef,
                # ontask takes one optimizer step per batch of prompts.
                "ppo_mini_batch_size": d.train_batch_size,
            },
            "rollout": {"name": "vllm", "n": t.group_size},
        },
        "reward": {
            "custom_reward_function": {
                "path": str(reward_function_path()),
                "name": "compute_score",
                # verl passes these to every call of compute_score.
                "reward_kwargs": {"verifier_config": str(verifier_file)},
            }
        },
        "trainer": {
            "total_epochs": t.epochs,
            "save_freq": t.save_every,
            "test_freq": t.eval_every,
            "n_gpus_per_node": max(1, spec.student.gpus),
            "nnodes": 1,
            "project_name": "ontask",
            "experiment_name": "task_classifier_grpo",
        },
    }


def _verl_rows(
    rows: list[dict[str, Any]], images: dict[str, bytes], weights: dict[str, float], config: VerifierConfig
) -> list[dict]:
    out = []
    for row in rows:
        extra = {**row["extra_info"], "reward_weights": weights}
        prompt = verl_prompt(extra["task"], row_windows(row), config)  # the task words of the exported rules
        image = {"bytes": images[row["images"][0]["path"]]}
        out.append({**row, "prompt": prompt, "images": [image], "extra_info": extra})
    return out


def export_verl(
    store: Store,
    dataset: str,
    out: Path,
    spec: TaskClassifierSpec,
    verifier_config: VerifierConfig,
    version: Optional[str] = None,
) -> Exported:
    """Write the folder described in the module docstring; returns the rows per split."""
    ds = read_version(store, dataset, version)
    out = Path(out).resolve()
    data_dir = out / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    (out / "config").mkdir(exist_ok=True)
    verifier_file = out / "config" / VERIFIER_FILE
    verifier_file.write_text(verifier_config.text)
    weights = spec.training.reward_weights.model_dump()
    counts = {}
    for split in ("train", "val"):
        rows = ds.split(split)
        images = {r["images"][0]["path"]: store.get_bytes(f"{ds.prefix}/{r['images'][0]['path']}") for r in rows}
        table = pa.Table.from_pylist(_verl_rows(rows, images, weights, verifier_config))
        buf = io.BytesIO()
        pq.write_table(table, buf)
        (data_dir / f"{split}.parquet").write_bytes(buf.getvalue())
        counts[split] = len(rows)
    if not counts["train"]:
        raise ValueError(f"dataset {dataset} {ds.version} has no training rows to export")
    (out / "config" / f"{CONFIG_NAME}.yaml").write_text(
        "# verl GRPO over ontask's exported dataset, made by `ontask export verl`.\n"
        + yaml.safe_dump(verl_config(spec, data_dir, verifier_file), sort_keys=False)
    )
    script = out / LAUNCH_SCRIPT
    script.write_text(
        "#!/usr/bin/env bash\n"
        "# GRPO with verl on the exported dataset and ontask's reward (binary + judge + verifier).\n"
        "# Needs verl with a rollout engine (vllm) on GPUs; extra Hydra overrides pass through.\n"
        "set -euo pipefail\n"
        'HERE="$(cd "$(dirname "$0")" && pwd)"\n'
        f'exec python3 -m verl.trainer.main_ppo --config-path "$HERE/config" --config-name {CONFIG_NAME} "$@"\n'
    )
    script.chmod(0o755)
    return Exported(out, counts, ds.version)
