"""The prompt the student and the judge see: the task, the window evidence as text, and the
question. One function, so the trainer, the predictor and the judge ask the same thing."""

from __future__ import annotations

from typing import Iterable, Mapping, Optional

QUESTION = "Is the person on-task or off-task? Answer on-task or off-task."
QUESTION_SWAPPED = "Is the person off-task or on-task? Answer off-task or on-task."
IMAGE_PLACEHOLDER = "<image>"  # verl's placeholder in dataset prompts


def evidence_text(windows: Optional[Iterable[Mapping]]) -> str:
    """Window titles and URLs as lines of text, the focused window first."""
    items = sorted(windows or (), key=lambda w: not w.get("focused"))
    lines = []
    for w in items:
        mark = "focused" if w.get("focused") else "background"
        line = f"- [{mark}] {w.get('app', '')}: {w.get('title', '')}"
        if w.get("url"):
            line += f" <{w['url']}>"
        lines.append(line)
    return "\n".join(lines) if lines else "- (no window information)"


def prompt_text(task: str, windows: Optional[Iterable[Mapping]], swapped: bool = False) -> str:
    """The text part of the user turn (the image comes before it)."""
    question = QUESTION_SWAPPED if swapped else QUESTION
    return f"Task: {task.strip()}\nWindows:\n{evidence_text(windows)}\n{question}"


def verl_prompt(task: str, windows: Optional[Iterable[Mapping]]) -> list[dict]:
    """Chat messages in verl's RL dataset layout (an <image> placeholder in the content)."""
    return [{"role": "user", "content": IMAGE_PLACEHOLDER + prompt_text(task, windows)}]


def chat_prompt(processor, text: str) -> str:
    """The templated prompt of one user turn (the screenshot, then `text`), ready for the
    assistant's answer: the one place the chat template is applied."""
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]
    return processor.apply_chat_template(messages, add_generation_prompt=True)
