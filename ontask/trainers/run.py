"""`ontask train`: a dataset version in, a model version and a metrics JSONL out, both through
the artifact store, with the settings of a TaskClassifier spec."""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import torch

from ontask.api import TaskClassifierSpec, read_spec_document
from ontask.data.dataset import DatasetError, read_version, row_windows
from ontask.data.images import ImageRejected, set_pixel_budget
from ontask.evaluation.hybrid import fit_hybrid
from ontask.interop.verl_config import looks_like_verl, read_verl_config
from ontask.labels import LABELS
from ontask.models.answer import encode, p_on_task
from ontask.models.hybrid import HybridFit
from ontask.models.loading import CheckpointError, check_checkpoint, load_vlm, local_copy
from ontask.rewards.components import Weights
from ontask.store import Store, StoreError, download_prefix, upload_folder
from ontask.store_paths import checkpoints_prefix, classifier_prefix, metrics_key, model_key, models_prefix
from ontask.trainers.lora import adapter_state_dict, add_lora, base_state_dict, has_lora, merged_state_dict
from ontask.trainers.trainer import (
    Encoded,
    TrainConfig,
    Trainer,
    anchor_replayed_rows,
    config_dict,
    jsonl_logger,
    progress_line,
)
from ontask.verify import Verifier, VerifierConfig, model_verifier_config

log = logging.getLogger("ontask.train")


def load_spec(path: str | Path) -> tuple[TaskClassifierSpec, Optional[VerifierConfig]]:
    """The spec of a TaskClassifier manifest, of a bare spec mapping, or of the verl plan's
    `task_classifier_grpo.yaml` (then also the verifier rules of the `verifier_config.yaml`
    beside it; None: the built-in rules). `env:NAME` reads a spec from an environment variable
    (how the operator hands it to a PyTorchJob)."""
    doc = read_spec_document(str(path))
    if looks_like_verl(doc):
        training = read_verl_config(path)
        return training.spec, training.verifier_config
    return TaskClassifierSpec.model_validate(doc.get("spec", doc)), None


