"""The artifact store: datasets, model versions, buffers and caches.

Two implementations behind one small interface: any S3 (MinIO, SeaweedFS, AWS...) through the
``minio`` client, and a local folder for the embedded mode. Keys are '/'-separated paths
relative to a root (``s3://bucket/prefix`` or a directory).
"""

from __future__ import annotations

import copy
import fcntl
import hashlib
import io
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Protocol
from urllib.parse import urlparse

from minio import Minio
from minio.error import S3Error


class StoreError(RuntimeError):
    """A store operation failed; the message names the key and the store."""


class NotFound(StoreError):
    """The key does not exist. Only this means "absent": any other StoreError (access denied, a
    timeout) says nothing about whether the object is there, so it must never be taken as
    "no state yet" and overwritten."""


class Conflict(StoreError):
    """A conditional write found the object changed since it was read (another writer came first):
    nothing was written."""


class Forbidden(StoreError):
    """The store refused this reader the object (S3's AccessDenied): about the object and who
    reads it, not an outage, so retrying does not help."""


class Unavailable(StoreError):
    """The store is not answering properly (S3's InternalError, SlowDown, ...): an outage, to be
    waited out."""


class TooLarge(StoreError):
    """The object is larger than the reader allows (found by its size, before any byte is read)."""


def _check_size(uri: str, size: int, max_bytes: Optional[int]) -> None:
    if max_bytes is not None and size > max_bytes:
        raise TooLarge(f"{uri} is {size:,} bytes, over the limit of {max_bytes:,}")


def _check_range(uri: str, data: bytes, offset: int, length: int) -> bytes:
    if len(data) != length:
        raise StoreError(
            f"{uri} ends before byte {offset + length:,} (read {len(data):,} of {length:,} from {offset:,})"
        )
    return data


class Store(Protocol):
    """What every component needs from artifact storage."""

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None: ...
    def get_bytes(self, key: str, max_bytes: Optional[int] = None) -> bytes:
        """The object's bytes; with max_bytes, its size is checked first (TooLarge)."""
        ...

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        """`length` bytes of the object from `offset` (NotFound when absent; StoreError when the
        object is shorter): one member of a pack without reading the pack."""
        ...

    def get_versioned(self, key: str) -> tuple[bytes, str]:
        """The object's bytes and its version tag (NotFound when absent), for put_if."""
        ...

    def put_if(self, key: str, data: bytes, content_type: str, version: Optional[str]) -> str:
        """Write only if the object is still at `version` (None: only if it does not exist), as one
        atomic step (S3's If-Match / If-None-Match); Conflict otherwise. Returns the new version."""
        ...

    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str = "") -> Iterator[str]: ...
    def delete(self, key: str) -> None: ...
    def uri(self, key: str = "") -> str: ...


