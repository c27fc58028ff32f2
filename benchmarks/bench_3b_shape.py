"""The real student's shape on this machine: a random Qwen2.5-VL-3B-Instruct (published config,
generation config, image processor, chat template; bf16 weights) through the code a pod runs
(load_vlm, StudentClassifier, add_lora + Trainer.grpo_step), each role in its own process:
peak memory per role, seconds, image tokens at 600k pixels, beside the spec's defaults.

Heavy: builds a 7.5 GB checkpoint once (cached under ~/.cache/ontask/models), needs about 12 GiB
of free memory and 10 GB of disk, and takes 10-30 minutes on 2 cores. Skipped, with the reason,
where the machine has less. `python -m benchmarks bench_3b_shape`; one role alone with
`python -m benchmarks.shape_3b ROLE FOLDER`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path

from benchmarks import NotRun, last_json_line, run_module

GIB = 1024.0  # MiB per GiB
NEEDS_FREE_MIB = 12 * 1024
# A whole GRPO step that takes longer than this is replaced by one answer's forward + backward.
STEP_TIMEOUT_S = 900
# Headroom over a measured peak before it becomes a default (allocator growth, a longer prompt,
# a larger batch of requests).
HEADROOM = 1.25


def checkpoint_dir() -> Path:
    """Where the random 3B is kept between runs, named by its published files' contents."""
    from ontask.models import qwen3b

    digest = hashlib.sha256(
        json.dumps([qwen3b.CONFIG, qwen3b.GENERATION_CONFIG, qwen3b.PREPROCESSOR]).encode()
    ).hexdigest()[:12]
    root = Path(os.environ.get("ONTASK_MODEL_CACHE", Path.home() / ".cache" / "ontask" / "models"))
    return root / f"qwen2.5-vl-3b-random-{digest}"


def mem_available_mib() -> float:
    with open("/proc/meminfo") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("MemAvailable:"))


def judge_weights_gib() -> float:
    """Qwen2.5-VL-72B-Instruct's bf16 weights in GiB, counted on torch's meta device from its
    published dimensions (computed, not measured: 72B does not fit this machine)."""
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    text = dict(
        vocab_size=152064,
        hidden_size=8192,
        intermediate_size=29568,
        num_hidden_layers=80,
        num_attention_heads=64,
        num_key_value_heads=8,
        tie_word_embeddings=False,
        rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [16, 24, 24]},
    )
    vision = dict(
        depth=32,
        hidden_size=1280,
        intermediate_size=3420,
        num_heads=16,
        out_hidden_size=8192,
        fullatt_block_indexes=[7, 15, 23, 31],
    )
    config = Qwen2_5_VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=False)
    with torch.device("meta"):
        model = Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=torch.bfloat16)
    return sum(p.numel() for p in model.parameters()) * 2 / 2**30


def device_mib(role: dict) -> float:
    """What a role holds on its GPU (on this CPU: in host memory beside the interpreter): the bf16
    weights and what the role's phase adds to the process's anonymous memory (activations). The
    weights are mmapped from the checkpoint and counted whole: under memory pressure the kernel
    drops some of their pages, which VmRSS then misses."""
    return role["weights_mb"] + max(0.0, role["activations_mb"])


def host_mib(load: dict) -> float:
    """What a GPU pod holds in host memory besides its rows: the interpreter with torch,
    transformers and ontask (measured before loading) and one host copy of the bf16 weights (a
    checkpoint is serialised from host memory; load_vlm itself holds no fp32 copy)."""
    return load["before_load_mb"] + load["weights_mb"]


def gib_default(mib: float) -> int:
    """A measured figure with HEADROOM, rounded up to whole GiB."""
    return math.ceil(mib * HEADROOM / GIB)


# Rows a default bootstrap trains on (data.syntheticRows 200, each also as its other-task twin):
# a training row keeps its processor output (fp32 pixel values) in the trainer's host memory.
DEFAULT_ROWS = 400


