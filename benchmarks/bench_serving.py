"""Student predictor vs the prompt-engineering baseline over real HTTP (KServe v1), same tiny weights.

Both are `ontask serve` processes on this machine: the student answers from the answer tokens'
logits in one forward pass; the baseline (`ontask serve prompt-baseline`) gets a long instruction
prompt and generates the label as free text (greedy). A real instruction-tuned model stops after
its answer (the longer label's tokens and the end token); the random tiny model never emits the
end token, so the baseline is given exactly that many tokens, what a real model would generate.
The old 16-token row is printed beside it, labelled. Same screenshots, same tasks and window
evidence. p50/p99 of sequential requests, then requests/s with 4 concurrent clients. Goal: the
student's p50 at most 1/3 of the (fair) baseline's.
"""

from __future__ import annotations

import base64
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from ontask.data import generate
from ontask.data.images import encode_png
from ontask.models.tiny import build_tiny_vlm

REPO = Path(__file__).resolve().parents[1]
SEQUENTIAL = 40
CONCURRENT = 40


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _measure(url: str, bodies: list[dict]) -> tuple[float, float, float]:
    session = requests.Session()
    session.post(url, json=bodies[0], timeout=120).raise_for_status()  # warm-up
    times = []
    for i in range(SEQUENTIAL):
        t0 = time.perf_counter()
        session.post(url, json=bodies[i % len(bodies)], timeout=120).raise_for_status()
        times.append((time.perf_counter() - t0) * 1000)

    def one(i: int) -> None:
        requests.post(url, json=bodies[i % len(bodies)], timeout=300).raise_for_status()

    t0 = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(CONCURRENT)))
    rps = CONCURRENT / (time.perf_counter() - t0)
    return statistics.median(times), _percentile(times, 0.99), rps


def run() -> None:
    sys.path.insert(0, str(REPO))
    from realservers.predictors import Predictor

    bodies = [
        {
            "instances": [
                {"image": base64.b64encode(encode_png(ex.image)).decode(), "task": ex.task, "windows": ex.windows}
            ]
        }
        for ex in generate(8, seed=3)
    ]
    from transformers import AutoTokenizer

    from ontask.models.classifier import answer_budget

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        model = str(build_tiny_vlm(Path(tmp) / "v1", seed=1))
        budget = answer_budget(AutoTokenizer.from_pretrained(model))
        for role, label, extra in (
            ("student", "student: one forward pass (ontask)", ()),
            ("prompt-baseline", f"prompt baseline: instruction + {budget} tokens", ()),
            ("prompt-baseline", "prompt baseline, 16 tokens (never stops)", ("--max-new-tokens", "16")),
        ):
            server = Predictor(role, model, Path(tmp), "--max-batch", "8", *extra).start()
            try:
                rows.append((label, *_measure(f"{server.url}/v1/models/{role}:predict", bodies)))
            finally:
                server.stop()
    print(f"{'system (HTTP, v1, tiny model, 2 CPU cores)':<46} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>7}")
    for label, p50, p99, rps in rows:
        print(f"{label:<46} {p50:>8.1f} {p99:>8.1f} {rps:>7.1f}")
    ratio = rows[0][1] / rows[1][1]
    print(
        f"student p50 / baseline p50 ({budget} tokens: the labels' longest answer and the end token) = "
        f"{ratio:.2f} (goal <= 0.33: {'met' if ratio <= 1 / 3 else 'NOT met'}); "
        f"against the 16-token row: {rows[0][1] / rows[2][1]:.2f}"
    )
