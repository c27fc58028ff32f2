"""One role of the 3B-shape benchmark in its own process, so that its peak memory is its own:
`python -m benchmarks.shape_3b ROLE FOLDER [args]`, ROLE one of build, load, serve, train,
forward-backward. Prints one JSON line.

Each role runs the code a pod runs: `load_vlm` (every role), `StudentClassifier` (the student
predictor), `add_lora` + `Trainer.grpo_step` (a training worker). Weights are bf16, as a GPU pod
holds them; the CPU stands in for the GPU, so host memory here is what the pod's accelerator plus
host together hold.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
from pathlib import Path

import torch

# spec.serving.modelMaxPixels' documented value: 768 image tokens of 28x28 pixels.
SERVING_PIXELS = 602_112
FULL_HD = (1920, 1080)


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM) in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s() -> float:
    """CPU seconds this process has used (user + system): less sensitive than wall seconds to
    what else runs on a shared machine."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith(field + ":"))


def rss_mb() -> float:
    return _status_mb("VmRSS")


def anon_mb() -> float:
    """Resident memory the process allocated itself (heap, activations, copied tensors), without
    file-backed pages: the weights are mmapped from the safetensors file, and under memory
    pressure the kernel drops and re-reads those pages, so VmRSS alone can read less than the
    weights (it did here: 7.5 GiB peak for 7.0 GiB of weights plus a 0.9 GiB interpreter)."""
    return _status_mb("RssAnon")


class Sampler:
    """Anonymous memory sampled every 50 ms, to say what one phase of a role added over the phase
    before (getrusage only knows the peak of the whole process, and counts file pages)."""

    def __init__(self) -> None:
        self.peak = self.overall = anon_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, anon_mb())
            self.overall = max(self.overall, self.peak)

    def reset(self) -> float:
        """The anonymous peak since the last reset; starts a new phase."""
        out, self.peak = max(self.peak, anon_mb()), anon_mb()
        return out

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, anon_mb())
        self.overall = max(self.overall, self.peak)
        return self.peak


def _screenshot():
    """A full-HD screenshot of a synthetic desk (the capture agent downsizes to the budget)."""
    from ontask.data.generate import example_at

    ex = example_at(7, 0)
    return ex.image.resize(FULL_HD), ex.task, ex.windows, ex


# "TEXT,VISION" layers: the published widths, vocabulary and image budget at a reduced depth (the
# checkpoint's first layers). What a phase adds to the process's anonymous memory (activations)
# at two depths gives its cost per layer, for the full depth where the whole model is too slow on
# a shared CPU (inference keeps one layer's activations at a time; training keeps every layer's
# for the backward pass).
SHALLOW = tuple(int(n) for n in os.environ.get("ONTASK_SHAPE_LAYERS", "").split(",") if n)


def _shallow(folder: str, text_layers: int, vision_layers: int):
    from transformers import AutoConfig, AutoProcessor, Qwen2_5_VLForConditionalGeneration

    config = AutoConfig.from_pretrained(folder)
    config.text_config.num_hidden_layers = text_layers
    config.text_config.layer_types = config.text_config.layer_types[:text_layers]
    config.vision_config.depth = vision_layers
    config.vision_config.fullatt_block_indexes = [vision_layers - 1]
    # The checkpoint's first layers (the rest of its weights are not read): no random init to pay.
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(folder, config=config, dtype=torch.bfloat16).eval()
    return model, AutoProcessor.from_pretrained(folder)


def _load(folder: str, sampler: Sampler) -> tuple[object, object, dict]:
    from ontask.models.loading import load_vlm

    base, base_anon = rss_mb(), anon_mb()
    t0 = time.perf_counter()
    if SHALLOW:
        model, processor = _shallow(folder, *SHALLOW)
    else:
        model, processor = load_vlm(folder, dtype=torch.bfloat16, device="cpu")
    seconds = time.perf_counter() - t0
    weights_mb = sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20
    fp32 = [n for n, p in model.named_parameters() if p.dtype == torch.float32]
    load = {
        "load_s": seconds,
        "load_anon_peak_mb": sampler.reset(),
        "before_load_mb": base,
        "before_load_anon_mb": base_anon,
        "after_load_mb": rss_mb(),
        "after_load_anon_mb": anon_mb(),
        "weights_mb": weights_mb,
        "params": sum(p.numel() for p in model.parameters()),
        "layers": list(SHALLOW) or [model.config.text_config.num_hidden_layers, model.config.vision_config.depth],
        "fp32_params": len(fp32),
    }
    return model, processor, load


def role_build(folder: str) -> dict:
    from ontask.models.qwen3b import build_random_3b

    t0 = time.perf_counter()
    build_random_3b(folder)
    return {"seconds": time.perf_counter() - t0, "peak_mb": peak_mb()}


def role_load(folder: str) -> dict:
    sampler = Sampler()
    _, _, load = _load(folder, sampler)
    sampler.stop()
    return {**load, "anon_peak_mb": sampler.overall, "peak_mb": peak_mb()}


