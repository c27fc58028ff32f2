"""Every key of the artifact store, named in one place.

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
    classifiers/<c>/owner.json             which TaskClassifier (namespace, uid) owns <c> and its datasets

`<c>` prefixes are what :func:`classifier_prefix` returns; the functions below take it.
"""

from __future__ import annotations

from typing import Optional, Sequence

# ontask's own areas of a bucket: no reference from outside (a request's imageUri, a correction's
# screenshotUri) may point into them, or a client could have one classifier read another's
# screenshots, datasets or model files.
OWN_AREAS = ("classifiers/", "datasets/")


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


def model_uri_problem(uri: str, classifier: str, bucket: str, allowed: Sequence[str] = ()) -> Optional[str]:
    """Why a TaskClassifier may not name the s3:// model `uri` (student.model, judge.model), or
    None. Its author may name what is in its own bucket (spec.storage.bucket) outside ontask's
    areas (a base checkpoint's folder) or under its own classifier's prefix (a model it trained),
    and whatever lies under one of the installation's `allowed` prefixes (the chart's
    models.uriPrefixes); never another classifier's models or a dataset. Other schemes (a Hub
    id, pvc://) are not this check's.

    >>> model_uri_problem("s3://team/base/qwen-3b/", "desk", "team") is None
    True
    >>> model_uri_problem("s3://team/classifiers/desk/models/v2", "desk", "team") is None
    True
    >>> print(model_uri_problem("s3://team/classifiers/hr/models/v2", "desk", "team"))
    s3://team/classifiers/hr/models/v2: another classifier's area (classifiers/hr/); a classifier reads only its own
    >>> model_uri_problem("s3://other/base/qwen", "desk", "team").split(",")[0]
    "s3://other/base/qwen: bucket 'other' is not this classifier's bucket 'team'"
    >>> model_uri_problem("s3://models/qwen2.5-vl-3b/", "desk", "team", ["s3://models/"]) is None
    True
    """
    if not uri.startswith("s3://"):
        return None
    if any(uri.startswith(a if a.endswith("/") else a + "/") for a in allowed) and ".." not in uri.split("/"):
        return None
    ref_bucket, _, key = uri[5:].partition("/")
    if ref_bucket != bucket:
        return (
            f"{uri}: bucket {ref_bucket!r} is not this classifier's bucket {bucket!r}, and no allowed prefix of the "
            "installation holds it (models.uriPrefixes)"
        )
    parts = key.rstrip("/").split("/")
    if not key or any(part in ("", ".", "..") for part in parts):
        return f"{uri}: the key is empty or has an empty, '.' or '..' segment"
    own = classifier_prefix(classifier) + "/"
    if key.startswith("classifiers/") and not (key + "/").startswith(own):
        other = "/".join(parts[:2]) + "/"
        return f"{uri}: another classifier's area ({other}); a classifier reads only its own"
    if key.startswith("datasets/"):
        return f"{uri}: ontask's datasets/ area holds datasets, not models"
    return None


def data_source_problem(
    uri: str, classifier: str, bucket: str, allowed: Sequence[str] = (), own_keys: bool = False
) -> Optional[str]:
    """Why a TaskClassifier may not bootstrap from the s3:// `uri` (data.source), or None. In the
    store's own bucket, ontask's areas are other classifiers' (their models, corrections and
    datasets): a source there must lie outside them or under the classifier's own prefix. Another
    bucket would be read with the classifier's keys: the installation's, shared by every tenant,
    unless the classifier names its own (`own_keys`, spec.storage.secretRef, which its author must
    be allowed to read), so there it must lie under one of the installation's `allowed` prefixes
    (the chart's dataSources.uriPrefixes).

    >>> data_source_problem("s3://team/uploads/desk/", "desk", "team") is None
    True
    >>> data_source_problem("s3://screens/desk/", "desk", "team", own_keys=True) is None
    True
    >>> data_source_problem("s3://screens/desk/", "desk", "team", ["s3://screens/"]) is None
    True
    >>> data_source_problem("s3://screens/desk/", "desk", "team").startswith("s3://screens/desk/: bucket 'screens'")
    True
    >>> print(data_source_problem("s3://team/classifiers/hr/feedback/", "desk", "team"))
    s3://team/classifiers/hr/feedback/: another classifier's area (classifiers/hr/); a classifier reads only its own
    >>> print(data_source_problem("s3://team/datasets/hr/v1/", "desk", "team"))
    s3://team/datasets/hr/v1/: ontask's datasets/ area holds the classifiers' datasets, not a source
    """
    if not uri.startswith("s3://"):
        return None
    ref_bucket, _, key = uri[5:].partition("/")
    if any(part in (".", "..") for part in key.split("/")):
        return f"{uri}: the key has a '.' or '..' segment"
    if ref_bucket != bucket:
        if own_keys or any(uri.startswith(a if a.endswith("/") else a + "/") for a in allowed):
            return None
        return (
            f"{uri}: bucket {ref_bucket!r} is not this classifier's bucket {bucket!r}; the installation's keys, "
            "which every classifier shares, read no other bucket for it: name keys of your own "
            "(storage.secretRef), or have the installation allow the prefix (dataSources.uriPrefixes)"
        )
    if key.startswith("datasets/"):
        return f"{uri}: ontask's datasets/ area holds the classifiers' datasets, not a source"
    return model_uri_problem(uri, classifier, bucket) if key.startswith("classifiers/") else None
