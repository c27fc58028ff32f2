"""`ontask data prepare`: a customer's screenshots and tasks become a dataset version.

Input: a folder of images with a task given for all of them, or a JSONL manifest (also found
as ``manifest.jsonl`` inside a folder) with one object per line::

    {"image": "shots/0001.png", "task": "Answer refund tickets", "label": "on-task",
     "windows": [{"app": "Firefox", "title": "Refund #4821 - Zendesk", "url": "https://...", "focused": true}],
     "id": "optional stable id", "split": "train|val (default: from the id's hash)",
     "hardKind": "optional hard-case family, e.g. right-tool-other-task", "meta": {"app": "..."}}

Every bad item (not an image, truncated, too large, empty task, unknown label) is rejected
with a reason naming its file, and the rest of the batch goes through. Items without a label
get one from the labeller when one is given (the judge and the verifier), else they are kept
as unlabeled; each row records where its label came from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from pydantic import ValidationError

from ontask.api import WindowInfo
from ontask.data.dataset import VAL_FRACTION, DatasetError, Example, split_for, write_version
from ontask.data.labelling import Labelled
from ontask.images import ImageLimits, ImageRejected, decode_image, sha256
from ontask.labels import LABELS
from ontask.store import Store

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif"}

# (image, task, windows) -> (label, source) or None when it cannot decide.
Labeller = Callable[[Any, str, list[dict]], Optional[Labelled]]


@dataclass
class PrepareResult:
    manifest: dict[str, Any]
    rejected: list[dict[str, str]] = field(default_factory=list)
    unlabeled: int = 0
    twins: int = 0


def _items(source: Path, task: Optional[str]) -> tuple[Path, list[dict[str, Any]]]:
    manifest = source if source.is_file() else source / "manifest.jsonl"
    if manifest.is_file():
        items = []
        for n, line in enumerate(manifest.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError("not a JSON object")
            except ValueError as e:
                items.append({"_error": f"{manifest.name} line {n}: invalid JSON ({e})", "image": f"line {n}"})
                continue
            items.append(obj)
        return manifest.parent, items
    if not source.is_dir():
        raise FileNotFoundError(f"{source}: no such folder or manifest")
    if task is None:
        raise ValueError(f"{source} has no manifest.jsonl: give the task of these screenshots with --task")
    files = sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith("."))
    return source, [{"image": p.name, "task": task} for p in files]


def prepare(
    source: str | Path,
    store: Store,
    name: str,
    task: Optional[str] = None,
    labeller: Optional[Labeller] = None,
    limits: ImageLimits = ImageLimits(),
    progress: bool = False,
    other_task_twins: bool = False,
    val_fraction: float = VAL_FRACTION,
) -> PrepareResult:
    """Validate, label and write a customer's screenshots as a new dataset version; with
    `other_task_twins`, each on-task row with window evidence also gets its off-task twin
    (`ontask.data.variants.other_task_twin`), in its parent's split; a row without a split of its own
    is held out for validation with probability `val_fraction`. An s3://bucket/prefix source (a spec's
    data.source) is copied to a temporary folder first."""
    if str(source).startswith("s3://"):
        import tempfile

        from ontask.store import download_prefix, open_store

        with tempfile.TemporaryDirectory(prefix="ontask-source-") as tmp:
            # The user's own data, read only: its bucket is never created.
            download_prefix(open_store(str(source), create_bucket=False), "", tmp)
            return prepare(tmp, store, name, task, labeller, limits, progress, other_task_twins, val_fraction)
    base, items = _items(Path(source), task)
    rejected: list[dict[str, str]] = []
    examples: list[Example] = []
    unlabeled = 0
    twins: list[Example] = []
    iterator = items
    if progress:
        from tqdm import tqdm

        iterator = tqdm(items, desc="preparing", unit="image")
    for item in iterator:
        name_ = str(item.get("image") or "?")
        try:
            if "_error" in item:
                raise ValueError(item["_error"])
            if not item.get("image"):
                raise ValueError("no image given")
            path = base / name_
            if not path.resolve().is_relative_to(base.resolve()):
                raise ValueError(f"{name_}: outside the manifest's folder")
            if not path.is_file():
                raise ValueError(f"{name_}: file not found")
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                raise ImageRejected(f"{name_}: not an image file (suffix {path.suffix or 'none'})")
            data = path.read_bytes()
            image = decode_image(data, name_, limits)
            text = str(item.get("task") or "").strip()
            if not text:
                raise ValueError(f"{name_}: empty task description")
            windows = [WindowInfo.model_validate(w).wire() for w in item.get("windows") or []]
            label, source_, judge_p = item.get("label"), "manifest", None
            if label is not None and label not in LABELS:
                raise ValueError(f"{name_}: label {label!r} is not on-task or off-task")
            if label is None and labeller is not None:
                decided = labeller(image, text, windows)
                if decided:
                    label, source_, judge_p = decided
            if label is None:
                source_, unlabeled = "unlabeled", unlabeled + 1
            example_id = str(item.get("id") or f"img-{sha256(data)[:16]}-{sha256(text.encode())[:8]}")
            split = item.get("split") or split_for(example_id, val_fraction)
            if split not in ("train", "val"):
                raise ValueError(f"{name_}: split {split!r} is not train or val")
            hard_kind = item.get("hardKind") or item.get("hard_kind")
            meta = item.get("meta") if isinstance(item.get("meta"), dict) else {}
            examples.append(
                Example(
                    id=example_id,
                    image=image,
                    task=text,
                    label=label,
                    label_source=source_,
                    windows=windows,
                    split=split,
                    hard=bool(hard_kind),
                    hard_kind=hard_kind,
                    meta={**meta, "file": name_, "source_sha256": sha256(data)},
                    judge_p_on=judge_p,
                )
            )
        except (ImageRejected, ValueError, ValidationError, OSError) as e:
            reason = str(e) if name_ in str(e) else f"{name_}: {e}"
            rejected.append({"file": name_, "reason": reason})
    if other_task_twins:
        from ontask.data.variants import other_task_twin

        twins = [t for t in (other_task_twin(ex) for ex in examples if ex.windows) if t is not None]
        examples += twins
    if not examples:
        raise DatasetError(f"no usable rows in {source}: " + "; ".join(r["reason"] for r in rejected))
    manifest = write_version(
        store,
        name,
        examples,
        data_source=f"ontask/{name}",
        made_by={"command": "prepare", "source": str(source)},
        rejected=rejected,
        progress=progress,
    )
    return PrepareResult(manifest, rejected, unlabeled, len(twins))
