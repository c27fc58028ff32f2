"""Signed userIds: a correction's userId (and its source) as the app's backend vouches for it.

Kafka tells a consumer nothing about who produced a record, so whoever may write the topic may
write any userId. With `feedback.userKeySecretRef`, the backend that knows its signed-in user
signs `userId` with the classifier's key, and the collector keeps only what verifies: per-user
caps and the reviewers list then count people, not strings."""

from __future__ import annotations

import hashlib
import hmac
from typing import Mapping, Optional

from ontask.api import Correction
from ontask.api.feedback import USER_KEY_ENV


def signed_text(
    classifier: str,
    correction_id: str,
    user_id: str,
    source: str,
    label: str,
    timestamp: str,
    screenshot: str,
    task: str,
) -> bytes:
    """What a userSignature signs, one field a line, the task last (the one field that may hold a
    line break): the screenshot is the hex sha256 of the inline image's bytes, or the
    screenshotUri. A userId with a line break cannot be signed (ValueError): it could shift the
    lines after it."""
    if "\n" in user_id:
        raise ValueError("a userId with a line break cannot be signed")
    return "\n".join((classifier, correction_id, user_id, source, label, timestamp, screenshot, task)).encode()


def user_signature(key: bytes, text: bytes) -> str:
    """Hex HMAC-SHA256 of `signed_text(...)` with the classifier's user key.

    Example:
        >>> text = signed_text("desk", "c-1", "alice", "user", "on-task", "2026-12-07T10:00:00Z", "s3://b/k.png", "t")
        >>> user_signature(b"k", text)[:16]
        'bdf6963424c935cc'
    """
    return hmac.new(key, text, hashlib.sha256).hexdigest()


def signature_problem(key: bytes, correction: Correction, screenshot: str) -> Optional[str]:
    """Why a correction's userId does not verify under `key`, or None when it does (or when it
    names no user: an anonymous correction needs no signature). `screenshot` as in signed_text."""
    c = correction
    if c.user_id is None:
        return "userSignature without a userId" if c.user_signature is not None else None
    if c.user_signature is None:
        return f"userId {c.user_id!r} comes without a userSignature (feedback.userKeySecretRef is set)"
    try:
        text = signed_text(c.addressee, c.id, c.user_id, c.source, c.corrected_label, c.timestamp, screenshot, c.task)
    except ValueError as e:
        return str(e)
    if not hmac.compare_digest(user_signature(key, text), c.user_signature):
        return f"userSignature does not match this correction's content, userId {c.user_id!r} and source {c.source!r}"
    return None


def normalise_key(key: bytes) -> bytes:
    """A key as a file or a Secret made from one holds it: one trailing newline (what `echo`
    adds) is not part of it.

    >>> normalise_key(b"s3cret\\n"), normalise_key(b"s3cret")
    (b's3cret', b's3cret')
    """
    return key[:-1] if key.endswith(b"\n") else key


class MissingUserKey(ValueError):
    """The spec names a user key, but the collector was given none."""


def user_key_from_env(secret_ref: Optional[str], environ: Mapping[str, str]) -> Optional[bytes]:
    """The key that verifies userIds when the spec names a Secret for it (the operator puts its
    `key` in USER_KEY_ENV); None when it names none. Raises MissingUserKey when the spec names one
    and the environment has no key: a collector must not take unverified userIds as verified."""
    if secret_ref is None:
        return None
    value = environ.get(USER_KEY_ENV, "")
    if not value:
        raise MissingUserKey(
            f"feedback.userKeySecretRef names Secret {secret_ref!r}, but {USER_KEY_ENV} is empty: give the "
            "collector the Secret's key `key` (the operator does so in a cluster)"
        )
    return normalise_key(value.encode())
