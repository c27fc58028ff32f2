"""The prompt the student and the judge see: the task, the window evidence as text, and the
question. One function, so the trainer, the predictor and the judge ask the same thing. User
text enters it only through `clean_text`: what a user types cannot change the prompt's shape.
The task words it names are the verifier's (its synonyms), from the configuration it is handed:
a model's own (ontask.verify.model_verifier_config), so it is asked as it was trained."""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable, Mapping, Optional

from ontask.verify.config import VerifierConfig
from ontask.verify.relevance import relevance

QUESTION = "Is the person on-task or off-task? Answer on-task or off-task."
QUESTION_SWAPPED = "Is the person off-task or on-task? Answer off-task or on-task."
IMAGE_PLACEHOLDER = "<image>"  # verl's placeholder in dataset prompts


# Text from users (tasks, window apps, titles, URLs) reaches the tokenizer, and a tokenizer splits
# its added tokens out of any text: a title that says `<|image_pad|>` becomes an image slot the
# processor cannot fill (and fails the whole batch), `<|im_start|>` opens a forged turn, and verl
# splits a dataset prompt on `<image>`. Breaking the two characters that open and close Qwen's
# `<|...|>` tokens neutralises every one of them, whatever the tokenizer's list; the tag-style
# added tokens and placeholders are named.
_TOKEN_OPEN, _TOKEN_CLOSE = re.compile(r"<\|"), re.compile(r"\|>")
_TAG_TOKENS = re.compile(r"<(/?)(image|video|tool_call|tool_response|think)>", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def clean_text(text: Optional[str]) -> str:
    """User text made safe to stand in the prompt: one line, no control or invisible format
    characters, no tokenizer special token. Ordinary titles, tasks and URLs pass unchanged.

    Newlines (and every other line or paragraph separator) become spaces, so a title cannot add
    a `- [focused]` or `Task words in:` line of its own; format characters (zero-width, bidi
    overrides) are dropped before the tokens are escaped, so `<\u200b|image_pad|>` cannot close
    up into a token afterwards; `<|name|>` becomes `< |name| >` and `<image>` becomes `< image>`."""
    if not text:
        return ""
    chars = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Cf":
            continue  # invisible: zero-width joiners, bidi overrides, BOM
        chars.append(" " if cat in ("Cc", "Zl", "Zp") else ch)
    out = _SPACES.sub(" ", "".join(chars)).strip()
    out = _TOKEN_CLOSE.sub("| >", _TOKEN_OPEN.sub("< |", out))
    return _TAG_TOKENS.sub(lambda m: f"< {m.group(1)}{m.group(2)}>", out)


# Where the task's words were found, one line after the windows (see evidence_text).
WHERE_TASK_WORDS = {
    "focused": "Task words in: the focused window",
    "background": "Task words in: a background window only",
    "none": "Task words in: no window",
}


def evidence_text(windows: Optional[Iterable[Mapping]], task: Optional[str], config: VerifierConfig) -> str:
    """Window titles and URLs as lines of text, the focused window last (nearest the question:
    a small model finds it at a short, steady distance from where it answers). With the task,
    each line also names the task's words the window mentions (the verifier's keyword rule,
    stems and `config`'s synonyms): whether a title is about the task is then read, not memorised.

    With the task, a last line says where its words are: the focused window, a background window
    only, or none. Most rows are decided by the focused window, so a model trained on them reads
    the focused line and little else; a team's policy that turns on a background window (its
    focus music in front of the task's work) then has nothing to hold on to, and its two sides
    (the task's work behind the music, or another task's) look alike. At a fixed place near the
    question, the one fact that separates them is a token the model already reads."""
    items = sorted(windows or (), key=lambda w: bool(w.get("focused")))
    lines = []
    where = "none"
    task = None if task is None else clean_text(task)
    for w in items:
        focused = bool(w.get("focused"))
        mark = "focused" if focused else "background"
        title, url, page = clean_text(w.get("title")), clean_text(w.get("url")), clean_text(w.get("pageText"))
        line = f"- [{mark}] {clean_text(w.get('app'))}: {title}"
        if url:
            line += f" <{url}>"
        if page:  # the title says little: the page's own text, read by OCR, marked as such
            line += f" [page text read by OCR: {page}]"
        if task is not None:
            _, hits = relevance(task, f"{title} {url} {page}", config.synonyms)
            line += f" (task words: {', '.join(hits) if hits else 'none'})"
            if hits:
                where = "focused" if focused else ("background" if where == "none" else where)
        lines.append(line)
    if not lines:
        return "- (no window information)"
    if task is not None:
        lines.append(WHERE_TASK_WORDS[where])
    return "\n".join(lines)


def prompt_text(task: str, windows: Optional[Iterable[Mapping]], config: VerifierConfig, swapped: bool = False) -> str:
    """The text part of the user turn (the image comes before it); its task words are read with
    `config`'s synonyms."""
    question = QUESTION_SWAPPED if swapped else QUESTION
    return f"Windows:\n{evidence_text(windows, task, config)}\nTask: {clean_text(task)}\n{question}"


def verl_prompt(task: str, windows: Optional[Iterable[Mapping]], config: VerifierConfig) -> list[dict]:
    """Chat messages in verl's RL dataset layout (an <image> placeholder in the content)."""
    return [{"role": "user", "content": IMAGE_PLACEHOLDER + prompt_text(task, windows, config)}]


def chat_prompt(processor, text: str) -> str:
    """The templated prompt of one user turn (the screenshot, then `text`), ready for the
    assistant's answer: the one place the chat template is applied."""
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]
    return processor.apply_chat_template(messages, add_generation_prompt=True)
