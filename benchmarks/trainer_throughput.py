"""One trainer's throughput, run in its own process so peak memory is its own:
`python -m benchmarks.trainer_throughput ontask|trl|trl-no-gc STEPS MODEL_DIR`. Prints one JSON
line: samples/s, peak RSS, the prompt and image tokens one prompt holds as the trainer feeds it
to the model, and where a step's time goes (rollout: sampling the group and scoring it; update:
log-probabilities, loss, backward and the optimizer)."""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from typing import Callable

import torch

PROMPTS_PER_STEP = 2
GROUP = 5
ANSWER_TOKENS = 16


def varied_reward(text: str) -> float:
    """A reward that differs between samples, so every group carries signal and both trainers
    do the full work (a random tiny model's answers would all score 0 on correctness)."""
    return len(set(text)) / (len(text) + 1.0)


def _rss_mb() -> float:
    """Peak RSS of this process image. Not ru_maxrss: Linux carries that across exec from the
    parent, so a child of a big process would report the parent's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(obj, name: str, total: list[float]) -> None:
    """Wrap obj.name so that the seconds spent in it add up in total[0]."""
    inner: Callable = getattr(obj, name)

    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            total[0] += time.perf_counter() - t0

    setattr(obj, name, wrapper)


def _tokens(input_ids: torch.Tensor, image_token_id: int) -> dict[str, int]:
    ids = input_ids.reshape(-1)
    return {"prompt_tokens": int(ids.numel()), "image_tokens": int((ids == image_token_id).sum())}


def _data(n: int):
    from ontask.data.generate import example_at

    return [example_at(77, i) for i in range(n)]


def run_ontask(steps: int, model_dir: str) -> dict:
    from ontask.models.loading import load_vlm
    from ontask.rewards.components import Weights
    from ontask.trainers.config import TrainConfig
    from ontask.trainers.rows import encode_examples
    from ontask.trainers.trainer import Trainer
    from ontask.verify import builtin_verifier_config

    model, processor = load_vlm(model_dir)
    rows = encode_examples(processor, _data(16), builtin_verifier_config())
    cfg = TrainConfig(
        group_size=GROUP,
        prompts_per_step=PROMPTS_PER_STEP,
        max_response_length=ANSWER_TOKENS,
        grpo_steps=steps,
        eval_every=0,
        learning_rate=1e-4,
        weights=Weights(1.0, 0.0, 0.0),
        sync_steps=1,
        temperature=1.0,
    )
    trainer = Trainer(model, processor, rows, rows[:1], cfg, reward_fn=lambda text, row: varied_reward(text))
    trainer.grpo_step()  # warm-up, not timed
    rollout, update = [0.0], [0.0]
    _timed(trainer, "_rollouts", rollout)
    _timed(trainer, "_update", update)
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.grpo_step()
    elapsed = time.perf_counter() - t0
    return {
        "trainer": "ontask",
        "samples_per_s": steps * PROMPTS_PER_STEP * GROUP / elapsed,
        "peak_rss_mb": _rss_mb(),
        "steps": steps,
        **_tokens(rows[0].inputs["input_ids"], model.config.image_token_id),
        "rollout_s": rollout[0] / steps,
        "update_s": update[0] / steps,
        "step_s": elapsed / steps,
    }


def run_trl(steps: int, model_dir: str) -> dict:
    from datasets import Dataset
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration
    from trl import GRPOConfig, GRPOTrainer

    from ontask.prompt import prompt_text
    from ontask.verify import builtin_verifier_config

    processor = AutoProcessor.from_pretrained(model_dir)
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32)
    examples = _data(16)
    rules = builtin_verifier_config()
    ds = Dataset.from_list(
        [
            {
                "prompt": [
                    {
                        "role": "user",
                        "content": [{"type": "image"}, {"type": "text", "text": prompt_text(e.task, e.windows, rules)}],
                    }
                ],
                "image": e.image,
                "label": e.label,
            }
            for e in examples
        ]
    )

    def reward(prompts, completions, **kwargs):
        return [varied_reward(c if isinstance(c, str) else c[0]["content"]) for c in completions]

    times: list[float] = []
    seen: dict[str, int] = {}
    processor_call = type(processor).__call__

    def recording_call(self, *args, **kwargs):
        out = processor_call(self, *args, **kwargs)
        if kwargs.get("images") is not None and "input_ids" in out and not seen:
            first = torch.as_tensor(out["input_ids"][0])
            mask = out.get("attention_mask")
            if mask is not None:  # a left-padded batch: the first prompt's own tokens
                first = first[torch.as_tensor(mask[0]).bool()]
            seen.update(_tokens(first, model.config.image_token_id))
        return out

    type(processor).__call__ = recording_call

    from transformers import TrainerCallback

    class Clock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            times.append(time.perf_counter())

        def on_train_end(self, args, state, control, **kw):
            times.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as out:
        args = GRPOConfig(
            output_dir=out,
            use_cpu=True,
            num_generations=GROUP,
            max_completion_length=ANSWER_TOKENS,
            per_device_train_batch_size=PROMPTS_PER_STEP * GROUP,
            gradient_accumulation_steps=1,
            max_steps=steps + 1,
            learning_rate=1e-4,
            beta=0.0,
            report_to=[],
            logging_steps=1,
            save_strategy="no",
            temperature=1.0,
            seed=0,
            gradient_checkpointing=GRADIENT_CHECKPOINTING,
        )
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=reward,
            args=args,
            train_dataset=ds,
            processing_class=processor,
            callbacks=[Clock()],
        )
        rollout, total = [0.0], [0.0]
        _timed(trainer, "_generate_and_score_completions", rollout)
        _timed(trainer, "training_step", total)
        warmup = [0.0, 0.0]

        class Split(TrainerCallback):
            def on_step_end(self, args, state, control, **kw):
                if state.global_step == 1:  # the warm-up step's share is left out, as its time is
                    warmup[:] = [rollout[0], total[0]]

        trainer.add_callback(Split())
        trainer.train()
    elapsed = times[-1] - times[1]  # the first step is a warm-up, as for ontask
    rollout_s = (rollout[0] - warmup[0]) / steps
    return {
        "trainer": "TRL" + ("" if GRADIENT_CHECKPOINTING else " (no gradient checkpointing)"),
        "samples_per_s": steps * PROMPTS_PER_STEP * GROUP / elapsed,
        "peak_rss_mb": _rss_mb(),
        "steps": steps,
        **seen,
        "rollout_s": rollout_s,
        "update_s": (total[0] - warmup[1]) / steps - rollout_s,
        "step_s": elapsed / steps,
    }


GRADIENT_CHECKPOINTING = True  # TRL's default; `trl-no-gc` turns it off

if __name__ == "__main__":
    torch.set_num_threads(2)
    torch.manual_seed(0)
    which, steps, model_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if which == "trl-no-gc":
        GRADIENT_CHECKPOINTING, which = False, "trl"
    result = (run_ontask if which == "ontask" else run_trl)(steps, model_dir)
    print(json.dumps(result))
