"""Training rows, encoded once: the processor's output beside the label and what the hybrid
reward reads (the judge's probability, the verifier's score, a person's correction), from a
dataset version or from examples in memory."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterable, Optional

import torch

from ontask.data.dataset import DatasetError, read_version, row_windows
from ontask.images import ImageRejected
from ontask.labels import LABELS
from ontask.models.answer import encode
from ontask.rewards.components import Reward, Weights, hybrid_reward
from ontask.store import Store, StoreError
from ontask.verify import Verifier, VerifierConfig

log = logging.getLogger("ontask.train")


@dataclass
class Encoded:
    """One training row, preprocessed once (the processor's output is reused every step)."""

    id: str
    inputs: dict[str, torch.Tensor]
    label: str
    task: str
    windows: list[dict[str, Any]]
    verifier_p_on: Optional[float] = None
    judge_p_on: Optional[float] = None  # the judge's P(on-task), on rows it labelled
    hard: bool = False  # the dataset's hard-case flag (a curriculum's fallback without window evidence)
    correction: Optional[str] = None  # a person's label: the reward is then the plain label
    # The supervised target's P(on-task) where it is soft (a cycle's replayed rows, anchored to the
    # serving version's own answers); None: the label.
    target_p_on: Optional[float] = None
    replayed: bool = False  # a cycle's row of earlier training data


def row_reward(text: str, row: Encoded, weights: Weights) -> Reward:
    """The hybrid reward of one sampled answer to a training row: the judge's probability where
    it labelled the row, the verifier's score, and a person's correction above all (the same
    reward ontask.rewards.verl.compute_score gives an exported row)."""
    return hybrid_reward(text, row.label, weights, row.judge_p_on, row.verifier_p_on, row.correction)


def encode_examples(
    processor, examples: Iterable, config: VerifierConfig, verifier_scores: bool = False
) -> list[Encoded]:
    """Encode dataset examples once, their prompts' task words read with `config`; with
    `verifier_scores`, the verifier's score under the same rules rides along for the hybrid reward."""
    verifier = Verifier(config) if verifier_scores else None
    out = []
    for ex in examples:
        v = verifier.verify(ex.task, windows=ex.windows).score if verifier is not None else None
        out.append(
            Encoded(
                ex.id,
                encode(processor, ex.image, ex.task, ex.windows, config),
                ex.label,
                ex.task,
                ex.windows,
                v,
                judge_p_on=ex.judge_p_on,
                hard=ex.hard,
                correction=ex.correction,
            )
        )
    return out


@dataclass
class LoadedRows:
    train: list[Encoded]
    val: list[Encoded]
    skipped: dict[str, int]


def load_rows(
    store: Store,
    dataset: str,
    version: Optional[str],
    processor,
    config: VerifierConfig,
    max_prompt_length: Optional[int] = None,
    verifier_scores: bool = False,
) -> LoadedRows:
    """Encode a dataset version, its prompts' task words read with `config` (with
    `verifier_scores`, each row also carries the verifier's score under those rules); rows
    without a usable image or label, or whose prompt has more than max_prompt_length text tokens
    (image tokens excluded; spec.data.maxPromptLength, as verl filters overlong prompts), are
    skipped and counted."""
    verifier = Verifier(config) if verifier_scores else None
    ds = read_version(store, dataset, version)
    train, val, skipped = [], [], {"missing image": 0, "bad label": 0, "prompt too long": 0}
    for row in ds.rows:
        label = row["reward_model"]["ground_truth"]
        if label not in LABELS:
            skipped["bad label"] += 1
            log.warning("row %s skipped: label %r is not on-task or off-task", row["extra_info"]["id"], label)
            continue
        try:
            image = ds.image(row)
        except (StoreError, ImageRejected, DatasetError) as e:
            skipped["missing image"] += 1
            log.warning("row %s skipped: %s", row["extra_info"]["id"], e)
            continue
        task, windows = row["extra_info"]["task"], row_windows(row)
        v = verifier.verify(task, windows=windows).score if verifier is not None else None
        inputs = encode(processor, image, task, windows, config)
        if max_prompt_length is not None:
            ids = inputs["input_ids"]
            text_tokens = int(ids.numel() - (ids == processor.image_token_id).sum())
            if text_tokens > max_prompt_length:
                skipped["prompt too long"] += 1
                log.warning(
                    "row %s skipped: %d prompt tokens, over data.maxPromptLength %d",
                    row["extra_info"]["id"],
                    text_tokens,
                    max_prompt_length,
                )
                continue
        enc = Encoded(
            row["extra_info"]["id"],
            inputs,
            label,
            task,
            windows,
            v,
            judge_p_on=row["extra_info"].get("judge_p_on_task"),
            hard=bool(row["extra_info"].get("hard")),
            correction=row["extra_info"].get("correction") or None,
            replayed=row["extra_info"].get("reason") == "replay",
        )
        split = row["extra_info"]["split"]
        if split in ("train", "val"):  # a cycle's held-out corrections are the gate's, never trained on
            (val if split == "val" else train).append(enc)
    if not train:
        raise ValueError(f"dataset {dataset} {ds.version} has no usable training rows (skipped: {skipped})")
    return LoadedRows(train, val, skipped)