# S3 error codes that mean the object is not there.
_ABSENT = ("NoSuchKey", "NoSuchObject", "NotFound", "NoSuchBucket")
# What S3 answers when it, not the request, is at fault: retried, never taken as the object's state.
_UNAVAILABLE = ("InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "RequestTimeTooSkewed")
_READ_ERRORS: dict[str, type[StoreError]] = {
    **dict.fromkeys(_ABSENT, NotFound),
    "AccessDenied": Forbidden,
    **dict.fromkeys(_UNAVAILABLE, Unavailable),
}


def _clean(key: str) -> str:
    key = key.strip("/")
    if any(part in ("..", ".") for part in key.split("/")):
        raise StoreError(f"invalid key {key!r}: '.' and '..' are not allowed")
    return key


class LocalStore:
    """A folder as a store (the embedded mode, tests)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / _clean(key)

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader never sees half a file (and a crash leaves the old one).
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def get_bytes(self, key: str, max_bytes: Optional[int] = None) -> bytes:
        try:
            path = self._path(key)
            _check_size(self.uri(key), path.stat().st_size, max_bytes)
            if max_bytes is None:
                return path.read_bytes()
            with path.open("rb") as f:  # it may have grown since the stat
                data = f.read(max_bytes + 1)
            _check_size(self.uri(key), len(data), max_bytes)
            return data
        except FileNotFoundError as e:
            raise NotFound(f"{self.uri(key)} does not exist") from e

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        try:
            with open(self._path(key), "rb") as f:
                f.seek(offset)
                data = f.read(length)
        except FileNotFoundError as e:
            raise NotFound(f"{self.uri(key)} does not exist") from e
        return _check_range(self.uri(key), data, offset, length)

    def get_versioned(self, key: str) -> tuple[bytes, str]:
        data = self.get_bytes(key)
        return data, hashlib.sha256(data).hexdigest()

    def put_if(self, key: str, data: bytes, content_type: str, version: Optional[str]) -> str:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # One folder, several processes (the embedded mode's operator and its jobs): a lock file
        # makes the compare and the write one step.
        with open(path.with_name(f".{path.name}.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                current = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
                if current != version:
                    raise Conflict(f"{self.uri(key)} changed since it was read (another writer came first)")
                self.put_bytes(key, data, content_type)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return hashlib.sha256(data).hexdigest()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> Iterator[str]:
        base = self._path(prefix) if prefix.strip("/") else self.root
        if base.is_file():
            yield _clean(prefix)
            return
        if not base.exists():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                yield path.relative_to(self.root).as_posix()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def uri(self, key: str = "") -> str:
        return str(self.root / key.strip("/")) if key else str(self.root)


@dataclass
class S3Config:
    """Where an S3 store is and how to log in: with keys (from a Secret, through the env), or,
    without them, with the pod's cloud identity (see S3Store)."""

    endpoint: str
    access_key: Optional[str] = None
    secret_key: Optional[str] = None
    region: Optional[str] = None


class S3Store:
    """An S3 bucket (and optional prefix) as a store."""

    def __init__(self, config: S3Config, bucket: str, prefix: str = "", create_bucket: bool = True):
        url = urlparse(config.endpoint)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise StoreError(f"S3 endpoint must be http(s)://host[:port], got {config.endpoint!r}")
        credentials = None
        if not (config.access_key and config.secret_key):
            # No keys: the pod's cloud identity, as the AWS SDKs find it (IRSA's web identity token,
            # EKS Pod Identity's or ECS's container credentials, the instance's metadata service).
            from minio.credentials import IamAwsProvider

            credentials = IamAwsProvider()
        self.client = Minio(
            url.netloc,
            access_key=config.access_key if credentials is None else None,
            secret_key=config.secret_key if credentials is None else None,
            secure=url.scheme == "https",
            region=config.region,
            credentials=credentials,
        )
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        if create_bucket:
            try:
                if not self.client.bucket_exists(bucket):
                    self.client.make_bucket(bucket)
            except S3Error as e:
                if e.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise StoreError(f"cannot use bucket {bucket!r} at {config.endpoint}: {e}") from e

    def _key(self, key: str) -> str:
        key = _clean(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        try:
            self.client.put_object(self.bucket, self._key(key), io.BytesIO(data), len(data), content_type=content_type)
        except S3Error as e:
            raise StoreError(f"cannot write {self.uri(key)}: {e}") from e

    def _read_error(self, key: str, e: S3Error) -> StoreError:
        kind = _READ_ERRORS.get(e.code, StoreError)
        return kind(f"cannot read {self.uri(key)}: {e.code}")

    @contextmanager
    def _object(self, key: str, **byte_range: int) -> Iterator[Any]:
        """The object's open response (a byte range of it with offset/length), released after."""
        try:
            resp = self.client.get_object(self.bucket, self._key(key), **byte_range)
        except S3Error as e:
            raise self._read_error(key, e) from e
        try:
            yield resp
        finally:
            resp.close()
            resp.release_conn()

    def get_bytes(self, key: str, max_bytes: Optional[int] = None) -> bytes:
        if max_bytes is not None:  # a HEAD first: never read a reference whole to learn it is too big
            try:
                size = self.client.stat_object(self.bucket, self._key(key)).size
            except S3Error as e:
                raise self._read_error(key, e) from e
            _check_size(self.uri(key), size, max_bytes)
        with self._object(key) as resp:
            if max_bytes is None:
                return resp.read()
            # The object may have grown since the HEAD: never read more than the limit allows.
            data = resp.read(max_bytes + 1)
        _check_size(self.uri(key), len(data), max_bytes)
        return data

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        with self._object(key, offset=offset, length=length) as resp:
            return _check_range(self.uri(key), resp.read(), offset, length)

    def get_versioned(self, key: str) -> tuple[bytes, str]:
        with self._object(key) as resp:
            return resp.read(), resp.headers["ETag"]

    def put_if(self, key: str, data: bytes, content_type: str, version: Optional[str]) -> str:
        # minio's put_object sends no conditional headers, so the request goes out through its
        # signed request path with If-Match / If-None-Match (AWS S3, MinIO and SeaweedFS honour them).
        condition = {"If-None-Match": "*"} if version is None else {"If-Match": version}
        try:
            resp = self.client._execute(
                "PUT",
                self.bucket,
                self._key(key),
                body=data,
                headers={"Content-Type": content_type, **condition},
            )
        except S3Error as e:
            if e.code in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise Conflict(f"{self.uri(key)} changed since it was read (another writer came first)") from e
            raise StoreError(f"cannot write {self.uri(key)}: {e}") from e
        return resp.headers["ETag"]

    def exists(self, key: str) -> bool:
        try:
            self.client.stat_object(self.bucket, self._key(key))
            return True
        except S3Error as e:
            if e.code in _ABSENT:
                return False
            raise StoreError(f"cannot stat {self.uri(key)}: {e}") from e

    def list(self, prefix: str = "") -> Iterator[str]:
        full = self._key(prefix) if prefix.strip("/") else self.prefix
        for obj in self.client.list_objects(self.bucket, prefix=(full + "/") if full else None, recursive=True):
            name = obj.object_name
            yield name[len(self.prefix) + 1 :] if self.prefix else name

    def delete(self, key: str) -> None:
        self.client.remove_object(self.bucket, self._key(key))

    def uri(self, key: str = "") -> str:
        path = "/".join(p for p in (self.prefix, key.strip("/")) if p)
        return f"s3://{self.bucket}/{path}"


def s3_endpoint_from_env() -> Optional[str]:
    """The S3 endpoint the environment names (S3_ENDPOINT, else AWS_ENDPOINT_URL; a bare host
    gets http://, or https:// with S3_USE_HTTPS=1), or None: no S3 configured."""
    endpoint = os.environ.get("S3_ENDPOINT") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint and "://" not in endpoint:
        endpoint = ("https://" if os.environ.get("S3_USE_HTTPS", "0") == "1" else "http://") + endpoint
    return endpoint or None


def s3_config_from_env(endpoint: Optional[str] = None) -> S3Config:
    """S3 settings from the standard variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    S3_ENDPOINT / AWS_ENDPOINT_URL), as KServe's storage initializer reads them; without keys, the
    pod's cloud identity. This module is the one place that reads them."""
    endpoint = endpoint or s3_endpoint_from_env()
    if not endpoint:
        raise StoreError("no S3 endpoint: set spec.storage.endpoint, S3_ENDPOINT or AWS_ENDPOINT_URL")
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if bool(key) != bool(secret):
        raise StoreError("half an S3 key pair: set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither")
    # Neither: the pod's cloud identity (IRSA, EKS Pod Identity), resolved when first used.
    return S3Config(endpoint, key or None, secret or None, os.environ.get("AWS_DEFAULT_REGION"))


def open_store(uri: str, s3: Optional[S3Config] = None, create_bucket: bool = True) -> Store:
    """A store for ``s3://bucket/prefix`` (credentials from ``s3`` or the env) or a local path.
    A store only read from, at a URI someone else gave, must pass ``create_bucket=False``."""
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise StoreError(f"{uri!r} names no bucket")
        return S3Store(s3 or s3_config_from_env(), parsed.netloc, parsed.path, create_bucket=create_bucket)
    if parsed.scheme in ("", "file"):
        return LocalStore(parsed.path if parsed.scheme == "file" else uri)
    raise StoreError(f"unsupported store URI {uri!r}: use s3://bucket/prefix or a local folder")


def read_reference(uri: str, max_bytes: int, through: Optional[Store] = None) -> bytes:
    """The object an s3:// URI from a client names (a correction's screenshot), read without ever
    creating its bucket: over `through`'s connection when that is an S3Store of the same bucket
    (the collector's own credentials), else with the environment's. NotFound, Forbidden and
    TooLarge are about the object; any other error is the store's."""
    bucket, key = uri[len("s3://") :].split("/", 1) if uri.startswith("s3://") and "/" in uri[5:] else ("", "")
    if not bucket or not key:
        raise StoreError(f"{uri!r} is not an s3://bucket/key reference")
    if isinstance(through, S3Store) and through.bucket == bucket:
        root = copy.copy(through)
        root.prefix = ""
        return root.get_bytes(key, max_bytes=max_bytes)
    return open_store(f"s3://{bucket}", create_bucket=False).get_bytes(key, max_bytes=max_bytes)


def download_prefix(store: Store, prefix: str, dest: str | Path) -> Path:
    """Copy every object under prefix into dest, keeping relative paths; returns dest."""
    dest = Path(dest)
    prefix = prefix.strip("/")
    found = False
    for key in store.list(prefix):
        rel = key[len(prefix) + 1 :] if prefix else key
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.get_bytes(key))
        found = True
    if not found:
        raise StoreError(f"nothing under {store.uri(prefix)}")
    return dest


def upload_folder(store: Store, folder: str | Path, prefix: str) -> int:
    """Copy a folder's files under prefix; returns the number of files."""
    folder = Path(folder)
    n = 0
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            store.put_bytes(f"{prefix.strip('/')}/{path.relative_to(folder).as_posix()}", path.read_bytes())
            n += 1
    return n