def run() -> NotRun | None:
    folder = checkpoint_dir()
    free = mem_available_mib()
    disk = shutil.disk_usage(folder.parent if folder.parent.exists() else Path.home()).free / 2**30
    if free < NEEDS_FREE_MIB or (not (folder / "ontask-model.json").exists() and disk < 10):
        need = f"{NEEDS_FREE_MIB / GIB:.0f} GiB free memory and 10 GB disk"
        print(f"skipped: needs {need}, has {free / GIB:.1f} GiB, {disk:.0f} GB")
        return NotRun("skipped", f"needs {need}, this machine has {free / GIB:.1f} GiB and {disk:.0f} GB")
    machine = f"{platform.machine()} {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}"
    if not (folder / "ontask-model.json").exists():
        build = last_json_line(run_module("shape_3b", "build", str(folder), timeout=3600))
        print(f"built {folder} in {build['seconds']:.0f} s (peak RSS {build['peak_mb'] / GIB:.1f} GiB)")
    load = last_json_line(run_module("shape_3b", "load", str(folder)))
    serve = last_json_line(run_module("shape_3b", "serve", str(folder)))
    try:
        train = last_json_line(run_module("shape_3b", "train", str(folder), timeout=STEP_TIMEOUT_S))
        shape = f"group {train['group_size']}, <= {train['max_response']} tokens"
        step = f"one LoRA GRPO step ({shape}): {train['step_s']:.0f} s"
    except subprocess.TimeoutExpired:
        train = last_json_line(run_module("shape_3b", "forward-backward", str(folder)))
        step = (
            f"GRPO step over {STEP_TIMEOUT_S} s here: one answer's forward + backward instead: "
            f"{train['forward_backward_s']:.0f} s"
        )
    from ontask.api import JudgeSpec, StudentResources

    judge_gib = judge_weights_gib()
    default = StudentResources().memory
    rows_mib = DEFAULT_ROWS * train["row_mb"]
    print(f"Qwen2.5-VL-3B-Instruct shape, random bf16 weights, CPU ({machine}):")
    print(f"  weights {load['weights_mb'] / GIB:.2f} GiB, {load['params'] / 1e9:.2f} B parameters")
    print(
        f"  load_vlm: {load['load_s']:.1f} s, peak RSS {load['peak_mb'] / GIB:.2f} GiB "
        f"(interpreter {load['before_load_mb'] / GIB:.2f} GiB; {load['fp32_params']} fp32 tensors: no fp32 copy)"
    )
    print(f"  {'role':48s} {'peak RSS':>9s} {'on the GPU':>10s}  detail")
    for name, role, detail in (
        (
            f"student predictor ({serve['image_tokens']} image tokens of {serve['prompt_tokens']})",
            serve,
            f"{serve['predict_s']:.0f} s a prediction ({serve['predict_cpu_s']:.0f} CPU s)",
        ),
        (f"trainer (LoRA rank {train['lora_rank']})", train, step),
    ):
        print(f"  {name:48s} {role['peak_mb'] / GIB:7.1f}Gi {device_mib(role) / GIB:8.1f}Gi  {detail}")
    derived = gib_default(host_mib(load)) + math.ceil(rows_mib / GIB)
    print(
        f"  student pod host memory: 1.25 x (interpreter + one host copy of the weights) = "
        f"{gib_default(host_mib(load))}Gi, + {DEFAULT_ROWS} rows of {train['row_mb']:.1f} MiB = {derived}Gi "
        f"(spec.student.resources.memory: {default})"
    )
    print(
        f"  judge: Qwen2.5-VL-72B bf16 weights {judge_gib:.0f} GiB (computed on the meta device), "
        f"{judge_gib / JudgeSpec().gpus:.0f} GiB per GPU over the default {JudgeSpec().gpus} GPUs"
    )
    if train.get("rollout_shares_base") is False:
        print("  note: the rollout policy holds its own copy of the base weights")
