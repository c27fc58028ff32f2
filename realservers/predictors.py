"""Starting `ontask serve` predictors as real HTTP servers for tests (the operator's kubelet
stand-in uses the same helper)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import requests

from ontask.operator.local import free_port
from realservers.proc import ServerProcess

REPO = Path(__file__).resolve().parents[1]


def s3_env(s3) -> dict[str, str]:
    """The variables KServe's storage initializer and our predictors read for S3."""
    return {"S3_ENDPOINT": s3.endpoint, "AWS_ACCESS_KEY_ID": s3.access_key, "AWS_SECRET_ACCESS_KEY": s3.secret_key}


class Predictor:
    """One `ontask serve <role>` process on a free port."""

    def __init__(
        self,
        role: str,
        model_uri: str,
        workdir: Path,
        *args: str,
        name: Optional[str] = None,
        env: Optional[dict[str, str]] = None,
        port: Optional[int] = None,
    ):
        self.role, self.name = role, name or role
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = ServerProcess(
            f"predictor-{self.name}-{self.port}",
            [
                sys.executable,
                "-m",
                "ontask.cli",
                "serve",
                role,
                "--model-uri",
                model_uri,
                "--name",
                self.name,
                "--http-port",
                str(self.port),
                *args,
            ],
            workdir,
            env={"PYTHONPATH": str(REPO), **(env or {})},
        )

    def start(self, timeout: float = 180.0) -> "Predictor":
        self.process.start()
        self.process.wait_until(self.ready, timeout=timeout, what="ready")
        return self

    def ready(self) -> bool:
        r = requests.get(f"{self.url}/v1/models/{self.name}", timeout=2)
        return r.status_code == 200 and r.json().get("ready") is True

    def v1(self, instances: list[dict], timeout: float = 60.0) -> requests.Response:
        return requests.post(
            f"{self.url}/v1/models/{self.name}:predict", json={"instances": instances}, timeout=timeout
        )

    def stop(self) -> None:
        self.process.stop()
