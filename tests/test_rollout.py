"""Rollouts over a shared prefix on the tiny Qwen2.5-VL: one prefill per group, and log-probs
that a teacher-forced recomputation reproduces exactly."""

import pytest
import torch

from ontask.data.generate import example_at
from ontask.models.loading import load_vlm
from ontask.prompt import prompt_text
from ontask.trainers.grpo import entropy
from ontask.trainers.rollout import completion_logprobs, sample_group
from ontask.verify import builtin_verifier_config


@pytest.fixture(scope="module")
def tiny(tiny_vlm):
    model, processor = load_vlm(str(tiny_vlm(5)))
    ex = example_at(0, 2)
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "image"},
                {"type": "text", "text": prompt_text(ex.task, ex.windows, builtin_verifier_config())},
            ],
        }
    ]
    text = processor.apply_chat_template(messages, add_generation_prompt=True)
    inputs = dict(processor(text=[text], images=[ex.image], return_tensors="pt"))
    suppress = [model.config.image_token_id, model.config.video_token_id, model.config.vision_start_token_id]
    return model, inputs, suppress


class CountingVisionForTests(torch.nn.Module):
    """Wraps the vision tower to count how often images are encoded (tests only)."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.calls = inner, 0

    def forward(self, *args, **kwargs):
        self.calls += 1
        return self.inner(*args, **kwargs)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.inner, name)


def test_group_is_sampled_from_one_prefill_and_logprobs_match(tiny):
    model, inputs, suppress = tiny
    vision = model.model.visual
    counter = CountingVisionForTests(vision)
    model.model.visual = counter
    try:
        gen = torch.Generator().manual_seed(0)
        completions, logp_old, mask = sample_group(
            model,
            inputs,
            5,
            16,
            model.generation_config.eos_token_id,
            model.generation_config.pad_token_id,
            suppress_token_ids=suppress,
            generator=gen,
        )
        assert counter.calls == 1  # the image was encoded once for all 5 samples
    finally:
        model.model.visual = vision
    assert completions.shape[0] == 5 and completions.shape[1] <= 16
    assert not any(int(t) in suppress for t in completions[mask.bool()])
    logp, logits = completion_logprobs(model, inputs, completions, mask, with_logits=True, suppress_token_ids=suppress)
    assert torch.allclose(logp, logp_old, atol=1e-4)
    assert torch.isfinite(entropy(logits, mask))


def test_answers_stop_at_the_end_of_answer_token(tiny):
    model, inputs, suppress = tiny
    eos = model.generation_config.eos_token_id
    for seed in range(3):
        completions, _, mask = sample_group(
            model,
            inputs,
            4,
            12,
            eos,
            model.generation_config.pad_token_id,
            suppress_token_ids=suppress,
            generator=torch.Generator().manual_seed(seed),
        )
        for row, m in zip(completions, mask):
            real = row[m.bool()].tolist()
            assert eos not in real[:-1]  # nothing real after the end of the answer


def test_a_padded_batch_of_prompts_gives_each_answer_the_log_probs_it_gets_alone(tiny_vlm):
    """The warm start's batched forward pass (screenshots of different sizes, answers of
    different lengths, left padding) equals one prompt at a time."""
    from ontask.models.answer import AnswerTokens, encode
    from ontask.trainers.rollout import answer_logprobs

    model, processor = load_vlm(str(tiny_vlm(6)))
    model.eval()
    answers = AnswerTokens(processor, model)
    examples = [example_at(3, i) for i in range(5)]
    assert len({ex.image.size for ex in examples}) > 1
    rows = [encode(processor, ex.image, ex.task, ex.windows, builtin_verifier_config()) for ex in examples]
    targets = [answers.on_ids, answers.off_ids, answers.on_ids[:2], answers.off_ids, answers.on_ids]
    with torch.no_grad():
        logp, mask = answer_logprobs(model, rows, targets, answers.pad)
        assert mask.sum(1).tolist() == [len(t) for t in targets]
        for i, (row, target) in enumerate(zip(rows, targets)):
            ids = torch.tensor([target])
            alone, _ = completion_logprobs(model, row, ids, torch.ones_like(ids))
            assert torch.allclose(logp[i][mask[i].bool()], alone[0], atol=1e-5)
