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
from ontask.store_paths import (
    classifier_prefix,
    dataset_prefix,
    feedback_dataset,
    namespace_folder,
    namespace_store,
    owner_key,
)


def classifier_store(top: Store, top_uri: str, namespace: str, name: str) -> str:
    """The store URI a classifier's children read and write: its namespace's folder in the
    installation's store (`top`, at `top_uri`), or the top itself when the classifier claimed
    `classifiers/<name>` there before namespaces were in the layout (ontask 0.1.0) and has no
    claim in its namespace's folder, so that an upgrade leaves its models, datasets and feedback
    where its predictors and jobs find them. The operator records the answer in the status and
    asks once."""
    own = namespace_store(top_uri, namespace)
    for prefix, uri in (
        (f"{namespace_folder(namespace)}/{classifier_prefix(name)}", own),
        (classifier_prefix(name), top_uri),
    ):
        if _held_by(top, prefix, namespace, name):
            return uri
    return own


def _claim_of(store: Store, prefix: str) -> Optional[dict]:
    """`prefix`'s claim (owner.json), or None when it has none (or one that is not a mapping)."""
    try:
        held = json.loads(store.get_bytes(owner_key(prefix)))
    except NotFound:
        return None
    return held if isinstance(held, dict) else None


def _held_by(store: Store, prefix: str, namespace: str, name: str) -> bool:
    """Whether `prefix`'s claim names this namespace and name."""
    held = _claim_of(store, prefix)
    return held is not None and (held.get("namespace"), held.get("name")) == (namespace, name)


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
                f"{store.uri(prefix)}/ belongs to TaskClassifier {held.get('namespace')}/{held.get('name')} "
                "(a store another installation shares, or one copied): give this classifier another name, or "
                "remove that owner.json if nothing of it is in use"
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
    held = _claim_of(store, prefix)
    if held is None:
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