def train_config(
    spec: TaskClassifierSpec,
    n_train: int,
    warm_start_steps: Optional[int] = None,
    max_minutes: Optional[float] = None,
    cycle: bool = False,
    supervised_only: bool = False,
) -> TrainConfig:
    """The loop's settings from the spec, in this one place: GRPO steps cover `epochs` passes over
    the data; a sync cycle trains at feedback.learningRateScale times the learning rate, after
    feedback.cycleWarmStartSteps supervised steps (training.warmStartSteps for a first
    training). `warm_start_steps` overrides the spec's. `supervised_only` turns the GRPO steps
    into as many more supervised ones: the control arm that says what GRPO adds."""
    if warm_start_steps is None:
        warm_start_steps = spec.feedback.cycle_warm_start_steps if cycle else spec.training.warm_start_steps
    t = spec.training
    lr = t.learning_rate * (spec.feedback.learning_rate_scale if cycle else 1.0)
    per_step = min(spec.data.train_batch_size, max(1, n_train))
    steps = max(1, t.epochs * n_train // per_step)
    if supervised_only:
        warm_start_steps, steps = warm_start_steps + steps, 0
    return TrainConfig(
        group_size=t.group_size,
        learning_rate=lr,
        entropy_coef=t.entropy_coef,
        kl_coef=t.kl_coef,
        weights=Weights.from_spec(t.reward_weights),
        sync_steps=t.sync_steps,
        advantage_norm=t.advantage_norm,
        max_response_length=spec.data.max_response_length,
        prompts_per_step=per_step,
        val_batch_size=spec.data.val_batch_size,
        warm_start_steps=warm_start_steps,
        grpo_steps=steps,
        eval_every=t.eval_every,
        save_every=t.save_every,
        max_minutes=max_minutes,
        curriculum=t.curriculum,
    )


@dataclass
class LoadedRows:
    train: list[Encoded]
    val: list[Encoded]
    skipped: dict[str, int]


def load_rows(
    store: Store,
    dataset: str,
    version: Optional[str],
    processor,
    config: VerifierConfig,
    max_prompt_length: Optional[int] = None,
    verifier_scores: bool = False,
) -> LoadedRows:
    """Encode a dataset version, its prompts' task words read with `config` (with
    `verifier_scores`, each row also carries the verifier's score under those rules); rows
    without a usable image or label, or whose prompt has more than max_prompt_length text tokens
    (image tokens excluded; spec.data.maxPromptLength, as verl filters overlong prompts), are
    skipped and counted."""
    verifier = Verifier(config) if verifier_scores else None
    ds = read_version(store, dataset, version)
    train, val, skipped = [], [], {"missing image": 0, "bad label": 0, "prompt too long": 0}
    for row in ds.rows:
        label = row["reward_model"]["ground_truth"]
        if label not in LABELS:
            skipped["bad label"] += 1
            log.warning("row %s skipped: label %r is not on-task or off-task", row["extra_info"]["id"], label)
            continue
        try:
            image = ds.image(row)
        except (StoreError, ImageRejected, DatasetError) as e:
            skipped["missing image"] += 1
            log.warning("row %s skipped: %s", row["extra_info"]["id"], e)
            continue
        task, windows = row["extra_info"]["task"], row_windows(row)
        v = verifier.verify(task, windows=windows).score if verifier is not None else None
        inputs = encode(processor, image, task, windows, config)
        if max_prompt_length is not None:
            ids = inputs["input_ids"]
            text_tokens = int(ids.numel() - (ids == processor.image_token_id).sum())
            if text_tokens > max_prompt_length:
                skipped["prompt too long"] += 1
                log.warning(
                    "row %s skipped: %d prompt tokens, over data.maxPromptLength %d",
                    row["extra_info"]["id"],
                    text_tokens,
                    max_prompt_length,
                )
                continue
        enc = Encoded(
            row["extra_info"]["id"],
            inputs,
            label,
            task,
            windows,
            v,
            judge_p_on=row["extra_info"].get("judge_p_on_task"),
            hard=bool(row["extra_info"].get("hard")),
            correction=row["extra_info"].get("correction") or None,
            replayed=row["extra_info"].get("reason") == "replay",
        )
        split = row["extra_info"]["split"]
        if split in ("train", "val"):  # a cycle's held-out corrections are the gate's, never trained on
            (val if split == "val" else train).append(enc)
    if not train:
        raise ValueError(f"dataset {dataset} {ds.version} has no usable training rows (skipped: {skipped})")
    return LoadedRows(train, val, skipped)


def next_model_version(store: Store, prefix: str) -> str:
    used = {k.split("/")[len(prefix.strip("/").split("/"))] for k in store.list(prefix)}
    n = max((int(v[1:]) for v in used if v.startswith("v") and v[1:].isdigit()), default=0)
    return f"v{n + 1}"


def training_device() -> torch.device:
    """This process's device: its own GPU (LOCAL_RANK, which torchrun sets when a pod runs one
    process per GPU) when there is one, else the CPU."""
    if not torch.cuda.is_available():
        return torch.device("cpu")
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    torch.cuda.set_device(device)  # before NCCL joins: its communicator binds the current device
    return device


def student_dtype(device: torch.device, lora_rank: int) -> torch.dtype:
    """The dtype the student's weights are loaded in. bf16 on a GPU when LoRA trains adapters over
    a frozen base: the base is only read (under bf16 autocast anyway), in half the memory. fp32
    where the weights themselves are trained: bf16 keeps 8 bits of mantissa, so an update 1e-6 the
    size of a weight (GRPO's learning rates) would be rounded away; and fp32 on the CPU, where bf16
    matmuls are slower.

    >>> student_dtype(torch.device("cuda", 0), 16), student_dtype(torch.device("cuda", 0), 0)
    (torch.bfloat16, torch.float32)
    >>> student_dtype(torch.device("cpu"), 16)
    torch.float32
    """
    return torch.bfloat16 if device.type == "cuda" and lora_rank > 0 else torch.float32


def init_distributed() -> tuple[int, int]:
    """Join the process group a PyTorchJob (or torchrun) describes in the environment
    (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE): gloo on CPU, NCCL on GPU. (rank, world)."""

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend=backend)
    if torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


STATE_FILE = "trainer_state.pt"


