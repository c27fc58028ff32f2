"""The student's answer in one forward pass: P(on-task) from the logits of the two answers'
first tokens at the end of the prompt. No sampling, no free text."""

from __future__ import annotations

import threading
from typing import Any, Mapping, Optional, Sequence

import torch
from PIL import Image

from ontask.images import fit_for, set_pixel_budget
from ontask.labels import OFF, ON
from ontask.models.answer import AnswerTokens, answer_logits
from ontask.models.hybrid import HybridFit
from ontask.models.loading import load_vlm, local_copy
from ontask.prompt import chat_prompt, prompt_text
from ontask.verify.config import VerifierConfig, model_verifier_config


class StudentClassifier:
    """A loaded student: classify a batch of (screenshot, task, windows) in one forward pass.
    Its verifier configuration (the rules it was trained with) reads the task words of its
    prompts, and the verifier that its hybrid mixes in scores with it.

    Thread-safe: forward passes are serialised (one model, one set of weights)."""

    def __init__(
        self,
        model,
        processor,
        verifier_config: VerifierConfig,
        max_pixels: Optional[int] = None,
        hybrid: Optional[HybridFit] = None,
    ):
        self.model, self.processor = model, processor
        self.verifier_config = verifier_config
        # The student's weight beside the verifier, fitted when it was trained (None: student alone).
        self.hybrid = hybrid
        # The processor resizes every screenshot to at most this many pixels: the latency knob.
        set_pixel_budget(processor.image_processor, max_pixels)
        processor.tokenizer.padding_side = "left"  # the answer is read at the last position of every row
        self.answers = AnswerTokens(processor, model)
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        uri: str,
        max_pixels: Optional[int] = None,
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
        s3=None,
    ) -> "StudentClassifier":
        folder = local_copy(uri, s3)
        model, processor = load_vlm(str(folder), dtype=dtype, device=device)
        return cls(model, processor, model_verifier_config(folder), max_pixels, HybridFit.read(folder))

    def prompts(self, tasks: Sequence[str], windows: Sequence[Optional[list[Mapping]]]) -> list[str]:
        return [chat_prompt(self.processor, prompt_text(t, w, self.verifier_config)) for t, w in zip(tasks, windows)]

    def p_on_task(
        self, images: Sequence[Image.Image], tasks: Sequence[str], windows: Sequence[Optional[list[Mapping]]]
    ) -> list[float]:
        """P(on-task) for each row; all rows share one padded forward pass."""
        images = [fit_for(im, self.processor.image_processor) for im in images]
        inputs = self.processor(text=self.prompts(tasks, windows), images=images, padding=True, return_tensors="pt").to(
            self.model.device
        )
        with self._lock, torch.inference_mode():
            self.model.model.rope_deltas = None  # cached positions belong to the previous batch
            pair = answer_logits(self.model, inputs, [self.answers.on, self.answers.off])
        return torch.softmax(pair, dim=1)[:, 0].tolist()


def answer_budget(tokenizer) -> int:
    """The tokens a real instruction-tuned model generates for its answer: the longer label's
    tokens and the end token. (A random tiny model never emits the end token, so it would run to
    any larger limit and make the baseline look slower than a real one.)"""
    return max(len(tokenizer(label, add_special_tokens=False)["input_ids"]) for label in (ON, OFF)) + 1


class PromptBaseline:
    """The "prompt engineering" baseline: the same model class asked what the judge asks (the
    screenshot, the window evidence, the task and the question, as a user of prompting would ask
    it, nothing added), the label generated as free text (greedy) and parsed from the words it
    writes. It generates at most `max_new_tokens` (default: what a real model's answer takes,
    answer_budget). Its prompt's task words are read with `verifier_config` (those of the systems
    it is compared with)."""

    def __init__(self, model, processor, verifier_config: VerifierConfig, max_new_tokens: Optional[int] = None):
        self.model, self.processor = model, processor
        self.verifier_config = verifier_config
        self.max_new_tokens = max_new_tokens or answer_budget(processor.tokenizer)
        processor.tokenizer.padding_side = "left"
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls, uri: str, verifier_config: VerifierConfig, max_new_tokens: Optional[int] = None, **kwargs: Any
    ) -> "PromptBaseline":
        model, processor = load_vlm(uri, **kwargs)
        return cls(model, processor, verifier_config, max_new_tokens)

    def prompts(self, tasks: Sequence[str], windows: Sequence[Optional[list[Mapping]]]) -> list[str]:
        """The templated prompts: the judge's question (ontask.prompt), the student's too."""
        return [chat_prompt(self.processor, prompt_text(t, w, self.verifier_config)) for t, w in zip(tasks, windows)]

    def p_on_task(
        self, images: Sequence[Image.Image], tasks: Sequence[str], windows: Sequence[Optional[list[Mapping]]]
    ) -> list[float]:
        """1.0 / 0.0 when the generated text names a label, 0.5 when it names neither."""
        images = [fit_for(im, self.processor.image_processor) for im in images]
        inputs = self.processor(text=self.prompts(tasks, windows), images=images, padding=True, return_tensors="pt").to(
            self.model.device
        )
        with self._lock, torch.inference_mode():
            self.model.model.rope_deltas = None
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        answers = self.processor.batch_decode(out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        return [parse_label_text(a) for a in answers]


def parse_label_text(text: str) -> float:
    """P(on-task) implied by a free-text answer: the first label it names wins."""
    low = text.lower()
    on, off = low.find(ON), low.find(OFF)
    if on < 0 and off < 0:
        return 0.5
    if off < 0 or (0 <= on < off):
        return 1.0
    return 0.0
