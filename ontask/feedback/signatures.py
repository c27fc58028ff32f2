"""Signed userIds: a correction's userId (and its source) as the app's backend vouches for it.

Kafka tells a consumer nothing about who produced a record, so whoever may write the topic may
write any userId. With `feedback.userKeySecretRef`, the backend that knows its signed-in user
signs `userId` with the classifier's key, and the collector keeps only what verifies: per-user
caps and the reviewers list then count people, not strings."""

from __future__ import annotations

import hashlib
import hmac
from typing import Mapping, Optional

from ontask.api.feedback import USER_KEY_ENV


def user_signature(key: bytes, classifier: str, correction_id: str, user_id: str, source: str) -> str:
    """Hex HMAC-SHA256 over the classifier, the correction's id, the userId and the source, one a
    line: a signature is good for that one correction, and a user's cannot make a reviewer's.

    Example:
        >>> user_signature(b"k", "desk", "c-1", "alice", "user")[:16]
        '6a2faf87c832a98f'
    """
    message = "\n".join((classifier, correction_id, user_id, source)).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def signature_problem(
    key: bytes, classifier: str, correction_id: str, user_id: Optional[str], source: str, signature: Optional[str]
) -> Optional[str]:
    """Why a correction's userId does not verify under `key`, or None when it does (or when it
    names no user: an anonymous correction needs no signature)."""
    if user_id is None:
        return "userSignature without a userId" if signature is not None else None
    if signature is None:
        return f"userId {user_id!r} comes without a userSignature (feedback.userKeySecretRef is set)"
    expected = user_signature(key, classifier, correction_id, user_id, source)
    if not hmac.compare_digest(expected, signature):
        return f"userSignature does not match userId {user_id!r} and source {source!r} for this correction"
    return None


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
    return value.encode()
