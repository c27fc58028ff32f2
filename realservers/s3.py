"""A real S3 server: SeaweedFS (Apache-2.0) master + volume + filer + S3 gateway in one process."""

from __future__ import annotations

import io
import json
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path

from minio import Minio

from ontask.operator.local import free_port

from .proc import ServerProcess, bin_path, port_open


@dataclass
class S3Endpoint:
    """What tests get: the endpoint URL, read-write credentials, and credentials that may only
    read and list (empty from servers that `make servers-up` started before they existed)."""

    endpoint: str
    access_key: str
    secret_key: str
    read_only_access_key: str = ""
    read_only_secret_key: str = ""


class SeaweedS3:
    """`weed server -filer -s3` on 127.0.0.1 with an admin identity and a read-only one (the
    predictors' kind of keys)."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.access_key = "ontask" + secrets.token_hex(4)
        self.secret_key = secrets.token_hex(16)
        self.read_only_access_key = "reader" + secrets.token_hex(4)
        self.read_only_secret_key = secrets.token_hex(16)
        self.port = free_port()
        self.proc: ServerProcess | None = None

    def start(self, retried: bool = False) -> S3Endpoint:
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "ontask-test",
                            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                        },
                        {
                            "name": "ontask-test-reader",
                            "credentials": [
                                {"accessKey": self.read_only_access_key, "secretKey": self.read_only_secret_key}
                            ],
                            "actions": ["Read", "List"],
                        },
                    ]
                }
            )
        )
        ports = {name: free_port() for name in ("master", "masterg", "volume", "volumeg", "filer", "filerg", "s3g")}
        self.proc = ServerProcess(
            "seaweedfs",
            [
                bin_path("weed"),
                "server",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                f"-dir={data}",
                f"-master.port={ports['master']}",
                f"-master.port.grpc={ports['masterg']}",
                # -volume.max=0 sizes the volume count from free disk / this limit, and every bucket
                # grows its own volumes: small volumes keep a tight disk from running out of them
                # (a fresh clone's caches left too few at 256 MB: "no free volumes left").
                "-master.volumeSizeLimitMB=32",
                f"-volume.port={ports['volume']}",
                f"-volume.port.grpc={ports['volumeg']}",
                "-volume.max=0",
                "-filer",
                f"-filer.port={ports['filer']}",
                f"-filer.port.grpc={ports['filerg']}",
                f"-filer.localSocket={self.workdir / 'filer.sock'}",
                "-s3",
                f"-s3.port={self.port}",
                f"-s3.port.grpc={ports['s3g']}",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                f"-s3.localSocket={self.workdir / 's3.sock'}",
                f"-s3.config={config}",
            ],
            self.workdir,
        ).start()
        endpoint = S3Endpoint(
            f"http://127.0.0.1:{self.port}",
            self.access_key,
            self.secret_key,
            self.read_only_access_key,
            self.read_only_secret_key,
        )
        try:
            self.proc.wait_until(lambda: port_open(self.port), timeout=120, what="listening")
        except RuntimeError as e:
            # One of its eight ports was taken between our pick and its bind: pick again, once.
            if "address already in use" not in str(e) or retried:
                raise
            self.proc.stop()
            self.port = free_port()
            return self.start(retried=True)
        self.proc.wait_until(lambda: self._roundtrip(endpoint), timeout=120, what="serving S3 reads and writes")
        return endpoint

    @staticmethod
    def _roundtrip(ep: S3Endpoint) -> bool:
        """Healthy means a real write and read through the S3 API succeed (volumes are allocated)."""
        client = Minio(ep.endpoint.removeprefix("http://"), ep.access_key, ep.secret_key, secure=False)
        if not client.bucket_exists("ontask-health"):
            client.make_bucket("ontask-health")
        key, body = f"probe-{uuid.uuid4().hex}", b"ok"
        client.put_object("ontask-health", key, io.BytesIO(body), len(body))
        resp = client.get_object("ontask-health", key)
        try:
            return resp.read() == body
        finally:
            resp.close()
            resp.release_conn()

    def stop(self) -> None:
        if self.proc:
            self.proc.stop()
