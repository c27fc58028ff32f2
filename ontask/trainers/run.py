"""`ontask train`: a dataset version in, a model version and a metrics JSONL out, both through
the artifact store, with the settings of a TaskClassifier spec."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Optional

import torch

from ontask.api import TaskClassifierSpec
from ontask.evaluation.hybrid import fit_hybrid
from ontask.images import set_pixel_budget
from ontask.models.answer import p_on_task
from ontask.models.hybrid import HybridFit
from ontask.models.loading import CheckpointError, check_checkpoint, load_vlm, local_copy
from ontask.store import Store, download_prefix, upload_folder
from ontask.store_paths import checkpoints_prefix, classifier_prefix, metrics_key, model_key, models_prefix
from ontask.trainers.config import config_dict, train_config
from ontask.trainers.lora import adapter_state_dict, add_lora, base_state_dict, has_lora, merged_state_dict
from ontask.trainers.reporting import jsonl_logger, progress_reporter
from ontask.trainers.rows import load_rows
from ontask.trainers.trainer import Trainer, anchor_replayed_rows
from ontask.verify import VerifierConfig, model_verifier_config


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
            progress_reporter(jsonl_logger(metrics_path), cfg.warm_start_steps + cfg.grpo_steps, publish)
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
