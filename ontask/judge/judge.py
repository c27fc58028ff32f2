"""The VLM judge: P(on-task) for a (screenshot, task), asked in both option orders and
averaged (bidirectional evaluation), cached by content."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

from PIL import Image

from ontask.images import decode_image, sha256
from ontask.judge.backends import Backend, ScoreRequest
from ontask.judge.cache import JudgmentCache, judgment_key
from ontask.judge.options import bidirectional
from ontask.labels import OFF, ON, label_of
from ontask.prompt import prompt_text
from ontask.verify.config import VerifierConfig, builtin_verifier_config

PROMPT_VERSION = "judge-v3"  # v2: window lines name the task words; focused window last; v3: where they are


class JudgeInputError(ValueError):
    """A request the judge cannot answer (no task, no image)."""


@dataclass(frozen=True)
class JudgeInput:
    image: Image.Image
    task: str
    windows: Optional[list[dict[str, Any]]] = None
    image_sha256: Optional[str] = None

    @classmethod
    def from_bytes(
        cls, data: bytes, task: str, windows: Optional[list[dict[str, Any]]] = None, name: str = "screenshot"
    ) -> "JudgeInput":
        """An input from untrusted image bytes: ImageRejected (a ValueError) names what is wrong."""
        return cls(decode_image(data, name), task, windows, image_sha256=sha256(data))

    def digest(self) -> str:
        """Content hash of the screenshot: of its pixels (no encoding cost) unless given."""
        if self.image_sha256:
            return self.image_sha256
        return sha256(f"{self.image.mode}{self.image.size}".encode() + self.image.tobytes())


@dataclass(frozen=True)
class Judgment:
    """The judge's verdict. p_on_task is the bidirectional average."""

    p_on_task: float
    p_forward: float
    p_swapped: float
    cached: bool = False

    @property
    def label(self) -> str:
        return label_of(self.p_on_task)

    @property
    def confidence(self) -> float:
        return max(self.p_on_task, 1 - self.p_on_task)


def _pointwise_text(task: str, windows, answer: str, swapped: bool, config: VerifierConfig) -> str:
    base = prompt_text(task, windows, config).rsplit("\n", 1)[0]
    question = "Is this answer correct? Answer no or yes." if swapped else "Is this answer correct? Answer yes or no."
    return f"{base}\nProposed answer: {answer}\n{question}"


class Judge:
    """Verdicts from a backend, bidirectional, cached."""

    def __init__(self, backend: Backend, cache: Optional[JudgmentCache] = None, mode: str = "preference"):
        if mode not in ("preference", "pointwise"):
            raise ValueError(f"judge mode {mode!r}: use preference or pointwise")
        self.backend, self.cache, self.mode = backend, cache, mode
        # One judge serves several classifiers, and its cache keys name no rules: it reads the
        # task words of its prompts with the built-in rules.
        self.verifier_config = builtin_verifier_config()

    @staticmethod
    def _check(x: JudgeInput) -> None:
        if not x.task or not x.task.strip():
            raise JudgeInputError("empty task description")
        if x.image is None or x.image.width < 1 or x.image.height < 1:
            raise JudgeInputError("no image")

    def judge(self, inputs: Sequence[JudgeInput]) -> list[Judgment]:
        """P(on-task) for each input, asked as "on-task or off-task?" and as "off-task or
        on-task?" and averaged; cached inputs cost no forward pass."""
        for x in inputs:
            self._check(x)
        keys = [
            judgment_key(x.digest(), x.task, x.windows, PROMPT_VERSION, self.backend.model_id, "verdict")
            for x in inputs
        ]
        out: list[Optional[Judgment]] = [None] * len(inputs)
        todo = []
        for i, key in enumerate(keys):
            hit = self.cache.get(key) if self.cache else None
            if hit is not None:
                out[i] = Judgment(hit["p_on_task"], hit["p_forward"], hit["p_swapped"], cached=True)
            else:
                todo.append(i)
        if todo:
            requests = []
            for i in todo:
                x = inputs[i]
                forward = prompt_text(x.task, x.windows, self.verifier_config)
                swapped = prompt_text(x.task, x.windows, self.verifier_config, swapped=True)
                requests.append(ScoreRequest(x.image, forward, (ON, OFF)))
                requests.append(ScoreRequest(x.image, swapped, (ON, OFF)))
            probs = self.backend.score(requests)
            for n, i in enumerate(todo):
                fwd, swp = probs[2 * n], probs[2 * n + 1]
                j = Judgment(bidirectional(fwd, swp), fwd, swp)
                out[i] = j
                if self.cache:
                    self.cache.put(keys[i], {"p_on_task": j.p_on_task, "p_forward": fwd, "p_swapped": swp})
        return [j for j in out if j is not None]

    def answer_probability(self, x: JudgeInput, answer: str) -> float:
        """How likely the judge finds `answer` correct, in the configured mode: preference
        compares it with its opposite; pointwise asks yes/no about it (both orders)."""
        if answer not in (ON, OFF):
            return 0.0
        if self.mode == "preference":
            p = self.judge([x])[0].p_on_task
            return p if answer == ON else 1 - p
        self._check(x)
        key = judgment_key(x.digest(), x.task, x.windows, PROMPT_VERSION, self.backend.model_id, "pointwise", answer)
        hit = self.cache.get(key) if self.cache else None
        if hit is not None:
            return hit["p_yes"]
        rules = self.verifier_config
        fwd, swp = self.backend.score(
            [
                ScoreRequest(x.image, _pointwise_text(x.task, x.windows, answer, swapped, rules), ("yes", "no"))
                for swapped in (False, True)
            ]
        )
        p_yes = bidirectional(fwd, swp)
        if self.cache:
            self.cache.put(key, {"p_yes": p_yes})
        return p_yes
