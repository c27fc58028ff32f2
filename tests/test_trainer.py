"""The GRPO loop on the tiny Qwen2.5-VL: semi-online syncs happen exactly every syncSteps,
metrics are complete, the warm start is reported as such."""

import json

import pytest
import torch

from ontask.data.generate import example_at
from ontask.models.loading import load_vlm
from ontask.rewards.components import Weights
from ontask.trainers.config import TrainConfig
from ontask.trainers.reporting import jsonl_logger
from ontask.trainers.rows import encode_examples
from ontask.trainers.trainer import Trainer
from ontask.verify import builtin_verifier_config


@pytest.fixture(scope="module")
def setup(tiny_vlm):
    torch.manual_seed(0)
    model, processor = load_vlm(str(tiny_vlm(1)))
    rows = encode_examples(
        processor, (example_at(50, i) for i in range(10)), builtin_verifier_config(), verifier_scores=True
    )
    return model, processor, rows


def test_rollout_policy_resyncs_exactly_every_sync_steps(setup, tmp_path):
    model, processor, rows = setup
    cfg = TrainConfig(
        group_size=3,
        prompts_per_step=2,
        max_response_length=4,
        warm_start_steps=30,
        grpo_steps=12,
        sync_steps=5,
        eval_every=0,
        # The warm start must teach the exact answer format (the reward pays nothing else).
        learning_rate=3e-3,
        weights=Weights(0.8, 0.0, 0.2),
    )
    metrics_path = tmp_path / "metrics.jsonl"
    trainer = Trainer(model, processor, rows[:8], rows[8:], cfg, log=jsonl_logger(metrics_path))
    # After each GRPO step: did the rollout snapshot differ from the trained weights?
    lagged: list[bool] = []
    step = trainer.grpo_step

    def grpo_step_then_compare():
        m = step()
        lagged.append(
            any(not torch.equal(a, b) for a, b in zip(trainer.rollout_model.parameters(), model.parameters()))
        )
        return m

    trainer.grpo_step = grpo_step_then_compare
    history = trainer.train()
    assert trainer.step == 42
    assert trainer.rollout_synced_at == [30, 35, 40]  # first GRPO step, then every 5 optimizer steps
    grpo = [m for m in history if m["phase"] == "grpo"]
    assert [m["rollout_synced_at"] for m in grpo] == [30] * 5 + [35] * 5 + [40] * 2
    # The warm start taught the answer format, so groups carry signal and weights move; between
    # syncs the rollout snapshot lags the trained weights (a step whose groups all agree moves
    # nothing, so not after every step).
    assert any(m["groups_with_signal"] > 0 for m in grpo)
    assert any(lagged), lagged
    lines = [json.loads(ln) for ln in metrics_path.read_text().splitlines()]
    assert [ln["phase"] for ln in lines[:3]] == ["start", "warm-start", "warm-start"]
    assert sum(ln["phase"] == "warm-start" for ln in lines) == 30
    assert lines[-1]["phase"] == "end" and "val_accuracy" in lines[-1]
    for m in grpo:
        assert {
            "reward",
            "reward_binary",
            "reward_verifier",
            "groups_with_signal",
            "malformed",
            "samples_per_s",
        } <= set(m)
        if m["groups_with_signal"] > 0:
            assert {"entropy", "clip_fraction", "policy_loss"} <= set(m)


def test_easy_first_curriculum_raises_the_hard_share_the_metrics_report(setup):
    from dataclasses import replace

    model, processor, rows = setup
    # Half the rows are easy (the rules give their label with confidence), half hard (rules unsure).
    rows = [
        replace(r, verifier_p_on=0.5 if i % 2 else (0.95 if r.label == "on-task" else 0.05)) for i, r in enumerate(rows)
    ]
    cfg = TrainConfig(
        group_size=2,
        prompts_per_step=4,
        max_response_length=3,
        grpo_steps=6,
        eval_every=0,
        learning_rate=1e-4,
        weights=Weights(1.0, 0.0, 0.0),
        curriculum="easy-first",
    )
    history = Trainer(model, processor, rows[:8], rows[8:], cfg).train()
    shares = [m["hard_share"] for m in history if m["phase"] == "grpo"]
    # 6 steps: progress 0, .2, .4, .6, .8, 1 -> target share 0, .2, .4, .5, .5, .5 of 4 prompts
    assert shares == [0.0, 0.25, 0.5, 0.5, 0.5, 0.5]


def test_rows_over_max_prompt_length_are_skipped_and_counted(tmp_path, setup):
    """spec.data.maxPromptLength counts the prompt's text tokens (image tokens excluded)."""
    import dataclasses

    from ontask.data import write_version
    from ontask.store import LocalStore
    from ontask.trainers.rows import load_rows

    _, processor, _ = setup
    store = LocalStore(tmp_path / "store")
    short, long = example_at(3, 0), example_at(3, 1)
    long = dataclasses.replace(long, id="long", task=" ".join(["update the quarterly sales report"] * 60))
    write_version(store, "lengths", [dataclasses.replace(short, id="short"), long], "test", {"command": "test"})
    kept = load_rows(store, "lengths", None, processor, builtin_verifier_config(), max_prompt_length=256)
    assert [r.id for r in kept.train + kept.val] == ["short"] and kept.skipped["prompt too long"] == 1
    everything = load_rows(store, "lengths", None, processor, builtin_verifier_config())
    assert len(everything.train + everything.val) == 2


def test_held_out_accuracy_is_the_same_in_batches_of_val_batch_size(setup):
    """spec.data.valBatchSize batches the held-out pass; left padding changes no answer."""
    from ontask.models.answer import AnswerTokens, p_on_task
    from ontask.trainers.trainer import accuracy

    model, processor, rows = setup
    answers = AnswerTokens(processor, model)
    one_by_one = sum((p_on_task(model, r.inputs, answers) >= 0.5) == (r.label == "on-task") for r in rows) / len(rows)
    assert accuracy(model, rows, answers, 1) == one_by_one
    assert accuracy(model, rows, answers, 4) == one_by_one
    assert accuracy(model, rows, answers, 64) == one_by_one


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (runs on the device machine)")
def test_on_a_gpu_the_trainer_keeps_fp32_weights_computes_in_bf16_and_learns(tiny_vlm):
    """The placement a GPU pod gets: weights (the optimizer's master copy) fp32 on the device,
    the rollout snapshot bf16 there, every batch moved to it, and the warm start still teaches."""
    from ontask.trainers.run import training_device

    device = training_device()
    model, processor = load_vlm(str(tiny_vlm(1)), device=str(device))
    rows = encode_examples(
        processor, (example_at(50, i) for i in range(10)), builtin_verifier_config(), verifier_scores=True
    )
    cfg = TrainConfig(
        group_size=3,
        prompts_per_step=4,
        max_response_length=4,
        warm_start_steps=30,
        grpo_steps=4,
        sync_steps=2,
        eval_every=0,
        learning_rate=1e-3,
        weights=Weights(0.8, 0.0, 0.2),
    )
    trainer = Trainer(model, processor, rows[:8], rows[8:], cfg)
    history = trainer.train()
    assert {p.device.type for p in model.parameters()} == {"cuda"}
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert {p.dtype for p in trainer.rollout_model.parameters()} == {torch.bfloat16}
    warm = [m["sft_loss"] for m in history if m["phase"] == "warm-start"]
    assert all(map(torch.isfinite, torch.tensor(warm))) and warm[-1] < warm[0]
    assert [m["phase"] for m in history].count("grpo") == 4