def _save_checkpoint(store: Store, prefix: str, trainer: Trainer, processor, verifier_config: VerifierConfig) -> None:
    """Model, processor, verifier rules and trainer state under prefix/step-<N>/, then
    `latest.json` last, so a reader never sees a half-written checkpoint as the latest."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ckpt"
        state = trainer.state_dict()
        if has_lora(trainer.model):
            # Base weights and adapters apart, so the resumed run trains the same adapters.
            trainer.model.save_pretrained(folder, state_dict=base_state_dict(trainer.model))
            state["adapters"] = adapter_state_dict(trainer.model)
        else:
            trainer.model.save_pretrained(folder)
        processor.save_pretrained(folder)
        verifier_config.write(folder)
        torch.save(state, folder / STATE_FILE)
        upload_folder(store, folder, f"{prefix}/step-{trainer.step}")
    store.put_bytes(f"{prefix}/latest.json", json.dumps({"step": trainer.step}).encode(), "application/json")


def _latest_checkpoint(store: Store, prefix: str, dest: Path) -> Optional[Path]:
    """The latest complete checkpoint, downloaded; None when there is none."""
    if not store.exists(f"{prefix}/latest.json"):
        return None
    step = json.loads(store.get_bytes(f"{prefix}/latest.json"))["step"]
    folder = download_prefix(store, f"{prefix}/step-{step}", dest)
    check_checkpoint(folder)
    if not (folder / STATE_FILE).is_file():
        raise CheckpointError(f"{store.uri(prefix)}/step-{step} has no {STATE_FILE}: cannot resume from it")
    return folder


def run_training(
    spec: TaskClassifierSpec,
    store: Store,
    classifier: str,
    dataset: str,
    base_model: str,
    dataset_version: Optional[str] = None,
    warm_start_steps: Optional[int] = None,
    max_minutes: Optional[float] = None,
    s3=None,
    stop_at: Optional[int] = None,
    model_version: Optional[str] = None,
    cycle: bool = False,
    verifier_config: Optional[VerifierConfig] = None,
    supervised_only: bool = False,
) -> dict:
    """Train from base_model on a dataset version; write models/<vN>/ and metrics under the
    classifier's prefix (a sync cycle, `cycle`, fine-tunes at the cycle's learning rate).
    Checkpoints go to checkpoints/<dataset>-<version>/ every saveEvery steps, and a run started
    again resumes from the latest one and continues the same run.
    The verifier scores rows and reads the prompts' task words with `verifier_config`'s rules
    (default: the base model's own, the built-in ones for a base checkpoint), and those rules are
    written beside the model: it is served and evaluated with the rules it was trained with.
    Returns a summary with the version and the final accuracy."""
    from ontask.data.dataset import list_versions

    device = training_device()
    rank, world = init_distributed()
    torch.manual_seed(0)
    prefix = classifier_prefix(classifier)
    if dataset_version is None:
        versions = list_versions(store, dataset)
        dataset_version = f"v{versions[-1]}" if versions else None
    ckpt_prefix = checkpoints_prefix(prefix, dataset, dataset_version)
    with tempfile.TemporaryDirectory() as tmp:
        resume = _latest_checkpoint(store, ckpt_prefix, Path(tmp) / "resume")
        # The rank a cycle or the spec names; unset, it follows the student's size (the 3B: LoRA).
        explicit = spec.feedback.lora_rank if cycle and spec.feedback.lora_rank is not None else spec.training.lora_rank
        # Loaded straight onto the device, in bf16 for a frozen LoRA base on a GPU and fp32 for
        # weights that train (student_dtype); forward passes run in bf16 there (trainer.mixed_precision).
        model, processor = load_vlm(
            str(resume) if resume else base_model,
            s3=s3,
            dtype=student_dtype(device, explicit if explicit is not None else 1),
            device=str(device),
        )
        lora_rank = explicit if explicit is not None else spec.training.lora_rank_for(model.num_parameters())
        if not lora_rank and next(model.parameters()).dtype != torch.float32:
            model.float()  # a small student trained whole: its weights stay fp32
        # The pixels serving will give the student (saved with the model, read back by serving).
        set_pixel_budget(processor.image_processor, spec.serving.model_max_pixels)
        if lora_rank:
            add_lora(model, lora_rank)
        if verifier_config is None:
            # A sync cycle starts from the serving model: its rules carry on into the candidate.
            verifier_config = model_verifier_config(resume or local_copy(base_model, s3))
        rows = load_rows(
            store,
            dataset,
            dataset_version,
            processor,
            verifier_config,
            spec.data.max_prompt_length,
            verifier_scores=True,
        )
        cfg = train_config(spec, len(rows.train), warm_start_steps, max_minutes, cycle, supervised_only)
        metrics_path = Path(tmp) / "metrics.jsonl"
        # The metrics so far, where `ontask monitor --follow` reads them.
        publish = (
            (
                lambda: store.put_bytes(
                    metrics_key(prefix, model_version), metrics_path.read_bytes(), "application/x-ndjson"
                )
            )
            if model_version
            else None
        )
        logger = (
            _reporting(jsonl_logger(metrics_path), cfg.warm_start_steps + cfg.grpo_steps, publish)
            if rank == 0
            else (lambda m: None)
        )
        logger(
            {
                "phase": "config",
                "step": 0,
                **config_dict(cfg),
                "world_size": world,
                "skipped_rows": rows.skipped,
                "train_rows": len(rows.train),
                "val_rows": len(rows.val),
                "base_model": base_model,
                "device": str(device),
            }
        )
        trainer = Trainer(
            model,
            processor,
            rows.train,
            rows.val or rows.train[:16],
            cfg,
            log=logger,
            on_checkpoint=(
                (lambda t: _save_checkpoint(store, ckpt_prefix, t, processor, verifier_config)) if rank == 0 else None
            ),
        )
        if cycle and resume is None:
            anchored = anchor_replayed_rows(model, rows.train, trainer.answers, spec.feedback.anchor_weight)
            logger({"phase": "anchor", "step": 0, "anchored_rows": anchored, "weight": spec.feedback.anchor_weight})
        if resume is not None:
            state = torch.load(resume / STATE_FILE, weights_only=True, map_location=device)
            if state.get("adapters"):
                model.load_state_dict(state["adapters"], strict=False)
            trainer.load_state_dict(state)
            logger({"phase": "resume", "step": trainer.step, "from": store.uri(f"{ckpt_prefix}/step-{trainer.step}")})
        history = trainer.train(stop_at=stop_at)
        if stop_at is not None and trainer.step < trainer.total_steps():
            return {
                "version": None,
                "val_accuracy": history[-1].get("val_accuracy"),
                "steps": trainer.step,
                "skipped": rows.skipped,
                "model_uri": None,
                "stopped": True,
            }
        if rank != 0:  # rank 0 alone writes the checkpoint and the metrics
            torch.distributed.barrier()
            return {
                "version": None,
                "val_accuracy": history[-1].get("val_accuracy"),
                "steps": history[-1]["step"],
                "skipped": rows.skipped,
                "model_uri": None,
                "rank": rank,
            }
        # The operator names the version, so a retried job writes the same one, not the next.
        version = model_version or next_model_version(store, models_prefix(prefix))
        out = Path(tmp) / "model"
        # A LoRA run is served as a plain checkpoint: adapters merged into the weights.
        model.save_pretrained(out, **({"state_dict": merged_state_dict(model)} if has_lora(model) else {}))
        processor.save_pretrained(out)
        verifier_config.write(out)
        hybrid = fit_model_hybrid(model, trainer.answers, rows.val, f"{dataset}:{dataset_version} val")
        if hybrid is not None:
            hybrid.write(out)
            logger({"phase": "hybrid", "step": trainer.step, **hybrid.model_dump()})
        check_checkpoint(out)
        upload_folder(store, out, model_key(prefix, version))
        store.put_bytes(metrics_key(prefix, version), metrics_path.read_bytes(), "application/x-ndjson")
    if world > 1:
        torch.distributed.barrier()
    final = history[-1].get("val_accuracy")
    return {
        "version": version,
        "val_accuracy": final,
        "steps": history[-1]["step"],
        "skipped": rows.skipped,
        "model_uri": store.uri(model_key(prefix, version)),
        "hybrid": hybrid.model_dump() if hybrid is not None else None,
    }


def _reporting(
    log: Callable[[dict], None],
    total_steps: int,
    publish: Optional[Callable[[], None]] = None,
    live: Optional[bool] = None,
) -> Callable[[dict], None]:
    """The metrics logger, also printing a line now and then (with an ETA), so a running job is
    not silent in `kubectl logs`, and publishing the metrics so far at every evaluation, so
    `ontask monitor --follow` draws a running job (the version being trained must be named).
    On a terminal (`live`, default: whether stdout is one) a progress bar runs under the lines."""
    from tqdm import tqdm

    live = sys.stdout.isatty() if live is None else live
    bar = tqdm(total=total_steps, desc="training", unit="step", dynamic_ncols=True) if live else None
    started, first_step = time.monotonic(), None

    def report(m: dict) -> None:
        nonlocal started, first_step
        log(m)
        step, training = int(m.get("step", 0)), m.get("phase") in ("warm-start", "grpo")
        eta = None
        if training and first_step is None:  # timed from here: the first evaluation is not a step
            started, first_step = time.monotonic(), step
        elif training and step > first_step:
            eta = (time.monotonic() - started) / (step - first_step) * max(0, total_steps - step)
        line = progress_line(m, total_steps, eta)
        if bar is not None:
            if training:
                bar.update(step - bar.n)
                bar.set_postfix({k: f"{m[k]:.3f}" for k in ("reward", "sft_loss", "val_accuracy") if k in m})
            if line is not None:
                bar.write(line)
            if m.get("phase") == "end":
                bar.close()
        elif line is not None:
            print(line, flush=True)
        if publish is not None and m.get("val_accuracy") is not None:
            publish()

    return report


def fit_model_hybrid(model, answers, val_rows: list, fitted_on: str) -> Optional[HybridFit]:
    """The student's weight beside the verifier, fitted on the validation rows it never trained on
    (rows without window evidence, where the verifier has nothing to say, are left out); None
    without such rows: the model is then served alone."""
    rows = [r for r in val_rows if r.verifier_p_on is not None and r.windows]
    if not rows:
        return None
    was = model.training
    model.eval()
    p_student = [p_on_task(model, r.inputs, answers) for r in rows]
    model.train(was)
    return fit_hybrid(p_student, [r.verifier_p_on for r in rows], [r.label for r in rows], fitted_on)
