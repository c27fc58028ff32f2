"""One owner per classifier prefix: a TaskClassifier claims `classifiers/<name>` (and the datasets
named after it) in its bucket when it is accepted, so that a classifier with the same name in
another namespace never trains on, serves from or writes over another's models, datasets and
feedback. The claim is a conditional write, so two operators racing for a prefix cannot both win.
A classifier re-created under its own namespace and name adopts what it left (retainArtifacts)."""

from __future__ import annotations

import json
from typing import Optional

from ontask.store import Conflict, NotFound, Store
from ontask.store_paths import dataset_prefix, feedback_dataset, owner_key


def claim_prefix(store: Store, prefix: str, namespace: str, name: str, uid: str) -> Optional[str]:
    """Claim the prefix for this TaskClassifier; None when it is (now) its own, else the problem
    to report (it belongs to a classifier of another namespace)."""
    owner = {"namespace": namespace, "name": name, "uid": uid}
    for _ in range(3):  # a lost race is decided by reading the winner's claim
        try:
            held, version = store.get_versioned(owner_key(prefix))
            held = json.loads(held)
        except NotFound:
            held, version = None, None
        if held is not None and (held.get("namespace"), held.get("name")) != (namespace, name):
            return (
                f"the store's {prefix}/ belongs to TaskClassifier {held.get('namespace')}/{held.get('name')}: "
                "give this classifier another name (or another storage.bucket, where the installation "
                "fixes no store)"
            )
        if held is not None and held.get("uid") == uid:
            return None
        try:
            store.put_if(owner_key(prefix), json.dumps(owner).encode(), "application/json", version)
            return None
        except Conflict:
            continue
    return f"the store's {prefix}/ is being claimed by another operator at the same time; retrying"


def release_prefix(store: Store, prefix: str, name: str, uid: str, retain: bool) -> int:
    """When a classifier is deleted: with `retain` (storage.retainArtifacts) nothing is removed;
    without it, its models, metrics, feedback and datasets go, owner.json last; never anything of
    a prefix it does not own. Returns how many objects were deleted."""
    if retain:
        return 0
    try:
        held = json.loads(store.get_bytes(owner_key(prefix)))
    except NotFound:
        return 0  # never claimed: no job of it wrote anything
    if held.get("uid") != uid:
        return 0
    keys = [k for k in store.list(prefix) if k != owner_key(prefix)]
    for dataset in (name, feedback_dataset(name)):
        keys += list(store.list(dataset_prefix(dataset)))
    for key in keys:
        store.delete(key)
    store.delete(owner_key(prefix))
    return len(keys) + 1
