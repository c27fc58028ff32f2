"""Judge judgments per second with and without the cache (tiny model, bidirectional = two
prompts per judgment), and verifier milliseconds per screenshot: window metadata, OCR cold,
OCR of the same screenshot again (cached)."""

from __future__ import annotations

import tempfile
import time

import torch

from ontask.data.generate import example_at
from ontask.judge import Judge, JudgeInput, JudgmentCache, TransformersBackend
from ontask.models.tiny import build_tiny_vlm
from ontask.verify import Verifier, builtin_verifier_config

N = 24


def run() -> None:
    torch.set_num_threads(2)
    examples = [example_at(31, i) for i in range(N)]
    inputs = [JudgeInput(ex.image, ex.task, ex.windows) for ex in examples]
    with tempfile.TemporaryDirectory() as tmp:
        backend = TransformersBackend.load(str(build_tiny_vlm(f"{tmp}/tiny")))
    judge = Judge(backend, JudgmentCache())
    judge.judge(inputs[:1])  # warm-up
    t0 = time.perf_counter()
    for i in range(0, N, 4):
        judge.judge(inputs[i : i + 4])
    cold = N / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for i in range(0, N, 4):
        judge.judge(inputs[i : i + 4])
    warm = N / (time.perf_counter() - t0)
    print(f"{'judge (tiny Qwen2.5-VL, CPU, batches of 4)':<46} {'judgments/s':>12}")
    print(f"{'  no cache (2 prompts per judgment)':<46} {cold:>12.1f}")
    print(f"{'  cache hit':<46} {warm:>12.1f}")

    verifier = Verifier(builtin_verifier_config())
    t0 = time.perf_counter()
    for ex in examples:
        verifier.verify(ex.task, windows=ex.windows)
    meta_ms = (time.perf_counter() - t0) * 1000 / N
    t0 = time.perf_counter()
    for ex in examples[:10]:
        verifier.verify(ex.task, image=ex.image)
    ocr_ms = (time.perf_counter() - t0) * 1000 / 10
    t0 = time.perf_counter()
    for ex in examples[:10]:
        verifier.verify(ex.task, image=ex.image)
    cached_ms = (time.perf_counter() - t0) * 1000 / 10
    print(f"{'verifier':<46} {'ms/screenshot':>12}")
    print(f"{'  window metadata':<46} {meta_ms:>12.2f}")
    print(f"{'  OCR of title and URL bars, cold':<46} {ocr_ms:>12.1f}")
    print(f"{'  OCR, same screenshot again (cached)':<46} {cached_ms:>12.1f}   (goal: < 50)")
