"""The judge as a service: clients of a judge InferenceService, so that a data Job or a student
predictor asks the judge the cluster runs instead of loading a 72B model itself.

The protocol follows `spec.judge.runtime`:
- transformers: the judge runs `ontask serve judge`, which answers KServe's v1 predict with
  P(on-task); the bidirectional order swap and the cache run on its side.
- vllm: KServe's Hugging Face runtime with the vLLM backend answers OpenAI chat completions with
  logprobs (under /openai); the order swap and the cache run here, in a Judge over OpenAIBackend,
  in the judge mode the spec names.
"""

from __future__ import annotations

import argparse
import base64
import io
from typing import Any, Callable, Optional, Protocol

import requests
from PIL import Image

from ontask.api import JudgeRuntime


class JudgeClient(Protocol):
    def p_on_task(
        self, image: Optional[bytes], image_uri: Optional[str], task: str, windows: Optional[list[dict]]
    ) -> float: ...


class HttpJudgeClient:
    """The judge predictor over KServe v1 HTTP (`ontask serve judge`, runtime transformers)."""

    def __init__(self, base_url: str, model: str = "judge", timeout: float = 60.0, token: Optional[str] = None):
        self.url = f"{base_url.rstrip('/')}/v1/models/{model}:predict"
        self.timeout = timeout
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def p_on_task(self, image, image_uri, task, windows) -> float:
        instance: dict[str, Any] = {"task": task}
        if image is not None:
            instance["image"] = base64.b64encode(image).decode()
        else:
            instance["imageUri"] = image_uri
        if windows:
            instance["windows"] = windows
        r = self.session.post(self.url, json={"instances": [instance]}, timeout=self.timeout)
        r.raise_for_status()
        return float(r.json()["predictions"][0]["pOnTask"])


class OpenAIJudgeClient:
    """A judge over an OpenAI-compatible server with logprobs (vLLM behind KServe's Hugging Face
    runtime): the Judge's order swap and cache run in this process."""

    def __init__(self, base_url: str, model: str, mode: str = "preference", cache: bool = True, timeout: float = 60.0):
        from ontask.judge.backends import OpenAIBackend
        from ontask.judge.cache import JudgmentCache
        from ontask.judge.judge import Judge

        self.judge = Judge(OpenAIBackend(base_url, model, timeout), JudgmentCache() if cache else None, mode)

    def p_on_task(self, image, image_uri, task, windows) -> float:
        from ontask.judge.judge import JudgeInput

        if image is None:
            raise ValueError("the OpenAI judge client needs the screenshot's bytes, not a reference")
        return self.judge.judge([JudgeInput.from_bytes(image, task, windows)])[0].p_on_task


def judge_client(
    url: str,
    runtime: JudgeRuntime | str = JudgeRuntime.transformers,
    model: str = "judge",
    mode: str = "preference",
    cache: bool = True,
    token: Optional[str] = None,
) -> JudgeClient:
    """The client of the judge service at `url` (its base URL, as KServe routes it), speaking the
    protocol of its runtime (see the module's docstring). `token`: the bearer token an `ontask
    serve judge` predictor requires (spec.serving.tokenSecretRef: the same as the student's); a
    vllm judge is KServe's own server, which takes none (the chart's NetworkPolicy guards it)."""
    if runtime not in {r.value for r in JudgeRuntime}:
        raise ValueError(f"judge runtime {runtime!r}: use one of {', '.join(r.value for r in JudgeRuntime)}")
    runtime = JudgeRuntime(runtime)
    if runtime == JudgeRuntime.transformers:
        return HttpJudgeClient(url, model, token=token)
    return OpenAIJudgeClient(f"{url.rstrip('/')}/openai", model, mode, cache)


def add_judge_service_arguments(p: argparse.ArgumentParser) -> None:
    """How a client speaks to the judge service at --judge-url (`ontask serve student`, `ontask
    data prepare`): its runtime's protocol and its model name (judge_client)."""
    p.add_argument(
        "--judge-runtime",
        default="transformers",
        help="spec.judge.runtime of the judge service: transformers, an `ontask serve judge` predictor (KServe v1); "
        "vllm, KServe's Hugging Face runtime (OpenAI chat completions with logprobs)",
    )
    p.add_argument("--judge-model", default="judge", help="the judge's model name at that service")


ImageJudge = Callable[[Image.Image, str, Optional[list[dict]]], float]


def image_judge(judge: Any) -> ImageJudge:
    """P(on-task) of a decoded screenshot, from an in-process Judge or a judge service's client
    (which gets it as PNG, without loss)."""
    from ontask.judge.judge import Judge, JudgeInput

    if isinstance(judge, Judge):
        return lambda image, task, windows: judge.judge([JudgeInput(image, task, windows)])[0].p_on_task

    def ask(image: Image.Image, task: str, windows: Optional[list[dict]]) -> float:
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        return judge.p_on_task(buf.getvalue(), None, task, windows)

    return ask
