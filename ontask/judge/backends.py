"""Judge backends behind one interface: score(requests) -> P(first option) for each request.

- TransformersBackend: a Qwen2.5-VL checkpoint in-process (CPU in tests, GPU where present).
- OpenAIBackend: an OpenAI-compatible server with logprobs (vLLM's `vllm serve`), for the 72B
  judge on GPUs.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import urllib.request
from dataclasses import dataclass
from typing import Optional, Protocol, Sequence

import torch
from PIL import Image

from ontask.judge.options import from_logprobs
from ontask.models.answer import option_token_ids, two_way_probability
from ontask.prompt import chat_prompt


@dataclass(frozen=True)
class ScoreRequest:
    """One question to the judge: the screenshot, the user text, and the two answers in the
    order the text names them."""

    image: Image.Image
    text: str
    options: tuple[str, str]


class Backend(Protocol):
    model_id: str
    forward_passes: int

    def score(self, requests: Sequence[ScoreRequest]) -> list[float]:
        """P(requests[i].options[0]) normalised over the two options, for each request."""
        ...


class TransformersBackend:
    """A Qwen2.5-VL judge in-process: one batched forward pass per call."""

    def __init__(self, model, processor, model_id: str, device: str = "cpu"):
        self.model, self.processor, self.model_id, self.device = model, processor, model_id, device
        # Batched prompts must end at the same position: the answer logits are read there.
        self.processor.tokenizer.padding_side = "left"
        self.forward_passes = 0
        self._lock = threading.Lock()

    @classmethod
    def load(cls, uri: str, s3=None, device: Optional[str] = None) -> "TransformersBackend":
        """The judge checkpoint at `uri`, on `device` (default: the GPU in bf16 when one is visible)."""
        from ontask.models.loading import accelerator, load_vlm

        device = device or accelerator()[0]
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        model, processor = load_vlm(uri, s3=s3, dtype=dtype, device=device)
        return cls(model, processor, model_id=uri, device=device)

    def _tokenize(self, text: str) -> list[int]:
        return self.processor.tokenizer(text, add_special_tokens=False)["input_ids"]

    @torch.no_grad()
    def score(self, requests: Sequence[ScoreRequest]) -> list[float]:
        if not requests:
            return []
        texts, ids = [], []
        for r in requests:
            prefix, a, b = option_token_ids(self._tokenize, r.options)
            texts.append(chat_prompt(self.processor, r.text) + self.processor.tokenizer.decode(prefix))
            ids.append((a, b))
        inputs = self.processor(text=texts, images=[r.image for r in requests], return_tensors="pt", padding=True).to(
            self.device
        )
        with self._lock:
            logits = self.model(**inputs, logits_to_keep=1).logits[:, -1, :].float()
            self.forward_passes += 1
        return [two_way_probability(float(logits[i, a]), float(logits[i, b])) for i, (a, b) in enumerate(ids)]


class OpenAIBackend:
    """An OpenAI-compatible chat completions server with logprobs (vLLM)."""

    def __init__(self, base_url: str, model_id: str, timeout: float = 60.0, api_key: Optional[str] = None):
        self.base_url, self.model_id, self.timeout, self.api_key = base_url.rstrip("/"), model_id, timeout, api_key
        self.forward_passes = 0

    @staticmethod
    def request_body(model_id: str, r: ScoreRequest) -> dict:
        buf = io.BytesIO()
        r.image.save(buf, format="PNG")
        data_url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
        return {
            "model": model_id,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": data_url}},
                        {"type": "text", "text": r.text},
                    ],
                }
            ],
            "max_tokens": 1,
            "temperature": 0.0,
            "logprobs": True,
            "top_logprobs": 20,
        }

    @staticmethod
    def parse(response: dict, options: tuple[str, str]) -> float:
        """P(options[0]) from a chat completion's first-token top logprobs."""
        content = response["choices"][0]["logprobs"]["content"][0]
        top = [(t["token"], t["logprob"]) for t in content.get("top_logprobs", [])]
        return from_logprobs(top, options[0], options[1])

    def score(self, requests: Sequence[ScoreRequest]) -> list[float]:
        out = []
        for r in requests:
            body = json.dumps(self.request_body(self.model_id, r)).encode()
            req = urllib.request.Request(
                f"{self.base_url}/v1/chat/completions",
                data=body,
                headers={
                    "Content-Type": "application/json",
                    **({"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}),
                },
            )
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                out.append(self.parse(json.loads(resp.read()), r.options))
            self.forward_passes += 1
        return out
