"""What the trainer optimises is what serving reads: the KL anchor is the policy GRPO starts
from (and survives a resume), released Qwen2.5-VL configs with several end tokens work, and the
student is trained at the pixel budget it is served at."""

import json

import pytest
import torch

from ontask.data.generate import example_at
from ontask.models.loading import load_vlm
from ontask.rewards.components import Weights
from ontask.trainers.config import TrainConfig
from ontask.trainers.rows import encode_examples
from ontask.trainers.trainer import Trainer
from ontask.verify import builtin_verifier_config


@pytest.fixture(scope="module")
def tiny(tiny_vlm):
    return tiny_vlm(2)


def _trainer(model, processor, **cfg) -> Trainer:
    rows = encode_examples(
        processor, (example_at(31, i) for i in range(8)), builtin_verifier_config(), verifier_scores=True
    )
    config = dict(
        group_size=3, prompts_per_step=2, max_response_length=4, eval_every=0, learning_rate=3e-3,
        weights=Weights(0.8, 0.0, 0.2), sync_steps=2,
    )  # fmt: skip
    config.update(cfg)
    return Trainer(model, processor, rows[:6], rows[6:], TrainConfig(**config))


def test_the_kl_reference_is_the_policy_after_the_warm_start_and_a_resume_keeps_it(tiny):
    torch.manual_seed(0)
    model, processor = load_vlm(str(tiny))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = _trainer(model, processor, warm_start_steps=20, grpo_steps=1, kl_coef=0.1)
    trainer.train(stop_at=20)
    assert trainer.reference is None  # no GRPO step yet: no anchor taken
    trainer.train(stop_at=21)
    ref = trainer.reference.state_dict()
    moved = [k for k in before if not torch.equal(before[k], ref[k])]
    assert moved, "the reference must hold the warm-started weights, not the ones before them"
    state = trainer.state_dict()
    fresh_model, _ = load_vlm(str(tiny))
    resumed = _trainer(fresh_model, processor, warm_start_steps=20, grpo_steps=1, kl_coef=0.1)
    resumed.load_state_dict(state)
    assert all(torch.equal(resumed.reference.state_dict()[k], ref[k]) for k in ref)


def test_a_released_config_with_a_list_of_end_tokens_samples_and_trains(tiny, tmp_path):
    model, processor = load_vlm(str(tiny))
    eos = model.generation_config.eos_token_id
    other = processor.tokenizer.convert_tokens_to_ids("<|endoftext|>")
    model.generation_config.eos_token_id = [eos, other]  # as Qwen2.5-VL-3B-Instruct's file has it
    model.generation_config.pad_token_id = other
    trainer = _trainer(model, processor, warm_start_steps=30, grpo_steps=3)
    assert trainer.answers.eos == eos and trainer.answers.stop == [eos, other]
    history = trainer.train()
    grpo = [m for m in history if m["phase"] == "grpo"]
    assert len(grpo) == 3 and all(m["malformed"] < 1.0 for m in grpo)


def test_the_student_is_trained_at_the_pixel_budget_it_is_served_at(tiny, tmp_path):
    from ontask.api import TaskClassifierSpec
    from ontask.data import generate, write_version
    from ontask.store import LocalStore
    from ontask.trainers.run import run_training

    store = LocalStore(tmp_path / "store")
    write_version(store, "screens", list(generate(8, seed=3)), "ontask/synthetic", {})
    spec = TaskClassifierSpec.model_validate(
        {
            "data": {"source": "synthetic", "trainBatchSize": 4, "maxResponseLength": 4},
            "judge": {"enabled": False},
            "training": {"epochs": 1, "groupSize": 2, "rewardWeights": {"binary": 1.0, "judge": 0.0, "verifier": 0.0}},
            "serving": {"modelMaxPixels": 12544},
        }
    )
    summary = run_training(spec, store, "px", "screens", str(tiny), warm_start_steps=1)
    folder = tmp_path / "store" / "classifiers" / "px" / "models" / summary["version"]
    saved = json.loads((folder / "processor_config.json").read_text())
    assert saved["image_processor"]["size"]["longest_edge"] == 12544
    _, processor = load_vlm(str(folder))
    assert processor.image_processor.size.longest_edge == 12544
