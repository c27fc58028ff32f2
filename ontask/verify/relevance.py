"""Task relevance: the task's keywords (and their synonyms) against the text a window shows."""

from __future__ import annotations

import re
from typing import Iterable, Mapping

STOPWORDS = frozenset(
    "a an the and or of in on at to for with about from by into as is are be this that these those my our your "
    "their it its do does did fix write build prepare review work handle answer follow up screen study design "
    "export make get go new old all any some each every current task today hour goal focus priority supposed "
    "i am".split()
)
_WORD = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")


def stem(word: str) -> str:
    """A light suffix-stripping stemmer (enough to match 'refunds' with 'refund')."""
    for suffix in ("ies", "ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def words(text: str) -> set[str]:
    """Stemmed words of a text, with compound words also split on - and _."""
    out = set()
    for w in _WORD.findall(text.lower()):
        out.add(stem(w))
        for part in re.split(r"[-_]", w):
            if part:
                out.add(stem(part))
    return out


def task_keywords(task: str, synonyms: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    """Each content word of the task with the stemmed forms that count as a mention of it."""
    out: dict[str, set[str]] = {}
    for w in _WORD.findall(task.lower()):
        if w in STOPWORDS or len(w) < 3:
            continue
        s = stem(w)
        forms = {s}
        for key in (w, s):
            for syn in synonyms.get(key, ()):
                forms |= words(str(syn))
        out[s] = forms
    return out


def relevance(task: str, text: str, synonyms: Mapping[str, Iterable[str]]) -> tuple[float, list[str]]:
    """(score in [0,1], the task keywords found in text): 0 none, 0.7 one, 1.0 two or more."""
    found_words = words(text)
    hits = [k for k, forms in task_keywords(task, synonyms).items() if forms & found_words]
    score = 0.0 if not hits else (0.7 if len(hits) == 1 else 1.0)
    return score, sorted(hits)
