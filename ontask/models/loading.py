"""Loading a Qwen2.5-VL checkpoint (the tiny one or a real one) from a folder or from S3.

A checkpoint is a folder as ``save_pretrained`` writes it. In a cluster, KServe's storage
initializer copies ``storageUri`` to /mnt/models before the predictor starts; elsewhere an
``s3://`` URI is downloaded here first. Both end in the same ``from_pretrained`` call.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Optional

import torch
from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration
from transformers.processing_utils import ProcessorMixin

from ontask.store import S3Config, StoreError, download_prefix, open_store

REQUIRED_FILES = ("config.json", "tokenizer_config.json")


class CheckpointError(RuntimeError):
    """A checkpoint folder is missing, incomplete or corrupt."""


def local_copy(uri: str, s3: Optional[S3Config] = None, cache_root: Optional[Path] = None) -> Path:
    """A local folder holding the checkpoint at uri (downloaded once per URI for s3://)."""
    if not uri.startswith("s3://"):
        path = Path(uri.removeprefix("file://"))
        if not path.is_dir():
            raise CheckpointError(f"checkpoint folder {path} does not exist")
        return path
    root = cache_root or Path(os.environ.get("ONTASK_MODEL_CACHE", Path.home() / ".cache" / "ontask" / "models"))
    dest = root / hashlib.sha256(uri.encode()).hexdigest()[:16]
    marker = dest / ".ontask-complete"
    if not marker.exists():
        try:
            download_prefix(open_store(uri, s3), "", dest)
        except StoreError as e:
            raise CheckpointError(f"cannot download checkpoint {uri}: {e}") from e
        marker.write_text(uri)
    return dest


def check_checkpoint(folder: Path) -> None:
    """Refuse a folder that is not a loadable checkpoint, naming what is wrong."""
    for name in REQUIRED_FILES:
        if not (folder / name).is_file():
            raise CheckpointError(f"{folder} is not a checkpoint: {name} is missing")
    try:
        json.loads((folder / "config.json").read_text())
    except ValueError as e:
        raise CheckpointError(f"{folder}/config.json is not valid JSON: {e}") from e
    weights = list(folder.glob("*.safetensors"))
    if not weights:
        raise CheckpointError(f"{folder} is not a checkpoint: no *.safetensors weights")
    from safetensors import safe_open

    for w in weights:
        try:
            with safe_open(str(w), framework="pt") as f:
                f.keys()
        except Exception as e:  # noqa: BLE001 - safetensors raises several types for a bad file
            raise CheckpointError(f"{w} is corrupt: {e}") from e


def accelerator() -> tuple[str, torch.dtype]:
    """Where a served model runs in this process: the GPU in bf16 when one is visible, else the
    CPU in fp32 (bf16 matmuls on a CPU are slower than fp32 ones)."""
    if torch.cuda.is_available():
        return "cuda", torch.bfloat16
    return "cpu", torch.float32


def load_vlm(
    uri: str,
    s3: Optional[S3Config] = None,
    dtype: torch.dtype = torch.float32,
    device: str = "cpu",
) -> tuple[Qwen2_5_VLForConditionalGeneration, ProcessorMixin]:
    """Load a Qwen2.5-VL model and its processor from a folder, file:// or s3:// URI."""
    folder = local_copy(uri, s3)
    check_checkpoint(folder)
    processor = AutoProcessor.from_pretrained(folder)
    if not hasattr(processor, "image_processor"):
        raise CheckpointError(f"{folder} has no image processor (processor_config.json / preprocessor_config.json)")
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(folder, dtype=dtype).to(device)
    model.eval()
    return model, processor
