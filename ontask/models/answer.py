"""The student's answer: how a screenshot, a task and its window evidence become the model's
input, which tokens the two labels are, and P(on-task) from one forward pass. Training, serving
and evaluation all read the answer here (serving never imports the training loop)."""

from __future__ import annotations

import math

import torch

from ontask.images import fit_for
from ontask.labels import OFF, ON
from ontask.prompt import chat_prompt, prompt_text
from ontask.verify.config import VerifierConfig


def option_token_ids(tokenize, options: tuple[str, str]) -> tuple[list[int], int, int]:
    """(common prefix ids, first distinguishing id of option 0, of option 1).

    The two answers may share leading tokens (a BPE may split "on-task" and "off-task" after
    a shared piece); the verdict is read where they first differ, after feeding the prefix.
    """
    a, b = tokenize(options[0]), tokenize(options[1])
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    if n == len(a) or n == len(b):
        raise ValueError(f"options {options!r} are not distinguishable by their tokens ({a} vs {b})")
    return a[:n], a[n], b[n]


def two_way_probability(logit_a: float, logit_b: float) -> float:
    """P(option a) when the answer is one of a or b: softmax over just the two logits."""
    m = max(logit_a, logit_b)
    ea, eb = math.exp(logit_a - m), math.exp(logit_b - m)
    return ea / (ea + eb)


def answer_logits(model, inputs: dict, token_ids: list[int]) -> torch.Tensor:
    """[B, len(token_ids)] logits of `token_ids` at each row's last position, for a plain (not
    adapter-wrapped) Qwen2.5-VL. Only those rows of the LM head are computed: the full head is a
    matrix-vector product over the whole vocabulary (151,936 x hidden in Qwen's checkpoints),
    bound by memory bandwidth, and was most of a serving pass on a CPU (11 of 26 ms at hidden 512)."""
    hidden = model.model(**inputs).last_hidden_state[:, -1]
    head = model.get_output_embeddings()
    logits = hidden @ head.weight[token_ids].T
    if getattr(head, "bias", None) is not None:
        logits = logits + head.bias[token_ids]
    return logits.float()


def encode(processor, image, task: str, windows, config: VerifierConfig) -> dict[str, torch.Tensor]:
    """The student's prompt: the screenshot, then the task and the window evidence as text (its
    task words read with `config`, the rules the model is trained with)."""
    image = fit_for(image, processor.image_processor)
    text = chat_prompt(processor, prompt_text(task, windows, config))
    return dict(processor(text=[text], images=[image], return_tensors="pt"))


class AnswerTokens:
    """Token ids of the answers: the student's label is read where on-task and off-task differ."""

    def __init__(self, processor, model):
        tok = processor.tokenizer
        prefix, self.on, self.off = option_token_ids(lambda s: tok(s, add_special_tokens=False)["input_ids"], (ON, OFF))
        if prefix:
            raise ValueError("the tokenizer gives on-task and off-task a common first token; not supported yet")
        # Released Qwen2.5-VL configs list several end tokens (<|im_end|>, <|endoftext|>): an
        # answer ends with the first (the chat template's end of turn), sampling stops at any.
        eos = model.generation_config.eos_token_id
        self.stop = [int(t) for t in (eos if isinstance(eos, (list, tuple)) else [eos])]
        self.eos = self.stop[0]
        pad = model.generation_config.pad_token_id
        self.pad = int(pad) if pad is not None else self.eos
        self.suppress = [
            model.config.image_token_id,
            model.config.video_token_id,
            model.config.vision_start_token_id,
            model.config.vision_end_token_id,
        ]
        self.on_ids = tok(ON, add_special_tokens=False)["input_ids"] + [self.eos]
        self.off_ids = tok(OFF, add_special_tokens=False)["input_ids"] + [self.eos]


def p_on_task(model, inputs: dict, answers: AnswerTokens) -> float:
    """P(on-task) from ONE forward pass: the two answers' first-token logits (as serving does)."""
    with torch.no_grad():
        model.model.rope_deltas = None
        logits = model(**inputs, logits_to_keep=1).logits[0, -1].float()
    return float(torch.softmax(torch.stack([logits[answers.on], logits[answers.off]]), 0)[0])
