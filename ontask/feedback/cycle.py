"""Each sync cycle's data: the prioritised corrections, their synthetic variants and a replay
sample of earlier training data, written as a new dataset version; and the cycle marker in the
store that the operator acts on.

Whole corrections are held out, never single rows: a correction and all its variants land in
one split, chosen from the correction's id (stable across cycles, so a correction held out once
is never trained on later). `train` is what the candidate learns from, `val` what its training
reports and its hybrid is fitted on (the validation corrections, and the calibration half of the
replayed dataset's validation rows, copied in, so that the hybrid sees the family and the rest),
`holdout` what the promotion gate scores the corrected families on. The gate's other slice, the
regression set, is the other half of the replayed dataset's validation rows (is_regression_row),
named in the manifest (`made_by.regression`) rather than copied: fixed across cycles, and neither
trained nor fitted on by any cycle; the reviewed corrections earlier cycles held out join it
(ontask.evaluation.evaluate.gate_sets).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from typing import Any, Iterator, Optional

from ontask.api import FeedbackSpec
from ontask.data.dataset import (
    DatasetError,
    Example,
    list_versions,
    read_version,
    row_meta,
    row_windows,
    write_version,
)
from ontask.data.variants import make_variants
from ontask.evaluation.gate import is_regression_row
from ontask.feedback.buffer import Entry
from ontask.feedback.evidence import read_evidence
from ontask.feedback.state import CycleProgress
from ontask.images import DEFAULT_MAX_BYTES, decode_image
from ontask.labels import LABELS
from ontask.store import Conflict, NotFound, Store, StoreError, read_reference
from ontask.store_paths import cycle_decision_key, cycle_marker_key, feedback_dataset


def cycle_due(cycle: CycleProgress, spec: FeedbackSpec, now: float) -> bool:
    """cycleEvery new corrections, or any new ones that have waited maxCycleWaitMinutes."""
    if cycle.new >= spec.cycle_every:
        return True
    first = cycle.first_new_at
    return cycle.new > 0 and first is not None and now - first >= spec.max_cycle_wait_minutes * 60


def correction_split(correction_id: str, holdout_fraction: float) -> str:
    """The split of a correction and all its variants: `holdout` for a `holdout_fraction` of the
    ids, `val` for as many again, `train` for the rest; from the id's hash, so stable.

    >>> sorted({correction_split(f"c-{i}", 0.2) for i in range(50)})
    ['holdout', 'train', 'val']
    >>> correction_split("c-1", 0.0)
    'train'
    """
    h = int(hashlib.sha256(f"correction:{correction_id}".encode()).hexdigest()[:8], 16) / 0x100000000
    if h < holdout_fraction:
        return "holdout"
    return "val" if h < 2 * holdout_fraction else "train"


def _screenshot(store: Store, e: Entry):
    if e.image_key is None:
        return None
    try:
        if e.image_key.startswith("s3://"):
            data = read_reference(e.image_key, DEFAULT_MAX_BYTES, through=store)  # a correction's own reference
        elif e.image_range is not None:  # one member of a pack (the collector checked its size)
            data = store.get_range(e.image_key, *e.image_range)
        else:
            data = store.get_bytes(e.image_key, max_bytes=DEFAULT_MAX_BYTES)
        return decode_image(data, e.image_key)
    except (StoreError, ValueError):
        return None


def _windows(store: Store, e: Entry) -> Optional[list[dict[str, Any]]]:
    try:
        return read_evidence(store, e)
    except (StoreError, ValueError):
        return None


def correction_examples(store: Store, entries: list[Entry], holdout_fraction: float = 0.0) -> Iterator[Example]:
    """Buffer entries as rows (those whose screenshot and evidence are still readable), one at a
    time, each in its correction's split (correction_split): a cycle holds one decoded
    screenshot, not all."""
    for e in entries:
        windows = _windows(store, e)
        image = _screenshot(store, e) if windows is not None else None
        if image is None:
            continue
        yield Example(
            id=f"fb-{e.id}",
            image=image,
            task=e.task,
            label=e.label,
            label_source=e.source,
            windows=windows,
            split=correction_split(e.id, holdout_fraction),
            hard=True,
            hard_kind="correction",
            reason=f"{e.source} correction" + (f" of {e.predicted_label}" if e.predicted_label else ""),
            meta={"correction": e.id, "edge_case": e.edge_case},
        )


def window_apps(windows: Optional[list[dict[str, Any]]]) -> frozenset[str]:
    """The apps a screenshot's windows name, lower-cased: what replay_choice compares."""
    return frozenset(a.strip().lower() for w in windows or [] if (a := w.get("app") or "").strip())


