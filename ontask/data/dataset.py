"""Versioned datasets in the artifact store, in verl's RL dataset layout.

A version lives under ``datasets/<name>/v<N>/``:

- ``data.parquet``: one row per (screenshot, task) with verl's columns ``data_source``,
  ``prompt`` (chat messages with an ``<image>`` placeholder), ``images`` (``[{"path": key}]``,
  relative to the version), ``ability``, ``reward_model`` {style, ground_truth} and
  ``extra_info`` {split, index, id, task, windows, label_source, hard, hard_kind, reason, ...};
- ``images/<sha256>.png``: each image once, named by its content hash;
- ``manifest.json``: written last, so a version without it is incomplete and ignored. It holds
  the row count per split, the SHA-256 of every image and of the parquet file, the parent
  version and whatever made it. A version is never overwritten.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Optional

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from ontask.api.spec import DataSpec
from ontask.images import decode_image, encode_png, sha256
from ontask.prompt import verl_prompt
from ontask.store import Store, StoreError
from ontask.store_paths import dataset_prefix
from ontask.verify.config import VerifierConfig, builtin_verifier_config

ABILITY = "screen-classification"
# Label sources that are a person's word (ontask.feedback's correction sources).
HUMAN_SOURCES = ("user", "reviewer")
VERSION_RE = re.compile(r"^v(\d+)$")


class DatasetError(RuntimeError):
    """A dataset version is missing, incomplete or inconsistent."""


@dataclass
class Example:
    """One (screenshot, task) pair before it becomes a row."""

    id: str
    image: Image.Image
    task: str
    label: Optional[str]
    label_source: str
    windows: list[dict[str, Any]] = field(default_factory=list)
    split: str = "train"
    hard: bool = False
    hard_kind: Optional[str] = None
    reason: str = ""
    meta: dict[str, Any] = field(default_factory=dict)  # scene, role, task id, parent, variant ops...
    judge_p_on: Optional[float] = None  # the judge's P(on-task) where it labelled the row

    @property
    def correction(self) -> Optional[str]:
        """The label a person gave (a user's or reviewer's correction): the plain label the reward
        follows on this row, whatever the judge or the verifier say."""
        return self.label if self.label_source in HUMAN_SOURCES else None


# The share of a bootstrap's rows held out for validation unless a spec says otherwise.
VAL_FRACTION: float = DataSpec.model_fields["validation_share"].default


def split_for(example_id: str, val_fraction: float = VAL_FRACTION) -> str:
    """A stable split from the id's hash: the same example always lands in the same split (and a
    larger `val_fraction` only moves rows from train to val, never back)."""
    h = int(hashlib.sha256(example_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "val" if h < val_fraction else "train"


def to_row(ex: Example, index: int, image_key: str, data_source: str, config: VerifierConfig) -> dict[str, Any]:
    """The verl-layout row of an example, its prompt's task words read with `config`."""
    return {
        "data_source": data_source,
        "prompt": verl_prompt(ex.task, ex.windows, config),
        "images": [{"path": image_key}],
        "ability": ABILITY,
        "reward_model": {"style": "rule", "ground_truth": ex.label or ""},
        "extra_info": {
            "split": ex.split,
            "index": index,
            "id": ex.id,
            "task": ex.task,
            "windows": json.dumps(ex.windows),
            "label_source": ex.label_source,
            "hard": ex.hard,
            "hard_kind": ex.hard_kind or "",
            "reason": ex.reason,
            "image_sha256": image_key.rsplit("/", 1)[-1].split(".")[0],
            "meta": json.dumps(ex.meta, sort_keys=True),
            # What the reward reads besides the label (ontask.rewards.verl.compute_score's keys).
            "judge_p_on_task": ex.judge_p_on,
            "correction": ex.correction or "",
        },
    }


def list_versions(store: Store, name: str) -> list[int]:
    """Complete versions of a dataset (those with a manifest), ascending."""
    found = set()
    for key in store.list(dataset_prefix(name)):
        parts = key.split("/")
        if len(parts) == 4 and parts[3] == "manifest.json" and VERSION_RE.match(parts[2]):
            found.add(int(parts[2][1:]))
    return sorted(found)


def _next_version(store: Store, name: str) -> int:
    used = set(list_versions(store, name))
    for key in store.list(dataset_prefix(name)):
        m = VERSION_RE.match(key.split("/")[2]) if key.count("/") >= 2 else None
        if m:
            used.add(int(m.group(1)))  # also skip half-written versions: never write into them
    return max(used, default=0) + 1