def role_serve(folder: str) -> dict:
    from ontask.images import fit_for
    from ontask.models.classifier import StudentClassifier
    from ontask.models.hybrid import HybridFit
    from ontask.verify import model_verifier_config

    sampler = Sampler()
    model, processor, load = _load(folder, sampler)
    clf = StudentClassifier(
        model, processor, model_verifier_config(folder), SERVING_PIXELS, HybridFit.read(Path(folder))
    )
    image, task, windows, _ = _screenshot()
    # The same inputs p_on_task builds, counted apart (its forward pass is what is timed).
    fitted = fit_for(image, processor.image_processor)
    inputs = processor(text=clf.prompts([task], [windows]), images=[fitted], return_tensors="pt")
    image_tokens = int((inputs["input_ids"] == model.config.image_token_id).sum())
    sampler.reset()
    t0, c0 = time.perf_counter(), cpu_s()
    [p_on] = clf.p_on_task([image], [task], [windows])
    seconds, cpu = time.perf_counter() - t0, cpu_s() - c0
    return {
        **load,
        "image_tokens": image_tokens,
        "prompt_tokens": int(inputs["input_ids"].shape[1]),
        "grid_thw": inputs["image_grid_thw"].tolist(),
        "predict_s": seconds,
        "predict_cpu_s": cpu,
        "predict_anon_peak_mb": sampler.stop(),
        "activations_mb": sampler.peak - load["after_load_anon_mb"],
        "anon_peak_mb": sampler.overall,
        "p_on_task": p_on,
        "peak_mb": peak_mb(),
    }


def _trainer(folder: str, lora_rank: int, group_size: int, max_response: int, sampler: Sampler):
    from ontask.images import set_pixel_budget
    from ontask.trainers.config import TrainConfig
    from ontask.trainers.lora import add_lora
    from ontask.trainers.rows import encode_examples
    from ontask.trainers.trainer import Trainer
    from ontask.verify import model_verifier_config

    model, processor, load = _load(folder, sampler)
    set_pixel_budget(processor.image_processor, SERVING_PIXELS)
    add_lora(model, lora_rank)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    _, _, _, ex = _screenshot()
    ex.image = ex.image.resize(FULL_HD)
    rows = encode_examples(processor, [ex], model_verifier_config(folder))
    cfg = TrainConfig(group_size=group_size, max_response_length=max_response, prompts_per_step=1, val_batch_size=1)
    # Alternating rewards: every group has signal, so the step always runs its backward pass (a
    # random model's answers are all malformed alike, and a group that agrees is skipped).
    counter = iter(range(1 << 30))
    trainer = Trainer(model, processor, rows, rows, cfg, reward_fn=lambda text, row: float(next(counter) % 2))
    # A training row keeps the processor's output (fp32 pixel values) for the whole run.
    row_mb = sum(t.numel() * t.element_size() for t in rows[0].inputs.values()) / 2**20
    return trainer, rows, {**load, "trainable_params": trainable, "lora_rank": lora_rank, "row_mb": row_mb}


def role_train(folder: str, lora_rank: str = "16", group_size: str = "2", max_response: str = "4") -> dict:
    sampler = Sampler()
    trainer, rows, info = _trainer(folder, int(lora_rank), int(group_size), int(max_response), sampler)
    sampler.reset()
    t0, c0 = time.perf_counter(), cpu_s()
    metrics = trainer.grpo_step()
    seconds, cpu = time.perf_counter() - t0, cpu_s() - c0
    snapshot = trainer.rollout_model is not None and any(
        a.data_ptr() == b.data_ptr() for a, b in zip(trainer.model.parameters(), trainer.rollout_model.parameters())
    )
    return {
        **info,
        "group_size": int(group_size),
        "max_response": int(max_response),
        "prompt_tokens": int(rows[0].inputs["input_ids"].shape[1]),
        "step_s": seconds,
        "step_cpu_s": cpu,
        "step_anon_peak_mb": sampler.stop(),
        "activations_mb": sampler.peak - info["after_load_anon_mb"],
        "anon_peak_mb": sampler.overall,
        "rollout_shares_base": snapshot,
        "groups_with_signal": metrics["groups_with_signal"],
        "peak_mb": peak_mb(),
    }


def role_forward_backward(folder: str, lora_rank: str = "16", answer_tokens: str = "4") -> dict:
    """The fallback when a whole GRPO step is too slow here: the policy's forward and backward
    over one answer of `answer_tokens` tokens (what `_update` runs per sample), no rollout."""
    from ontask.trainers.rollout import completion_logprobs

    sampler = Sampler()
    trainer, rows, info = _trainer(folder, int(lora_rank), 2, int(answer_tokens), sampler)
    n = int(answer_tokens)
    completions = torch.full((1, n), trainer.answers.eos, dtype=torch.long)
    mask = torch.ones(1, n)
    sampler.reset()
    t0, c0 = time.perf_counter(), cpu_s()
    trainer.model.train()
    logp, _ = completion_logprobs(trainer.model, rows[0].inputs, completions, mask, with_logits=True)
    (-logp.sum()).backward()
    seconds, cpu = time.perf_counter() - t0, cpu_s() - c0
    return {
        **info,
        "prompt_tokens": int(rows[0].inputs["input_ids"].shape[1]),
        "forward_backward_s": seconds,
        "forward_backward_cpu_s": cpu,
        "step_anon_peak_mb": sampler.stop(),
        "activations_mb": sampler.peak - info["after_load_anon_mb"],
        "anon_peak_mb": sampler.overall,
        "peak_mb": peak_mb(),
    }


ROLES = {
    "build": role_build,
    "load": role_load,
    "serve": role_serve,
    "train": role_train,
    "forward-backward": role_forward_backward,
}


if __name__ == "__main__":
    torch.set_num_threads(int(os.environ.get("ONTASK_BENCH_THREADS", os.cpu_count() or 1)))
    role, folder, *rest = sys.argv[1:]
    print(json.dumps(ROLES[role](folder, *rest)))
