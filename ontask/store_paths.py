"""Every key of the artifact store, named in one place.

The operator gives each namespace a folder of its own, `namespaces/<namespace>/` at the top of the
installation's store (:func:`namespace_store`): the keys below lie inside it, so classifiers of
the same name in two namespaces never meet, and an installation can give each namespace S3 keys
that reach only its folder. A classifier that claimed `classifiers/<name>` at the top before
namespaces were in the layout (ontask 0.1.0) keeps it there (ontask.operator.ownership). The
embedded mode, one user's folder, has no namespaces.

    datasets/<name>/v<N>/                  a dataset version (manifest.json, data.parquet, images/)
    classifiers/<c>/models/<vN>/           a trained model version (a Qwen2.5-VL folder, with the
                                           hybrid's fit and the verifier's rules it was trained
                                           with beside config.json: ontask-hybrid.json,
                                           ontask-verifier.yaml)
    classifiers/<c>/metrics/<vN>.jsonl     its training metrics (appended while it trains)
    classifiers/<c>/evaluations/<vN>.json  a candidate's evaluation and promotion decision
    classifiers/<c>/checkpoints/<dataset>-<version>/step-<N>/, latest.json
    classifiers/<c>/feedback/state.json    the collector's buffer, offsets and counts
    classifiers/<c>/feedback/screenshots/<sha256>.png
    classifiers/<c>/feedback/cycles/cycle-<N>.json   a sync cycle's marker
    classifiers/<c>/owner.json             which TaskClassifier (namespace, name, uid) owns <c> and its datasets

`<c>` prefixes are what :func:`classifier_prefix` returns; the functions below take it.
"""

from __future__ import annotations

from typing import Optional, Sequence

# ontask's own areas of a bucket: no reference from outside (a request's imageUri, a correction's
# screenshotUri) may point into them, or a client could have one classifier read another's
# screenshots, datasets or model files.
OWN_AREAS = ("classifiers/", "datasets/", "namespaces/")
NAMESPACES_AREA = "namespaces"


def namespace_folder(namespace: str) -> str:
    """A namespace's folder at the top of the store: `namespaces/<namespace>`."""
    return f"{NAMESPACES_AREA}/{namespace}"


def namespace_store(store_uri: str, namespace: str) -> str:
    """The store URI of a namespace's classifiers: its folder at the top of the installation's
    store.

    >>> namespace_store("s3://ontask", "team-a"), namespace_store("s3://ontask/prod/", "team-a")
    ('s3://ontask/namespaces/team-a', 's3://ontask/prod/namespaces/team-a')
    """
    return f"{store_uri.rstrip('/')}/{namespace_folder(namespace)}"


def classifier_prefix(name: str) -> str:
    return f"classifiers/{name}"


def models_prefix(prefix: str) -> str:
    return f"{prefix}/models"


def model_key(prefix: str, version: str) -> str:
    return f"{prefix}/models/{version}"


def metrics_prefix(prefix: str) -> str:
    return f"{prefix}/metrics/"


def metrics_key(prefix: str, version: str) -> str:
    return f"{prefix}/metrics/{version}.jsonl"


def evaluation_key(prefix: str, version: str) -> str:
    return f"{prefix}/evaluations/{version}.json"


def checkpoints_prefix(prefix: str, dataset: str, dataset_version: str) -> str:
    return f"{prefix}/checkpoints/{dataset}-{dataset_version}"


def feedback_state_key(prefix: str) -> str:
    return f"{prefix}/feedback/state.json"


def feedback_packs_prefix(prefix: str) -> str:
    return f"{prefix}/feedback/screenshots/packs"


def feedback_pack_key(prefix: str, created: float, name: str) -> str:
    """One poll's screenshots in one object (the entries say where each one lies in it). The
    creation time in the name lets a sweep expire a pack that no state names (written before a
    crash, or by a writer that lost a handover) without reading it."""
    return f"{feedback_packs_prefix(prefix)}/{int(created)}-{name}.bin"


def pack_created(key: str) -> Optional[int]:
    """The creation time (s) in a pack's key; None for any other key.

    >>> pack_created(feedback_pack_key("classifiers/a", 1700000000.5, "ab12"))
    1700000000
    >>> pack_created("classifiers/a/feedback/screenshots/packs/notes.txt") is None
    True
    """
    head = key.rsplit("/", 1)[-1].split("-", 1)[0]
    return int(head) if key.endswith(".bin") and head.isdigit() else None


def owner_key(prefix: str) -> str:
    return f"{prefix}/owner.json"