def write_version(
    store: Store,
    name: str,
    examples: Iterable[Example],
    data_source: str,
    made_by: dict[str, Any],
    parent: Optional[str] = None,
    rejected: Optional[list[dict[str, str]]] = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Write a new version of dataset `name`; returns its manifest."""
    if not re.match(r"^[a-z0-9][a-z0-9._-]{0,62}$", name):
        raise DatasetError(f"dataset name {name!r}: use lowercase letters, digits, '.', '_' or '-'")
    version = _next_version(store, name)
    prefix = dataset_prefix(name, f"v{version}")
    rows, images = [], {}
    # A dataset belongs to no model yet: its verl prompts read the built-in rules (`ontask export
    # verl` writes them again with the rules it exports).
    rules = builtin_verifier_config()
    items = examples
    if progress:
        from tqdm import tqdm

        items = tqdm(examples, desc=f"writing {name} v{version}", unit="row")
    for ex in items:
        png = encode_png(ex.image)
        digest = sha256(png)
        key = f"images/{digest}.png"
        if digest not in images:
            store.put_bytes(f"{prefix}/{key}", png, content_type="image/png")
            images[digest] = key
        rows.append(to_row(ex, len(rows), key, data_source, rules))
    if not rows:
        raise DatasetError(
            f"no usable rows for dataset {name!r}" + (f" ({len(rejected)} rejected)" if rejected else "")
        )
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    parquet = buf.getvalue()
    store.put_bytes(f"{prefix}/data.parquet", parquet)
    splits: dict[str, int] = {}
    labels: dict[str, int] = {}
    for r in rows:
        splits[r["extra_info"]["split"]] = splits.get(r["extra_info"]["split"], 0) + 1
        gt = r["reward_model"]["ground_truth"] or "unlabeled"
        labels[gt] = labels.get(gt, 0) + 1
    manifest = {
        "name": name,
        "version": f"v{version}",
        "created": dt.datetime.now(dt.timezone.utc).isoformat(),
        "rows": len(rows),
        "splits": splits,
        "labels": labels,
        "hard_rows": sum(1 for r in rows if r["extra_info"]["hard"]),
        "parquet_sha256": sha256(parquet),
        "images": {d: k for d, k in sorted(images.items())},
        "parent": parent,
        "made_by": made_by,
        "rejected": rejected or [],
        "layout": "verl-rl (data_source, prompt, images, ability, reward_model, extra_info)",
    }
    store.put_bytes(f"{prefix}/manifest.json", json.dumps(manifest, indent=1).encode(), "application/json")
    return manifest


@dataclass
class DatasetVersion:
    """A complete dataset version read back from the store."""

    store: Store
    name: str
    version: str
    manifest: dict[str, Any]
    rows: list[dict[str, Any]]

    @property
    def prefix(self) -> str:
        return dataset_prefix(self.name, self.version)

    def image(self, row: dict[str, Any]) -> Image.Image:
        """The screenshot of a row, checked against its recorded content hash."""
        key = row["images"][0]["path"]
        data = self.store.get_bytes(f"{self.prefix}/{key}")
        if sha256(data) != row["extra_info"]["image_sha256"]:
            raise DatasetError(f"{self.store.uri(self.prefix + '/' + key)}: content hash mismatch")
        return decode_image(data, key)

    def split(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["extra_info"]["split"] == name]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)


def read_version(store: Store, name: str, version: Optional[str] = None) -> DatasetVersion:
    """Read a version (the latest complete one by default), verifying the parquet's hash."""
    if version is None:
        versions = list_versions(store, name)
        if not versions:
            raise DatasetError(f"dataset {name!r} has no complete version in {store.uri(dataset_prefix(name))}")
        version = f"v{versions[-1]}"
    prefix = dataset_prefix(name, version)
    try:
        manifest = json.loads(store.get_bytes(f"{prefix}/manifest.json"))
        parquet = store.get_bytes(f"{prefix}/data.parquet")
    except StoreError as e:
        raise DatasetError(f"dataset {name} {version} is missing or incomplete: {e}") from e
    if sha256(parquet) != manifest["parquet_sha256"]:
        raise DatasetError(f"dataset {name} {version}: data.parquet does not match its manifest hash")
    rows = pq.read_table(io.BytesIO(parquet)).to_pylist()
    return DatasetVersion(store, name, version, manifest, rows)


def row_windows(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The window evidence of a row."""
    return json.loads(row["extra_info"]["windows"] or "[]")


def row_meta(row: dict[str, Any]) -> dict[str, Any]:
    return json.loads(row["extra_info"]["meta"] or "{}")
