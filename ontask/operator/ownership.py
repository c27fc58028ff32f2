"""Where a classifier's artifacts lie and who owns them. Each namespace has a folder of its own in
the installation's store (`namespaces/<ns>/`, store_paths.namespace_store), and a TaskClassifier
claims `classifiers/<name>` (and the datasets named after it) in it when it is accepted: a second
operator, or a classifier that a store shared by two installations already holds, is refused
rather than mixed in. The claim is a conditional write, so two operators racing for a prefix
cannot both win. A classifier re-created under its own namespace and name adopts what it left
(retainArtifacts), and one that claimed `classifiers/<name>` at the top of the store before
namespaces were in the layout keeps its artifacts there (:func:`classifier_store`)."""

from __future__ import annotations

import json
from typing import Optional

from ontask.store import Conflict, NotFound, Store
from ontask.store_paths import classifier_prefix, dataset_prefix, feedback_dataset, namespace_store, owner_key


def classifier_store(top: Store, top_uri: str, namespace: str, name: str) -> str:
    """The store URI a classifier's children read and write: its namespace's folder in the
    installation's store (`top`, at `top_uri`), or the top itself when the classifier claimed
    `classifiers/<name>` there before namespaces were in the layout (ontask 0.1.0), so that an
    upgrade leaves its models, datasets and feedback where its predictors and jobs find them."""
    try:
        held = json.loads(top.get_bytes(owner_key(classifier_prefix(name))))
    except NotFound:
        held = None
    if isinstance(held, dict) and (held.get("namespace"), held.get("name")) == (namespace, name):
        return top_uri
    return namespace_store(top_uri, namespace)


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
