"""The agent's conversation with the classifier: a prediction over HTTP (KServe v1), the last
answer kept on disk, and a correction of it sent to Kafka in the published schema."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlparse

import requests

from ontask.agent.capture import Capture
from ontask.api import Prediction


class PredictorError(RuntimeError):
    """The predictor could not be reached or refused the request; str() says which and why."""


@dataclass
class Answer:
    """One prediction as the agent shows it."""

    task: str
    prediction: Prediction
    windows: list[dict[str, Any]]
    at: str  # RFC 3339, when the screenshot was taken

    def line(self) -> str:
        """The one line the agent prints."""
        focused = next((w for w in self.windows if w.get("focused")), None)
        where = (
            f"{focused['app']}: {focused['title']}"
            if focused and focused.get("title")
            else (focused or {}).get("app", "no focused window")
        )
        return (
            f"{self.at} {self.prediction.label} ({self.prediction.confidence:.0%}, "
            f"model {self.prediction.model_version}) | {where[:80]}"
        )


def is_loopback(host: str) -> bool:
    """Whether a URL's host is this machine.

    >>> [is_loopback(h) for h in ("localhost", "localhost.", "127.0.0.2", "::1", "ontask-student.team")]
    [True, True, True, True, False]
    """
    if host.rstrip(".").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plain_http_problem(url: str, token: Optional[str]) -> Optional[str]:
    """Why a predictor URL must not be asked with this token: a bearer token over plain http to
    another machine travels readable by anyone on the way (a port-forward to loopback is fine).

    >>> plain_http_problem("http://127.0.0.1:8080", "t") is None
    True
    >>> plain_http_problem("http://[::1]:8080", "t") is None
    True
    >>> plain_http_problem("https://ontask-student.team", "t") is None
    True
    >>> plain_http_problem("http://ontask-student.team", None) is None
    True
    >>> print(plain_http_problem("http://ontask-student.team", "t")[:58])
    predictor http://ontask-student.team (--predictor or ONTAS
    """
    parsed = urlparse(url)
    if not token or parsed.scheme != "http" or is_loopback(parsed.hostname or ""):
        return None
    return (
        f"predictor {url} (--predictor or ONTASK_PREDICTOR): a token over plain http to {parsed.hostname} would "
        "travel readable; give an https:// URL (or a port-forward to 127.0.0.1)"
    )


def predict(
    url: str,
    model: str,
    task: str,
    capture: Capture,
    timeout: float = 30.0,
    session_id: Optional[str] = None,
    token: Optional[str] = None,
) -> Answer:
    """Ask the student predictor at `url` (e.g. http://ontask-student.ns) about one capture, with
    the bearer `token` a predictor with spec.serving.tokenSecretRef wants."""
    at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    instance: dict[str, Any] = {
        "image": base64.b64encode(capture.jpeg()).decode(),
        "task": task,
        "windows": capture.windows,
        "timestamp": at,
    }
    if session_id:
        instance["sessionId"] = session_id
    endpoint = f"{url.rstrip('/')}/v1/models/{model}:predict"
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        r = requests.post(endpoint, json={"instances": [instance]}, timeout=timeout, headers=headers)
    except requests.RequestException as e:
        raise PredictorError(f"cannot reach the predictor at {endpoint}: {e}") from e
    if r.status_code != 200:
        raise PredictorError(f"the predictor at {endpoint} answered {r.status_code}: {r.text[:300]}")
    try:
        prediction = Prediction.model_validate(r.json()["predictions"][0])
    except (ValueError, KeyError, IndexError, TypeError) as e:
        raise PredictorError(
            f"the predictor at {endpoint} answered something that is not a prediction: {r.text[:300]}"
        ) from e
    return Answer(task, prediction, capture.windows, at)


def remember(answer: Answer, capture: Capture, folder: Path) -> None:
    """Keep the last answer and its screenshot in `folder` (AgentSettings.state_dir()) so `ontask
    agent correct` can correct it: the user's alone, the folder 0700 and each file 0600 whatever
    the umask (a screenshot of their desktop, and what was on it)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)  # mkdir's mode passes through the umask, and an older folder keeps its own
    _write_private(folder / "last.jpg", capture.jpeg())
    last = {
        "task": answer.task,
        "at": answer.at,
        "windows": answer.windows,
        "prediction": answer.prediction.model_dump(by_alias=True),
    }
    _write_private(folder / "last.json", json.dumps(last).encode())


def _write_private(path: Path, data: bytes) -> None:
    """Replace `path` with `data`, readable and writable by the user alone (0600 whatever the
    umask): written to a new file beside it, then renamed over it, so a reader never sees half
    of it and an older file's mode does not carry over."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)  # mkstemp's 0600 passes through the umask too
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def correction_of_last(
    classifier: str, label: str, folder: Path, note: Optional[str] = None, namespace: Optional[str] = None
):
    """The correction of the last answer remembered in `folder`, ready for `ontask.feedback.send`
    (addressed to the classifier in `namespace` when given)."""
    from ontask.feedback.producer import make_correction

    try:
        last = json.loads((folder / "last.json").read_text())
        image = (folder / "last.jpg").read_bytes()
    except FileNotFoundError as e:
        raise FileNotFoundError(f"no answer to correct yet in {folder}: run `ontask agent run` first") from e
    p = last["prediction"]
    return make_correction(
        classifier,
        last["task"],
        label,
        image=image,
        windows=last["windows"],
        predicted_label=p["label"],
        confidence=p["confidence"],
        model_version=p["modelVersion"],
        timestamp=last["at"],
        id=f"agent-{uuid.uuid4().hex}",
        note=note,
        namespace=namespace,
    )
