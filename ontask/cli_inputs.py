"""What the `ontask` command's flags take, checked when the command line is read: each argparse
type below refuses bad input in one line that names the flag (argparse adds it), what is wrong
and what to give instead, before any work starts. Standard library only: the capture agent uses
them too."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from urllib.parse import urlparse

_STORE_FORMS = "a folder, file:///folder or s3://bucket/prefix"


class BadInput(ValueError):
    """Input from the command line that a command found unusable once it ran (where argparse could
    not tell); the message names the flag and what to give instead."""


def positive_int(text: str) -> int:
    """An integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; give one of at least 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too small; give a number of at least 1")
    return value


def positive_seconds(text: str) -> float:
    """A number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds; give one above 0") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0; give one, e.g. 10")
    return value


def existing_file(text: str) -> Path:
    """The path of a file that exists."""
    path = Path(text)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise argparse.ArgumentTypeError(f"{text} {what}; give the path of a file")
    return path


def existing_source(text: str) -> str:
    """Where data is read from: s3://bucket/prefix, or a file or folder that exists."""
    parsed = urlparse(text)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise argparse.ArgumentTypeError(f"{text!r} names no bucket; give s3://bucket/prefix")
    elif not Path(text).exists():
        raise argparse.ArgumentTypeError(f"{text} does not exist; give a file, a folder or s3://bucket/prefix")
    return text


def new_file(text: str) -> Path:
    """The path of a file to write, in a folder that exists."""
    path = Path(text)
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"no folder {path.parent} to write {path.name} in; create it first")
    return path


def store_uri(text: str) -> str:
    """A store to write to: a local folder (made when missing) or s3://bucket/prefix."""
    parsed = urlparse(text)
    if parsed.scheme not in ("", "file", "s3"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a store; give {_STORE_FORMS}")
    if parsed.scheme == "s3" and not parsed.netloc:
        raise argparse.ArgumentTypeError(f"{text!r} names no bucket; give s3://bucket/prefix")
    return text


def s3_bucket(text: str) -> str:
    """The bucket of an s3://bucket[/prefix] store.

    >>> s3_bucket("s3://acme-ontask/tenants")
    'acme-ontask'
    """
    parsed = urlparse(text)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an S3 store; give s3://bucket[/prefix]")
    return parsed.netloc


def existing_store(text: str) -> str:
    """A store to read from: as store_uri, and a local folder must exist (a new, empty one would
    only move the error to the first thing looked for in it)."""
    store_uri(text)
    parsed = urlparse(text)
    folder = parsed.path if parsed.scheme == "file" else text
    if parsed.scheme != "s3" and not Path(folder).is_dir():
        raise argparse.ArgumentTypeError(
            f"no store at {text} (no such folder); give the store the data was written to: {_STORE_FORMS}"
        )
    return text


def http_url(text: str) -> str:
    """An http:// or https:// URL with a host (and a numeric port, if any)."""
    try:
        parsed = urlparse(text)
        ok = parsed.scheme in ("http", "https") and bool(parsed.hostname) and parsed.port != 0
    except ValueError:  # a port that is not a number, or out of range; an unclosed [IPv6 host
        ok = False
    if not ok:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http(s) URL; give one like http://host:port")
    return text


def http_url_or_off(text: str) -> str:
    """An http_url, or the empty string: the endpoint turned off."""
    return text if text == "" else http_url(text)