def cycle_marker_key(prefix: str, number: int) -> str:
    return f"{prefix}/feedback/cycles/cycle-{number}.json"


def cycle_decision_key(prefix: str, number: int) -> str:
    """Written by the operator once cycle `number` is decided (promoted, kept out or failed)."""
    return f"{prefix}/feedback/cycles/cycle-{number}.decided.json"


# A classifier's cycle datasets are named after it with this suffix, so no classifier may carry a
# name ending in it: `<victim>-feedback` would own another classifier's cycle datasets.
FEEDBACK_DATASET_SUFFIX = "-feedback"
NAME_SUFFIX_REFUSED = (
    f"metadata.name may not end in '{FEEDBACK_DATASET_SUFFIX}': the store names each classifier's cycle "
    f"datasets <name>{FEEDBACK_DATASET_SUFFIX}"
)


def feedback_dataset(classifier: str) -> str:
    """The dataset name of a classifier's sync cycles (their versions are its v1, v2, ...)."""
    return f"{classifier}{FEEDBACK_DATASET_SUFFIX}"


def dataset_prefix(name: str, version: str | None = None) -> str:
    """`datasets/<name>`, or one version's folder (`version` as stored: "v3")."""
    return f"datasets/{name}" if version is None else f"datasets/{name}/{version}"


class ReferenceRefused(ValueError):
    """An s3:// reference a client may not make the component read; str() says why."""


def confine_reference(uri: str, bucket: Optional[str], allowed: Sequence[str] = ()) -> str:
    """The key of `uri` (s3://bucket/key) when a client may have it read: in the component's own
    bucket, a plain path (no empty, "." or ".." segment), outside ontask's own areas, and, when
    `allowed` lists s3:// prefixes, under one of them. Raises ReferenceRefused otherwise.

    Example:
        >>> confine_reference("s3://team/shots/a.png", "team")
        'shots/a.png'
        >>> try:
        ...     confine_reference("s3://team/classifiers/other/models/v1/model.safetensors", "team")
        ... except ReferenceRefused as e:
        ...     print(e)
        s3://team/classifiers/...: ontask's own classifiers/ area is not readable by reference
    """
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ReferenceRefused(f"{uri}: not an s3://bucket/key reference")
    ref_bucket, key = uri[5:].split("/", 1)
    if bucket is not None and ref_bucket != bucket:
        raise ReferenceRefused(f"{uri}: bucket {ref_bucket!r} is not this classifier's bucket {bucket!r}")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise ReferenceRefused(f"{uri}: the key has an empty, '.' or '..' segment")
    for area in OWN_AREAS:
        if key.startswith(area):
            raise ReferenceRefused(
                f"s3://{ref_bucket}/{area}...: ontask's own {area} area is not readable by reference"
            )
    if allowed and not any(uri.startswith(a if a.endswith("/") else a + "/") for a in allowed):
        raise ReferenceRefused(f"{uri}: outside the allowed prefixes ({', '.join(allowed)})")
    return key


def _split(uri: str) -> tuple[str, str]:
    """(bucket, key) of an s3:// URI."""
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def _allowed(uri: str, allowed: Sequence[str]) -> bool:
    return any(uri.startswith(a if a.endswith("/") else a + "/") for a in allowed) and ".." not in uri.split("/")


def _area_problem(uri: str, key: str, own: str, datasets_are: str) -> Optional[str]:
    """Why the classifier whose keys lie under `own` may not name `key` of its bucket: a key in
    ontask's areas that is not its own."""
    if (key.rstrip("/") + "/").startswith(own + "/"):
        return None
    parts = key.rstrip("/").split("/")
    lead = ""
    if parts[0] == NAMESPACES_AREA:
        lead, parts = "/".join(parts[:2]) + "/", parts[2:]
    if parts and parts[0] == "classifiers":
        area = lead + "/".join(parts[:2]) + "/"
        return f"{uri}: another classifier's area ({area}); a classifier reads only its own"
    if parts and parts[0] == "datasets":
        return f"{uri}: ontask's datasets/ area holds {datasets_are}"
    if lead:
        return f"{uri}: ontask's {lead} holds a namespace's classifiers and datasets; a classifier reads only its own"
    return None


