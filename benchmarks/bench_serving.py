"""Student predictor vs the prompt-engineering baseline over real HTTP (KServe v1), same tiny weights.

Both are `ontask serve` processes on this machine and prefill the same prompt: the screenshot,
the window evidence, the task and the question, what the judge is asked (its length in tokens
is printed). The student answers from the answer tokens' logits in one forward pass; the
baseline (`ontask serve prompt-baseline`) generates the label as free text (greedy). A real
instruction-tuned model stops after its answer (the longer label's tokens and the end token);
the random tiny model never emits the end token, so the baseline generates exactly that many
tokens (printed), what a real model would generate. A 16-token row is printed beside it,
labelled. Same screenshots, same tasks and window evidence, sent as the capture agent sends
them (downscaled to its pixel budget, JPEG). At 1, 4 and 16 concurrent clients: p50/p99 of each
request's latency and requests/s, each the median of 3 rounds of 48 requests. Goal: the
student's p50 at most 1/3 of the baseline's at 1 and 4 clients, and 3x its requests/s at 16. On
the tiny model (hidden 128, vocabulary 8k) and on a larger one (hidden 512, Qwen's 151,936-row
vocabulary), where the LM head weighs what it does in a real student: the goal is the larger
model's.

Each side computes only what it reads: the student only the two answers' rows of the LM head
(answer_logits; the same numbers as the whole head, tested), `generate` only the last position's.
A predictor given window evidence decodes a JPEG only as large as the model will use it
(Pillow's DCT-scaled draft), both sides alike. On the tiny model the goal is not expected: its
forward pass in-process is already about half of generating a real answer's tokens
(bench_tiny_vlm), and the costs both sides share (HTTP, JSON, base64, decoding the screenshot)
outweigh it and push the ratio toward 1; beyond 2 clients on 2 cores requests queue.
"""

from __future__ import annotations

import base64
import io
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from ontask.data import generate
from ontask.models.tiny import TinySize, build_tiny_vlm

REPO = Path(__file__).resolve().parents[1]
REQUESTS = 48
ROUNDS = 3
CLIENTS = (1, 4, 16)
# The tiny model the demo trains, and one whose LM head costs what a real student's does (Qwen's
# 151,936-row vocabulary), as in the trainer benchmark.
SIZES = {
    "tiny": TinySize(),
    "larger": TinySize(hidden=512, heads=8, kv_heads=2, padded_vocab=151_936),
}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _measure(url: str, bodies: list[dict], clients: int) -> tuple[float, float, float]:
    """(p50 ms, p99 ms, requests/s) of REQUESTS requests sent by `clients` concurrent clients."""
    session = requests.Session()
    session.post(url, json=bodies[0], timeout=120).raise_for_status()  # warm-up

    def one(i: int) -> float:
        t0 = time.perf_counter()
        requests.post(url, json=bodies[i % len(bodies)], timeout=300).raise_for_status()
        return (time.perf_counter() - t0) * 1000

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        times = list(pool.map(one, range(REQUESTS)))
    rps = REQUESTS / (time.perf_counter() - t0)
    return statistics.median(times), _percentile(times, 0.99), rps


def _median_of_rounds(url: str, bodies: list[dict], clients: int) -> tuple[float, float, float]:
    """Each figure of _measure as the median of ROUNDS rounds."""
    rounds = [_measure(url, bodies, clients) for _ in range(ROUNDS)]
    return tuple(statistics.median(r[i] for r in rounds) for i in range(3))  # type: ignore[return-value]


