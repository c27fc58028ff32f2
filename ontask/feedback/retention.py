"""The collector's retention sweeps: raw screenshots and the window evidence beside them are kept
`feedback.screenshotRetentionHours`, wherever they were copied (the buffer's packs, packs no
correction names, cycle datasets); the corrections' hashes and labels stay."""

from __future__ import annotations

import datetime as dt
import json

from ontask.feedback.buffer import Buffer
from ontask.feedback.state import Counts, State
from ontask.store import Store
from ontask.store_paths import dataset_prefix, feedback_dataset, feedback_packs_prefix, pack_created


def expire_screenshots(store: Store, prefix: str, state: State, cutoff: float) -> int:
    """Forget the screenshots and window evidence of the corrections received before `cutoff`,
    and delete each pack under `prefix` once none of its corrections needs it. Returns how many
    corrections lost their screenshot."""
    expired, dropped = 0, set()
    for e in state.buffer.entries.values():
        if e.received_at >= cutoff:
            continue
        if e.image_key:
            dropped.add(e.image_key)
            e.image_key, e.image_range = None, None
            expired += 1
        if e.evidence_key:
            dropped.add(e.evidence_key)
            e.evidence_key, e.evidence_range = None, None
    kept = state.buffer.stored_keys()
    for key in dropped - kept:
        if key.startswith(prefix):  # a client's own s3:// reference is not ours to delete
            store.delete(key)
    state.counts.screenshots_expired += expired
    return expired


def sweep_unnamed_packs(store: Store, prefix: str, buffer: Buffer, cutoff: float) -> int:
    """Delete the packs created before `cutoff` that no correction names: written before a
    crash or by a collector that lost a handover. Their screenshots keep the same retention
    as every other. Returns how many were deleted."""
    named = buffer.stored_keys()
    deleted = 0
    for key in list(store.list(feedback_packs_prefix(prefix))):
        created = pack_created(key)
        if created is not None and created < cutoff and key not in named:
            store.delete(key)
            deleted += 1
    return deleted


def sweep_cycle_datasets(store: Store, classifier: str, counts: Counts, cutoff: float) -> int:
    """Delete the cycle datasets written before `cutoff` (they hold copies of the corrections'
    screenshots), except the newest, which a cycle in flight may still read. The manifest
    goes first, so a version is never read half deleted. Returns how many were deleted."""
    from ontask.data.dataset import list_versions

    name = feedback_dataset(classifier)
    versions = list_versions(store, name)
    deleted = 0
    for v in versions[:-1]:
        folder = dataset_prefix(name, f"v{v}")
        manifest = json.loads(store.get_bytes(f"{folder}/manifest.json"))
        if dt.datetime.fromisoformat(manifest["created"]).timestamp() >= cutoff:
            continue
        store.delete(f"{folder}/manifest.json")
        for key in list(store.list(folder)):
            store.delete(key)
        deleted += 1
    counts.cycle_datasets_expired += deleted
    return deleted