def model_uri_problem(uri: str, bucket: str, own: str, allowed: Sequence[str] = ()) -> Optional[str]:
    """Why a TaskClassifier may not name the s3:// model `uri` (student.model, judge.model), or
    None. `bucket` is the classifier's (the installation's store, else spec.storage.bucket) and
    `own` the classifier's prefix in it (`namespaces/<ns>/classifiers/<name>`). Its author may name what
    is in its own bucket outside ontask's areas (a base checkpoint's folder) or under its own
    prefix (a model it trained), and whatever lies under one of the installation's `allowed`
    prefixes (the chart's models.uriPrefixes); never another classifier's models or a dataset.
    Other schemes (a Hub id, pvc://) are not this check's.

    >>> own = "namespaces/support/classifiers/desk"
    >>> model_uri_problem("s3://team/base/qwen-3b/", "team", own) is None
    True
    >>> model_uri_problem("s3://team/namespaces/support/classifiers/desk/models/v2", "team", own) is None
    True
    >>> model_uri_problem("s3://team/namespaces/support/classifiers/hr/m", "team", own).split("; ")[0]
    "s3://team/namespaces/support/classifiers/hr/m: another classifier's area (namespaces/support/classifiers/hr/)"
    >>> print(model_uri_problem("s3://team/classifiers/desk/models/v2", "team", own))
    s3://team/classifiers/desk/models/v2: another classifier's area (classifiers/desk/); a classifier reads only its own
    >>> model_uri_problem("s3://other/base/qwen", "team", own).split(",")[0]
    "s3://other/base/qwen: bucket 'other' is not this classifier's bucket 'team'"
    >>> model_uri_problem("s3://models/qwen2.5-vl-3b/", "team", own, ["s3://models/"]) is None
    True
    """
    if not uri.startswith("s3://"):
        return None
    if _allowed(uri, allowed):
        return None
    ref_bucket, key = _split(uri)
    if ref_bucket != bucket:
        return (
            f"{uri}: bucket {ref_bucket!r} is not this classifier's bucket {bucket!r}, and no allowed prefix of the "
            "installation holds it (models.uriPrefixes)"
        )
    if not key or any(part in ("", ".", "..") for part in key.rstrip("/").split("/")):
        return f"{uri}: the key is empty or has an empty, '.' or '..' segment"
    return _area_problem(uri, key, own, "datasets, not models")


def data_source_problem(
    uri: str, bucket: str, own: str, allowed: Sequence[str] = (), own_keys: bool = False
) -> Optional[str]:
    """Why a TaskClassifier may not bootstrap from the s3:// `uri` (data.source), or None
    (`bucket` and `own` as for :func:`model_uri_problem`). In the store's own bucket, ontask's
    areas are other classifiers' (their models, corrections and datasets): a source there must lie
    outside them or under the classifier's own prefix. Another bucket would be read with the
    classifier's keys: the installation's, shared by every tenant, unless the classifier names its
    own (`own_keys`, spec.storage.secretRef, which its author must be allowed to read), so there it
    must lie under one of the installation's `allowed` prefixes (the chart's
    dataSources.uriPrefixes).

    >>> own = "namespaces/support/classifiers/desk"
    >>> data_source_problem("s3://team/uploads/desk/", "team", own) is None
    True
    >>> data_source_problem("s3://screens/desk/", "team", own, own_keys=True) is None
    True
    >>> data_source_problem("s3://screens/desk/", "team", own, ["s3://screens/"]) is None
    True
    >>> data_source_problem("s3://screens/desk/", "team", own).startswith("s3://screens/desk/: bucket 'screens'")
    True
    >>> data_source_problem("s3://team/namespaces/hr/classifiers/desk/feedback/", "team", own).split("; ")[0]
    "s3://team/namespaces/hr/classifiers/desk/feedback/: another classifier's area (namespaces/hr/classifiers/desk/)"
    >>> print(data_source_problem("s3://team/namespaces/support/datasets/hr/v1/", "team", own))
    s3://team/namespaces/support/datasets/hr/v1/: ontask's datasets/ area holds the classifiers' datasets, not a source
    """
    if not uri.startswith("s3://"):
        return None
    ref_bucket, key = _split(uri)
    parts = key.split("/")
    if any(part in (".", "..") for part in parts) or "" in parts[:-1]:
        return f"{uri}: the key has an empty, '.' or '..' segment"
    if ref_bucket != bucket:
        if own_keys or _allowed(uri, allowed):
            return None
        return (
            f"{uri}: bucket {ref_bucket!r} is not this classifier's bucket {bucket!r}; the installation's keys, "
            "which every classifier shares, read no other bucket for it: name keys of your own "
            "(storage.secretRef), or have the installation allow the prefix (dataSources.uriPrefixes)"
        )
    if not key:
        return f"{uri}: the bucket's top holds ontask's own areas too; name a folder of the screenshots"
    return _area_problem(uri, key, own, "the classifiers' datasets, not a source")
