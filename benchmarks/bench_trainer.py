"""GRPO training throughput and peak memory: ontask's trainer against TRL's GRPOTrainer (with
gradient checkpointing, its default, and without) on the same Qwen2.5-VL weights, the same
screenshots and prompts, group size 5, answers of up to 16 tokens, 2 prompts per step, the same
reward, 10 timed steps after one warm-up step; each run in its own process (peak RSS is its
own). Two models: the tiny one the demo trains, and a larger one (hidden 512, Qwen's real
151,936-row vocabulary) where the LM head costs what it does in a real student. Each row says
how many prompt and image tokens one prompt holds as that trainer feeds it to the model, and
where its step goes (rollout: sampling and scoring the group; update: log-probabilities, loss,
backward, optimizer)."""

from __future__ import annotations

import tempfile

from benchmarks import last_json_line, run_module
from ontask.models.tiny import TinySize, build_tiny_vlm

STEPS = 10
MODELS = {
    "tiny (hidden 128, vocab 8k)": TinySize(),
    "larger (hidden 512, vocab 151,936)": TinySize(hidden=512, heads=8, kv_heads=2, padded_vocab=151_936),
}


def _run(which: str, steps: int, model_dir: str) -> dict:
    return last_json_line(run_module("trainer_throughput", which, str(steps), model_dir))


def run() -> None:
    print(
        f"{'model':<36} {'trainer':<34} {'samples/s':>9} {'peak MB':>8} {'prompt/image tok':>16} "
        f"{'rollout s':>9} {'update s':>9}"
    )
    for name, size in MODELS.items():
        with tempfile.TemporaryDirectory() as tmp:
            model_dir = str(build_tiny_vlm(f"{tmp}/model", size=size))
            rows = [_run(which, STEPS, model_dir) for which in ("ontask", "trl", "trl-no-gc")]
        for r in rows:
            print(
                f"{name:<36} {r['trainer']:<34} {r['samples_per_s']:>9.2f} {r['peak_rss_mb']:>8.0f} "
                f"{r.get('prompt_tokens', '?'):>9}/{r.get('image_tokens', '?'):<6} "
                f"{r['rollout_s']:>9.3f} {r['update_s']:>9.3f}"
            )
        best_trl = max(rows[1:], key=lambda r: r["samples_per_s"])
        print(
            f"{name}: ontask / {best_trl['trainer']} (the faster TRL): "
            f"{rows[0]['samples_per_s'] / best_trl['samples_per_s']:.1f}x the samples/s at "
            f"{rows[0]['peak_rss_mb'] / best_trl['peak_rss_mb']:.2f}x the memory (goal: >= 2x at <= 1x)"
        )
