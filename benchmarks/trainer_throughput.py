"""One trainer's throughput, run in its own process so peak memory is its own:
`python -m benchmarks.trainer_throughput ontask|trl STEPS`. Prints one JSON line."""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time

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


def _data(n: int):
    from ontask.data.generate import example_at

    return [example_at(77, i) for i in range(n)]


def run_ontask(steps: int, model_dir: str) -> dict:
    from ontask.models.loading import load_vlm
    from ontask.rewards.components import Weights
    from ontask.trainers.trainer import TrainConfig, Trainer, encode_examples

    model, processor = load_vlm(model_dir)
    rows = encode_examples(processor, _data(16))
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
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.grpo_step()
    elapsed = time.perf_counter() - t0
    return {"trainer": "ontask", "samples_per_s": steps * PROMPTS_PER_STEP * GROUP / elapsed, "peak_rss_mb": _rss_mb()}


def run_trl(steps: int, model_dir: str) -> dict:
    from datasets import Dataset
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration
    from trl import GRPOConfig, GRPOTrainer

    from ontask.models.prompt import prompt_text

    processor = AutoProcessor.from_pretrained(model_dir)
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32)
    examples = _data(16)
    ds = Dataset.from_list(
        [
            {
                "prompt": [
                    {
                        "role": "user",
                        "content": [{"type": "image"}, {"type": "text", "text": prompt_text(e.task, e.windows)}],
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
        trainer.train()
    elapsed = times[-1] - times[1]  # the first step is a warm-up, as for ontask
    return {
        "trainer": "trl" + ("" if GRADIENT_CHECKPOINTING else " (no gradient checkpointing)"),
        "samples_per_s": steps * PROMPTS_PER_STEP * GROUP / elapsed,
        "peak_rss_mb": _rss_mb(),
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
