"""Tiny Qwen2.5-VL on this CPU: one forward pass for the label vs free-text generation of it.

The student answers from the logits of the two answer tokens at the end of ONE forward pass
(answer_logits, as StudentClassifier does); the "prompt engineering" baseline generates the label
as text (greedy, as PromptBaseline does). Same weights and the same model inputs on both sides: a
synthetic screenshot and the prompt the student and the judge are asked (its window evidence,
task and question), encoded once before the clock (the screenshot's size and the prompt's length
in tokens are printed): only the model's work is timed here; bench_serving times whole requests.
The baseline generates what a real instruction-tuned model's answer takes (the longer label's
tokens and the end token: the random tiny model never stops on its own); the 16-token row (a
long answer, maxResponseLength) is printed beside it, labelled.
"""

from __future__ import annotations

import statistics
import tempfile
import time

import torch

from ontask.data.generate import example_at
from ontask.models.answer import AnswerTokens, answer_logits, encode
from ontask.models.classifier import answer_budget
from ontask.models.loading import load_vlm
from ontask.models.tiny import build_tiny_vlm
from ontask.verify import builtin_verifier_config

RUNS = 30
THREADS = 2


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run() -> None:
    torch.set_num_threads(THREADS)
    with tempfile.TemporaryDirectory() as tmp:
        model, processor = load_vlm(str(build_tiny_vlm(f"{tmp}/tiny")))
    ex = example_at(3, 0)
    inputs = encode(processor, ex.image, ex.task, ex.windows, builtin_verifier_config())
    prompt_tokens = int(inputs["input_ids"].numel())
    image_tokens = int((inputs["input_ids"] == model.config.image_token_id).sum())
    answers = AnswerTokens(processor, model)
    budget = answer_budget(processor.tokenizer)

    def student() -> None:
        with torch.inference_mode():
            model.model.rope_deltas = None  # cached positions belong to the previous call
            answer_logits(model, inputs, [answers.on, answers.off])

    def generating(tokens: int):
        def generate() -> None:
            with torch.inference_mode():
                model.model.rope_deltas = None
                model.generate(**inputs, max_new_tokens=tokens, do_sample=False)

        return generate

    rows = []
    for name, fn in (
        ("one forward pass (ontask)", student),
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
    print(
        f"every row's model input: the same {ex.image.width}x{ex.image.height} screenshot and prompt "
        f"({len(ex.windows)} windows' evidence), {prompt_tokens} tokens, {image_tokens} of them the image's"
    )
    print(f"{'system':<40} {'p50 ms':>8} {'p99 ms':>8}")
    for name, p50, p99 in rows:
        print(f"{name:<40} {p50:>8.1f} {p99:>8.1f}")
    print(
        f"speed-up of p50: {rows[1][1] / rows[0][1]:.1f}x against the {budget}-token answer, "
        f"{rows[2][1] / rows[0][1]:.1f}x against 16 tokens ({RUNS} runs each, tiny model, {THREADS} CPU threads)"
    )
