"""One trainer's throughput, run in its own process so peak memory is its own:
`python -m benchmarks.trainer_throughput ontask|trl|trl-no-gc STEPS MODEL_DIR`. Prints one JSON
line: samples/s, peak RSS, the prompt and image tokens one prompt holds as the trainer feeds it
to the model, how many screenshots a timed step decodes and encodes, and where a step's time
goes (rollout: preparing the step's prompts, sampling the group and scoring it; update:
log-probabilities, loss, backward and the optimizer).

Both sides hold the same PNG bytes of every screenshot, as a dataset stores them, and decode
and encode them (with their prompts) inside every timed step: TRL's data loader and processor
do, and ontask's side does it too here, though `ontask train` encodes its rows once per run."""

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


def _pngs(examples) -> dict[str, bytes]:
    """Each screenshot as a dataset stores it: both trainers decode these same bytes."""
    from ontask.images import encode_png

    return {e.id: encode_png(e.image) for e in examples}


def run_ontask(steps: int, model_dir: str) -> dict:
    from ontask.images import decode_image
    from ontask.models.answer import encode
    from ontask.models.loading import load_vlm
    from ontask.rewards.components import Weights
    from ontask.trainers.config import TrainConfig
    from ontask.trainers.rows import Encoded
    from ontask.trainers.trainer import Trainer
    from ontask.verify import builtin_verifier_config

    model, processor = load_vlm(model_dir)
    examples, rules = _data(16), builtin_verifier_config()
    pngs = _pngs(examples)
    rows = [Encoded(e.id, {}, e.label, e.task, e.windows) for e in examples]
    encoded, seen = [0], {}

    class EncodingInStep(Trainer):
        """ontask's trainer, its step's prompts decoded and encoded inside the step (as TRL's are)."""

        def _rollouts(self, batch):
            for row in batch:
                row.inputs = encode(processor, decode_image(pngs[row.id]), row.task, row.windows, rules)
                encoded[0] += 1
                seen.update(seen or _tokens(row.inputs["input_ids"], model.config.image_token_id))
            return super()._rollouts(batch)

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
    trainer = EncodingInStep(model, processor, rows, rows[:1], cfg, reward_fn=lambda text, row: varied_reward(text))
    trainer.grpo_step()  # warm-up, not timed
    rollout, update = [0.0], [0.0]
    _timed(trainer, "_rollouts", rollout)
    _timed(trainer, "_update", update)
    warm_encoded = encoded[0]
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.grpo_step()
    elapsed = time.perf_counter() - t0
    return {
        "trainer": "ontask",
        "samples_per_s": steps * PROMPTS_PER_STEP * GROUP / elapsed,
        "peak_rss_mb": _rss_mb(),
        "steps": steps,
        **seen,
        "images_per_step": (encoded[0] - warm_encoded) / steps,
        "rollout_s": rollout[0] / steps,
        "update_s": update[0] / steps,
        "step_s": elapsed / steps,
    }


def run_trl(steps: int, model_dir: str) -> dict:
    from datasets import Dataset, Image
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration
    from trl import GRPOConfig, GRPOTrainer

    from ontask.prompt import prompt_text
    from ontask.verify import builtin_verifier_config

    processor = AutoProcessor.from_pretrained(model_dir)
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32)
    examples = _data(16)
    pngs = _pngs(examples)
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
                "image": {"bytes": pngs[e.id], "path": None},
                "label": e.label,
            }
            for e in examples
        ]
    ).cast_column("image", Image())  # PNG bytes, decoded by the data loader at every step

    def reward(prompts, completions, **kwargs):
        return [varied_reward(c if isinstance(c, str) else c[0]["content"]) for c in completions]

    times: list[float] = []
    seen: dict[str, int] = {}
    encoded = [0]
    processor_call = type(processor).__call__

    def recording_call(self, *args, **kwargs):
        out = processor_call(self, *args, **kwargs)
        if "image_grid_thw" in out:
            encoded[0] += len(out["image_grid_thw"])
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
        """Starts after the warm-up step, so the next step's batch, which the data loader fetches
        (and decodes) before that step begins, is inside the clock as every later one's is."""

        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 1:
                times.append(time.perf_counter())
                warmup[:] = [rollout[0], total[0], encoded[0]]

        def on_train_end(self, args, state, control, **kw):
            times.append(time.perf_counter())

    rollout, total, warmup = [0.0], [0.0], [0.0, 0.0, 0]

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
        _timed(trainer, "_generate_and_score_completions", rollout)
        _timed(trainer, "training_step", total)
        trainer.train()
    elapsed = times[-1] - times[0]  # the first step is a warm-up, as for ontask
    rollout_s = (rollout[0] - warmup[0]) / steps
    return {
        "trainer": "TRL" + ("" if GRADIENT_CHECKPOINTING else " (no gradient checkpointing)"),
        "samples_per_s": steps * PROMPTS_PER_STEP * GROUP / elapsed,
        "peak_rss_mb": _rss_mb(),
        "steps": steps,
        **seen,
        "images_per_step": (encoded[0] - warmup[2]) / steps,
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
