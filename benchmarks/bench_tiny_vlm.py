"""Tiny Qwen2.5-VL on this CPU: one forward pass for the label vs free-text generation of it.

The student answers from the logits of the answer tokens in ONE forward pass; the usual
"prompt engineering" path generates the label as text. Same weights, same screenshot, same
task. The generation baseline generates what a real instruction-tuned model's answer takes (the
longer label's tokens and the end token: the random tiny model never stops on its own); the
16-token row (a long answer, maxResponseLength) is printed beside it, labelled.
"""

from __future__ import annotations

import statistics
import tempfile
import time

import torch
from PIL import Image, ImageDraw

from ontask.models.classifier import answer_budget
from ontask.models.loading import load_vlm
from ontask.models.tiny import build_tiny_vlm

RUNS = 30


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run() -> None:
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        model, processor = load_vlm(str(build_tiny_vlm(f"{tmp}/tiny")))
    img = Image.new("RGB", (1280, 800), (30, 30, 40))
    ImageDraw.Draw(img).text((20, 20), "Inbox - Outlook", fill=(255, 255, 255))
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "image"},
                {"type": "text", "text": "Task: answer refund tickets. on-task or off-task?"},
            ],
        }
    ]
    text = processor.apply_chat_template(messages, add_generation_prompt=True)
    inputs = processor(text=[text], images=[img], return_tensors="pt")
    eos = model.generation_config.eos_token_id

    def forward() -> None:
        with torch.no_grad():
            model(**inputs)

    budget = answer_budget(processor.tokenizer)

    def generating(tokens: int):
        def generate() -> None:
            with torch.no_grad():
                model.generate(**inputs, max_new_tokens=tokens, do_sample=False, eos_token_id=eos)

        return generate

    rows = []
    for name, fn in (
        ("one forward pass (ontask)", forward),
        (f"generate {budget} tokens (prompt baseline)", generating(budget)),
        ("generate 16 tokens (a long answer)", generating(16)),
    ):
        fn()  # warm-up
        times = []
        for _ in range(RUNS):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1000)
        rows.append((name, statistics.median(times), _percentile(times, 0.99)))
    print(f"{'system':<40} {'p50 ms':>8} {'p99 ms':>8}")
    for name, p50, p99 in rows:
        print(f"{name:<40} {p50:>8.1f} {p99:>8.1f}")
    print(
        f"speed-up of p50: {rows[1][1] / rows[0][1]:.1f}x against the {budget}-token answer, "
        f"{rows[2][1] / rows[0][1]:.1f}x against 16 tokens ({RUNS} runs each, tiny model, 2 CPU threads)"
    )