def _prompt_tokens(model: str, bodies: list[dict]) -> tuple[int, int]:
    """(prompt tokens, of which image tokens) both predictors prefill for a request, the median
    over `bodies`: the JPEG decoded and the prompt encoded as a predictor does."""
    from transformers import AutoProcessor

    from ontask.images import decode_image, fitted_size
    from ontask.models.answer import encode
    from ontask.verify import builtin_verifier_config

    processor = AutoProcessor.from_pretrained(model)
    config = builtin_verifier_config()  # what both read for a model without rules of its own (the tiny ones)
    totals, images = [], []
    for body in bodies:
        inst = body["instances"][0]
        image = decode_image(
            base64.b64decode(inst["image"]), draft_to=lambda w, h: fitted_size(w, h, processor.image_processor)
        )
        ids = encode(processor, image, inst["task"], inst["windows"], config)["input_ids"]
        totals.append(int(ids.numel()))
        images.append(int((ids == processor.image_token_id).sum()))
    return int(statistics.median(totals)), int(statistics.median(images))


def run() -> None:
    sys.path.insert(0, str(REPO))
    from ontask.agent.capture import DEFAULT_MAX_PIXELS, downscale
    from realservers.predictors import Predictor

    def jpeg(image) -> str:
        buf = io.BytesIO()
        downscale(image, DEFAULT_MAX_PIXELS).save(buf, format="JPEG", quality=90)
        return base64.b64encode(buf.getvalue()).decode()

    bodies = [
        {"instances": [{"image": jpeg(ex.image), "task": ex.task, "windows": ex.windows}]} for ex in generate(8, seed=3)
    ]
    from transformers import AutoTokenizer

    from ontask.models.classifier import answer_budget

    rows, prompts = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for size_name, size in SIZES.items():
            model = str(build_tiny_vlm(Path(tmp) / size_name, size=size, seed=1))
            budget = answer_budget(AutoTokenizer.from_pretrained(model))
            tokens, image_tokens = _prompt_tokens(model, bodies)
            prompts.append(
                f"{size_name}: both prefill the same prompt, {tokens} tokens ({image_tokens} of them the image's; "
                f"median of the {len(bodies)} requests); the student then reads two answer logits, the baseline "
                f"generates {budget} tokens (the longer label's and the end token)"
            )
            systems = [
                ("student", "student: one forward pass (ontask)", ()),
                ("prompt-baseline", f"prompt baseline: same prompt, generates {budget} tokens", ()),
            ]
            if size_name == "tiny":
                systems.append(
                    ("prompt-baseline", "prompt baseline: same prompt, generates 16 tokens", ("--max-new-tokens", "16"))
                )
            for role, label, extra in systems:
                server = Predictor(role, model, Path(tmp), "--max-batch", "8", *extra).start()
                try:
                    url = f"{server.url}/v1/models/{role}:predict"
                    rows.append((size_name, label, {c: _median_of_rounds(url, bodies, c) for c in CLIENTS}))
                finally:
                    server.stop()
    print("\n".join(prompts))
    print(
        f"{f'system (HTTP, v1, {os.cpu_count()} CPUs)':<58} "
        + " ".join(f"{f'{c} client(s): p50 / p99 ms, req/s':>34}" for c in CLIENTS)
    )
    for size_name, label, by_clients in rows:
        cells = [f"{p50:>9.1f} / {p99:>6.1f}, {rps:>6.1f}" for p50, p99, rps in by_clients.values()]
        print(f"{size_name + ' - ' + label:<58} " + " ".join(f"{c:>34}" for c in cells))
    for size_name in SIZES:
        student, baseline = [r[2] for r in rows if r[0] == size_name][:2]
        ratios = " · ".join(f"{student[c][0] / baseline[c][0]:.2f}" for c in CLIENTS)
        throughput = student[CLIENTS[-1]][2] / baseline[CLIENTS[-1]][2]
        print(
            f"{size_name}: student p50 / baseline p50 at {' / '.join(map(str, CLIENTS))} clients = {ratios} "
            f"(goal <= 0.33 at 1 and 4); req/s at {CLIENTS[-1]} clients {throughput:.2f}x the baseline's (goal >= 3x)"
        )
    tiny = [r[2] for r in rows if r[0] == "tiny"]
    print(f"tiny: student p50 / the 16-token baseline's p50 at one client = {tiny[0][1][0] / tiny[2][1][0]:.2f}")
