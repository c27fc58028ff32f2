"""GRPO training throughput and peak memory: ontask's trainer against TRL's GRPOTrainer on the
same tiny Qwen2.5-VL, the same screenshots and prompts, group size 5, answers of up to 16
tokens, 2 prompts per step, the same reward; each in its own process (peak RSS is its own)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from ontask.models.tiny import build_tiny_vlm

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(which: str, steps: int, model_dir: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.trainer_throughput", which, str(steps), model_dir],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=900,
        env={**os.environ, "PYTHONPATH": REPO},
    )
    if out.returncode != 0:
        raise RuntimeError(f"{which} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = str(build_tiny_vlm(f"{tmp}/tiny"))
        rows = [_run("ontask", 6, model_dir), _run("trl", 2, model_dir)]
    print(f"{'trainer':<36} {'samples/s':>10} {'peak RSS MB':>12}")
    for r in rows:
        print(f"{r['trainer']:<36} {r['samples_per_s']:>10.2f} {r['peak_rss_mb']:>12.0f}")
    print(
        f"ontask / TRL: {rows[0]['samples_per_s'] / rows[1]['samples_per_s']:.1f}x the samples/s at "
        f"{rows[0]['peak_rss_mb'] / rows[1]['peak_rss_mb']:.2f}x the memory (goal: >= 2x at <= 1x)"
    )