def _likeness(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two sets of apps (0 when both are empty)."""
    return len(a & b) / len(a | b) if a | b else 0.0


def replay_choice(
    rows: list[dict[str, Any]],
    corrected: list[tuple[str, str, frozenset[str]]],
    n: int,
    contrast_share: float,
    seed: int,
) -> list[dict[str, Any]]:
    """n of an earlier version's training `rows`, reproducibly: up to `contrast_share` of them the
    other label's rows of the corrected (task, label, apps) triples, taken in turn so each
    correction's task has its contrast, and for each correction those whose windows name the
    apps most like its own first (the screens nearest to the one corrected, where a correction
    must end: a music player in front of the work made on-task, the same work behind a video
    stays off-task); the rest sampled from all rows, none twice.

    >>> rows = [{"task": t, "label": l, "id": i, "apps": frozenset(a)} for i, (t, l, a) in enumerate(
    ...     [("a", "off-task", {"video", "editor"}), ("a", "off-task", {"chat"})] * 2
    ...     + [("a", "on-task", {"editor"})] * 3 + [("b", "off-task", {"editor"})] * 3)]
    >>> music = [("a", "on-task", frozenset({"music", "editor"}))]
    >>> [sorted(r["apps"]) for r in replay_choice(rows, music, 2, 1.0, seed=1)]
    [['editor', 'video'], ['editor', 'video']]
    >>> len({r["id"] for r in replay_choice(rows, music, 10, 0.5, seed=1)})
    10
    """
    rng = random.Random(seed)
    pools: dict[tuple[str, str, frozenset[str]], list[dict[str, Any]]] = {}
    for task, label, apps in dict.fromkeys(corrected):  # each correction's kind once, in order
        pool = [r for r in rows if r["task"] == task and r["label"] != label]
        if pool:
            # Shuffled, then ordered by likeness (a stable sort: like rows stay shuffled among
            # themselves); the most like last, where pop() takes them first.
            ranked = sorted(rng.sample(pool, len(pool)), key=lambda r: _likeness(apps, r.get("apps", frozenset())))
            pools[(task, label, apps)] = ranked
    chosen: dict[int, dict[str, Any]] = {}
    want = min(round(contrast_share * n), n)
    while len(chosen) < want and any(pools.values()):
        for pool in pools.values():
            while pool and id(pool[-1]) in chosen:
                pool.pop()
            if pool and len(chosen) < want:
                row = pool.pop()
                chosen[id(row)] = row
    rest = [r for r in rows if id(r) not in chosen]
    picked = list(chosen.values()) + rng.sample(rest, min(n - len(chosen), len(rest)))
    return picked


def replay_examples(
    store: Store,
    dataset: str,
    version: Optional[str],
    n: int,
    seed: int,
    corrected: list[tuple[str, str, frozenset[str]]] = (),
    contrast_share: float = 0.0,
) -> Iterator[Example]:
    """n training rows of an earlier dataset version (replay_choice: part of them the corrected
    tasks' rows of the other label); each image is read when its row is reached."""
    if n <= 0:
        return
    ds = read_version(store, dataset, version)
    rows = [
        {
            "task": r["extra_info"]["task"],
            "label": r["reward_model"]["ground_truth"],
            "apps": window_apps(row_windows(r)),
            "row": r,
        }
        for r in ds.split("train")
        if r["reward_model"]["ground_truth"] in LABELS
    ]
    for choice in replay_choice(rows, list(corrected), n, contrast_share, seed):
        r = choice["row"]
        yield _copied(ds, r, f"replay-{r['extra_info']['id']}", "train", "replay")


def calibration_examples(store: Store, dataset: str, version: Optional[str]) -> Iterator[Example]:
    """The validation rows of an earlier dataset version that are not its regression set, as a
    cycle's `val` rows (the candidate's hybrid is fitted on them with the validation corrections)."""
    ds = read_version(store, dataset, version)
    for r in ds.split("val"):
        if r["reward_model"]["ground_truth"] in LABELS and not is_regression_row(r["extra_info"]["id"]):
            yield _copied(ds, r, f"calibration-{r['extra_info']['id']}", "val", "calibration")


def _copied(ds, r: dict[str, Any], new_id: str, split: str, reason: str) -> Example:
    """A row of an earlier dataset version in a cycle's dataset, its label's provenance (source,
    the judge's probability) kept; its image is read when the row is reached."""
    return Example(
        id=new_id,
        image=ds.image(r),
        task=r["extra_info"]["task"],
        label=r["reward_model"]["ground_truth"],
        label_source=r["extra_info"]["label_source"],
        windows=row_windows(r),
        split=split,
        hard=bool(r["extra_info"]["hard"]),
        hard_kind=r["extra_info"].get("hard_kind"),
        reason=reason,
        meta=row_meta(r),
        judge_p_on=r["extra_info"].get("judge_p_on_task"),
    )


def assemble_cycle(
    store: Store,
    classifier: str,
    number: int,
    entries: list[Entry],
    spec: FeedbackSpec,
    replay_dataset: Optional[str] = None,
    replay_version: Optional[str] = None,
) -> dict[str, Any]:
    """Write cycle `number`'s dataset version; returns its manifest. Rows stream into the dataset
    writer one correction (and its variants) at a time, so memory does not grow with the number
    of corrections."""
    if replay_dataset and replay_version is None:
        versions = list_versions(store, replay_dataset)
        replay_version = f"v{versions[-1]}" if versions else None
    made_by: dict[str, Any] = {
        "command": "cycle",
        "classifier": classifier,
        "cycle": number,
        "corrections": 0,
        "corrections_by_split": {"train": 0, "val": 0, "holdout": 0},
        "holdout_fraction": spec.holdout_fraction,
        "replay": replay_dataset,
        # The gate's regression set: part of the classifier's own held-out rows, fixed across cycles.
        "regression": {"dataset": replay_dataset, "version": replay_version, "split": "val", "part": "regression"}
        if replay_dataset
        else None,
    }

    def rows() -> Iterator[Example]:
        written, corrected = 0, []
        for ex in correction_examples(store, entries, spec.holdout_fraction):
            made_by["corrections"] += 1
            made_by["corrections_by_split"][ex.split] += 1
            variants = make_variants(ex, spec.variants_per_correction, seed=number)
            yield ex
            yield from variants
            if ex.split == "train":  # replay is sized on what the candidate trains on
                written += 1 + len(variants)
                corrected.append((ex.task, ex.label, window_apps(ex.windows)))
        if not made_by["corrections"]:
            raise DatasetError(f"cycle {number}: no correction has a readable screenshot")
        if replay_dataset:
            n = round(spec.replay_ratio * written)
            yield from replay_examples(store, replay_dataset, replay_version, n, number, corrected, spec.contrast_share)
            yield from calibration_examples(store, replay_dataset, replay_version)

    return write_version(store, feedback_dataset(classifier), rows(), "ontask/feedback", made_by)


def marker_key(prefix: str, number: int) -> str:
    return cycle_marker_key(prefix, number)


def write_marker(store: Store, prefix: str, number: int, manifest: dict[str, Any], correction_ids: list[str]) -> dict:
    """The durable cycle event: which dataset version cycle `number` trains on. Written once: if
    another writer's marker for this number is already there, that one stands and is returned."""
    marker = {
        "cycle": number,
        "dataset": manifest["name"],
        "version": manifest["version"],
        "rows": manifest["rows"],
        "corrections": correction_ids,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    try:
        store.put_if(marker_key(prefix, number), json.dumps(marker).encode(), "application/json", None)
    except Conflict:
        return json.loads(store.get_bytes(marker_key(prefix, number)))
    return marker


def write_decision(store: Store, prefix: str, number: int, outcome: str) -> None:
    """The operator's word that cycle `number` is decided (its outcome: the Trained condition's
    reason), so the collector may write the next cycle's data. Idempotent."""
    body = {"cycle": number, "outcome": outcome, "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    store.put_bytes(cycle_decision_key(prefix, number), json.dumps(body).encode(), "application/json")


def next_cycle_open(store: Store, prefix: str, number: int, replay_dataset: Optional[str]) -> bool:
    """Whether a collector that last wrote cycle `number`'s marker may write the next one: that
    cycle was decided (or none was written yet and the classifier's own dataset, which the cycle
    replays, exists). One cycle in flight at a time, as the operator trains them."""
    if number == 0:
        return replay_dataset is None or bool(list_versions(store, replay_dataset))
    return store.exists(cycle_decision_key(prefix, number))


def read_marker(store: Store, prefix: str, number: int) -> Optional[dict]:
    """Cycle `number`'s marker, None when it was not written; any other store error is raised
    (a marker that could not be read must not be written again)."""
    try:
        return json.loads(store.get_bytes(marker_key(prefix, number)))
    except NotFound:
        return None
