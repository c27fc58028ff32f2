"""GPU check of the production path on one GPU, with a Qwen2.5-VL-3B-shaped student (random
weights; no hub here): GRPO steps with LoRA as `ontask train` runs them on a GPU (fp32 weights,
bf16 compute), the student predictor's p50 through HTTP at modelMaxPixels 600k, and a judge
verdict through the transformers backend.

On a machine without CUDA it measures nothing and prints the last GPU run's figures, marked
stale (their date, machine and commit, and the changes since to the code they measure), or says
none was recorded. A run on a GPU records its lines in benchmarks/recorded/ (commit it). Run
alone with `python -m benchmarks bench_gpu_check` (about 5 minutes on an H200, 20 GB of disk for
the checkpoint).
"""

from __future__ import annotations

import base64
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import NotRun
from benchmarks.recorded import print_stale, record

REPO = Path(__file__).resolve().parent.parent
MAX_PIXELS = 602112  # spec.serving.modelMaxPixels for a 3B student under 100 ms
REQUESTS = 30
# What the figures depend on: a change here since the recorded run makes them stale.
WATCHED = ("ontask/models", "ontask/serving", "ontask/trainers", "ontask/judge", "benchmarks/bench_gpu_check.py")


def _student_checkpoint(folder: Path) -> Path:
    """A 3B-shaped Qwen2.5-VL with random bf16 weights and the tiny models' tokenizer, its
    processor saved at the 600k-pixel budget (what the predictor then serves at)."""
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    from benchmarks.bench_student_gpu import _config_3b
    from ontask.models.tiny import TinySize, build_processor, build_tokenizer

    tokenizer = build_tokenizer()
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = Qwen2_5_VLForConditionalGeneration(_config_3b(tokenizer)).to(torch.bfloat16)
    model.save_pretrained(folder)
    build_processor(tokenizer, TinySize(max_pixels=MAX_PIXELS, min_pixels=3136)).save_pretrained(folder)
    del model
    torch.cuda.empty_cache()
    return folder


def _grpo(folder: Path) -> str:
    import torch

    from ontask.data.generate import example_at
    from ontask.models.loading import load_vlm
    from ontask.rewards.components import Weights
    from ontask.trainers.config import TrainConfig
    from ontask.trainers.lora import add_lora
    from ontask.trainers.rows import encode_examples
    from ontask.trainers.run import training_device
    from ontask.trainers.trainer import Trainer
    from ontask.verify import builtin_verifier_config

    torch.cuda.reset_peak_memory_stats()
    model, processor = load_vlm(str(folder), device=str(training_device()))
    add_lora(model, 16)
    rows = encode_examples(
        processor, (example_at(7, i) for i in range(24)), builtin_verifier_config(), verifier_scores=True
    )
    cfg = TrainConfig(
        group_size=4,
        prompts_per_step=4,
        max_response_length=4,
        warm_start_steps=2,
        grpo_steps=6,
        sync_steps=1,
        eval_every=0,
        learning_rate=1e-4,
        weights=Weights(0.8, 0.0, 0.2),
    )
    history = Trainer(model, processor, rows[:20], rows[20:], cfg).train()
    rates = [m["samples_per_s"] for m in history if m["phase"] == "grpo"][1:]  # the first warms up
    peak = torch.cuda.max_memory_allocated() / 2**30
    del model
    torch.cuda.empty_cache()
    return f"GRPO, LoRA rank 16, group 4 x 4 prompts: {statistics.median(rates):.2f} samples/s, peak {peak:.1f} GiB"


def _http_p50(folder: Path, workdir: Path) -> str:
    import requests

    from ontask.agent.capture import downscale
    from ontask.data.generate import example_at
    from realservers.predictors import Predictor

    ex = example_at(7, 0)
    buf = io.BytesIO()
    downscale(ex.image, MAX_PIXELS).save(buf, format="JPEG", quality=90)
    body = {"instances": [{"image": base64.b64encode(buf.getvalue()).decode(), "task": ex.task, "windows": ex.windows}]}
    server = Predictor("student", str(folder), workdir).start(timeout=600)
    try:
        url = f"{server.url}/v1/models/student:predict"
        times = []
        for i in range(REQUESTS + 3):
            t = time.perf_counter()
            r = requests.post(url, json=body, timeout=60)
            r.raise_for_status()
            if i >= 3:  # after warm-up
                times.append((time.perf_counter() - t) * 1000)
    finally:
        server.stop()
    return f"student predictor over HTTP (v1, one JPEG at {MAX_PIXELS} px): p50 {statistics.median(times):.1f} ms"


def _judge(folder: Path) -> str:
    from ontask.data.generate import example_at
    from ontask.judge.backends import ScoreRequest, TransformersBackend

    backend = TransformersBackend.load(str(folder))
    ex = example_at(7, 1)
    text = f"Task: {ex.task}\nIs the person on-task or off-task?"
    backend.score([ScoreRequest(ex.image, text, ("on-task", "off-task"))])  # warm-up
    t = time.perf_counter()
    [p] = backend.score([ScoreRequest(ex.image, text, ("on-task", "off-task"))])
    ms = (time.perf_counter() - t) * 1000
    return f"judge verdict, transformers backend on {backend.device}: P(on-task) {p:.3f} in {ms:.0f} ms"


def run() -> NotRun | None:
    import torch

    if not torch.cuda.is_available():
        return print_stale("bench_gpu_check", WATCHED, "no CUDA GPU here")
    sys.path.insert(0, str(REPO))
    gpu = torch.cuda.get_device_name()
    lines = [f"GPU: {gpu}, {time.strftime('%Y-%m-%d')}"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = _student_checkpoint(Path(tmp) / "student-3b")
        for measure in (lambda: _grpo(folder), lambda: _http_p50(folder, Path(tmp)), lambda: _judge(folder)):
            lines.append(measure())
            print(lines[-1], flush=True)
    print(f"recorded in {record('bench_gpu_check', chr(10).join(lines), gpu)}")
    return None


if __name__ == "__main__":
    run()
