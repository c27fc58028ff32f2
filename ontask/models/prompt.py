"""The prompt the student and the judge see: the task, the window evidence as text, and the
question. One function, so the trainer, the predictor and the judge ask the same thing."""

from __future__ import annotations

from functools import lru_cache
from typing import Iterable, Mapping, Optional

from ontask.verify.relevance import relevance

QUESTION = "Is the person on-task or off-task? Answer on-task or off-task."
QUESTION_SWAPPED = "Is the person off-task or on-task? Answer off-task or on-task."
IMAGE_PLACEHOLDER = "<image>"  # verl's placeholder in dataset prompts


@lru_cache(maxsize=1)
def _synonyms() -> dict[str, list[str]]:
    from ontask.verify.verifier import VerifierConfig

    return VerifierConfig.load().synonyms


def evidence_text(windows: Optional[Iterable[Mapping]], task: Optional[str] = None) -> str:
    """Window titles and URLs as lines of text, the focused window last (nearest the question:
    a small model finds it at a short, steady distance from where it answers). With the task,
    each line also names the task's words the window mentions (the verifier's keyword rule,
    stems and synonyms): whether a title is about the task is then read, not memorised."""
    items = sorted(windows or (), key=lambda w: bool(w.get("focused")))
    lines = []
    for w in items:
        mark = "focused" if w.get("focused") else "background"
        line = f"- [{mark}] {w.get('app', '')}: {w.get('title', '')}"
        if w.get("url"):
            line += f" <{w['url']}>"
        if task is not None:
            _, hits = relevance(task, f"{w.get('title') or ''} {w.get('url') or ''}", _synonyms())
            line += f" (task words: {', '.join(hits) if hits else 'none'})"
        lines.append(line)
    return "\n".join(lines) if lines else "- (no window information)"


def prompt_text(task: str, windows: Optional[Iterable[Mapping]], swapped: bool = False) -> str:
    """The text part of the user turn (the image comes before it)."""
    question = QUESTION_SWAPPED if swapped else QUESTION
    return f"Windows:\n{evidence_text(windows, task)}\nTask: {task.strip()}\n{question}"


def verl_prompt(task: str, windows: Optional[Iterable[Mapping]]) -> list[dict]:
    """Chat messages in verl's RL dataset layout (an <image> placeholder in the content)."""
    return [{"role": "user", "content": IMAGE_PLACEHOLDER + prompt_text(task, windows)}]


def chat_prompt(processor, text: str) -> str:
    """The templated prompt of one user turn (the screenshot, then `text`), ready for the
    assistant's answer: the one place the chat template is applied."""
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]
    return processor.apply_chat_template(messages, add_generation_prompt=True)
