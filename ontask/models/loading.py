"""Loading a Qwen2.5-VL checkpoint (the tiny one or a real one) from a folder, from S3 or from
the Hugging Face Hub.

A checkpoint is a folder as ``save_pretrained`` writes it. In a cluster, KServe's storage
initializer copies ``storageUri`` to /mnt/models before the predictor starts; elsewhere (the
training and data jobs, the embedded mode) an ``s3://`` URI is downloaded here first and an
``hf://org/name[@revision]`` one is fetched through the Hub's own cache (``HF_HOME``). The image
sets no offline switch: a Hub model is fetched where the cluster reaches the Hub, and an
air-gapped cluster gives its models as s3:// or pvc://, or sets ``HF_HUB_OFFLINE=1`` (the chart's
``models.offline``) to read Hub models from a pre-filled cache only. All end in the same
``from_pretrained`` call.
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


HUB_SCHEME = "hf://"


def hub_model(uri: str) -> Optional[tuple[str, Optional[str]]]:
    """(repo id, revision or None) of an hf:// URI: ``hf://org/name@revision`` (a pinned commit,
    tag or branch), or ``hf://org/name:revision`` as KServe's storage initializer writes it; None for
    any other URI.

    >>> hub_model("hf://Qwen/Qwen2.5-VL-3B-Instruct@66285546d2b821cf421d4f5eb2576359d3770cd3")
    ('Qwen/Qwen2.5-VL-3B-Instruct', '66285546d2b821cf421d4f5eb2576359d3770cd3')
    >>> hub_model("hf://Qwen/Qwen2.5-VL-3B-Instruct:main"), hub_model("s3://b/m")
    (('Qwen/Qwen2.5-VL-3B-Instruct', 'main'), None)
    """
    if not uri.startswith(HUB_SCHEME):
        return None
    rest = uri.removeprefix(HUB_SCHEME)
    repo, sep, revision = rest.partition("@")
    if not sep:
        repo, _, revision = rest.partition(":")
    if repo.count("/") != 1 or not all(repo.split("/")) or (sep and not revision):
        raise CheckpointError(f"{uri} is not a Hub model URI: expected hf://<org>/<name>[@<revision>]")
    return repo, revision or None


def _hub_copy(repo: str, revision: Optional[str]) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo, revision=revision))
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError, ValueError) as e:
        where = "the Hub cache (HF_HUB_OFFLINE is set)" if os.environ.get("HF_HUB_OFFLINE") else "the Hugging Face Hub"
        raise CheckpointError(f"cannot fetch {repo} from {where}: {e}") from e


def local_copy(uri: str, s3: Optional[S3Config] = None, cache_root: Optional[Path] = None) -> Path:
    """A local folder holding the checkpoint at uri (downloaded once per URI for s3:// and hf://)."""
    hub = hub_model(uri)
    if hub is not None:
        return _hub_copy(*hub)
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
    """Load a Qwen2.5-VL model and its processor from a folder, file://, s3:// or hf:// URI, in
    `dtype` on `device`.

    On a GPU the weights go straight onto it (from_pretrained's device_map places each tensor as it
    is read): loaded on the host first and moved, a 3B model in fp32 would hold about 15 GB of the
    pod's memory, which also holds /dev/shm."""
    folder = local_copy(uri, s3)
    check_checkpoint(folder)
    processor = AutoProcessor.from_pretrained(folder)
    if not hasattr(processor, "image_processor"):
        raise CheckpointError(f"{folder} has no image processor (processor_config.json / preprocessor_config.json)")
    placed = {} if device == "cpu" else {"device_map": device}
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(folder, dtype=dtype, **placed)
    model.eval()
    return model, processor
