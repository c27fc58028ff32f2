"""The student's answer: how a screenshot, a task and its window evidence become the model's
input, which tokens the two labels are, and P(on-task) from one forward pass. Training, serving
and evaluation all read the answer here (serving never imports the training loop)."""

from __future__ import annotations

import torch

from ontask.data.images import fit_for
from ontask.judge.options import option_token_ids
from ontask.labels import OFF, ON
from ontask.models.prompt import chat_prompt, prompt_text


def encode(processor, image, task: str, windows) -> dict[str, torch.Tensor]:
    """The student's prompt: the screenshot, then the task and the window evidence as text."""
    image = fit_for(image, processor.image_processor)
    return dict(
        processor(text=[chat_prompt(processor, prompt_text(task, windows))], images=[image], return_tensors="pt")
    )


class AnswerTokens:
    """Token ids of the answers: the student's label is read where on-task and off-task differ."""

    def __init__(self, processor, model):
        tok = processor.tokenizer
        prefix, self.on, self.off = option_token_ids(lambda s: tok(s, add_special_tokens=False)["input_ids"], (ON, OFF))
        if prefix:
            raise ValueError("the tokenizer gives on-task and off-task a common first token; not supported yet")
        self.eos = model.generation_config.eos_token_id
        self.pad = model.generation_config.pad_token_id
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
        logits = model(**inputs).logits[0, -1].float()
    return float(torch.softmax(torch.stack([logits[answers.on], logits[answers.off]]), 0)[0])
