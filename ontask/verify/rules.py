"""ActivityWatch-style category rules: regexes over a window's app, title and URL; the deepest
matching category wins. Pure functions over dicts; the YAML is read at the edge."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional

FIELDS = ("app", "title", "url")


@dataclass(frozen=True)
class Rule:
    category: tuple[str, ...]
    pattern: re.Pattern
    fields: tuple[str, ...] = FIELDS


@dataclass(frozen=True)
class Match:
    category: tuple[str, ...]
    field: str
    text: str
    regex: str

    @property
    def name(self) -> str:
        return "/".join(self.category)


def compile_rules(categories: list[dict[str, Any]]) -> tuple[list[Rule], list[str]]:
    """Rules from the `categories` list; a broken rule becomes an error naming it, and the
    others still load (as ActivityWatch does)."""
    rules, errors = [], []
    for i, entry in enumerate(categories or []):
        name = entry.get("name")
        label = "/".join(name) if isinstance(name, list) else repr(name)
        if not isinstance(name, list) or not name or not all(isinstance(p, str) for p in name):
            errors.append(f"category #{i + 1} ({label}): name must be a non-empty list of strings")
            continue
        rule = entry.get("rule") or {}
        if rule.get("type", "none") == "none":
            continue
        if rule.get("type") != "regex":
            errors.append(f"category {label}: unknown rule type {rule.get('type')!r} (use regex or none)")
            continue
        fields = tuple(rule.get("fields") or FIELDS)
        unknown = [f for f in fields if f not in FIELDS]
        if unknown:
            errors.append(f"category {label}: unknown fields {unknown} (use {', '.join(FIELDS)})")
            continue
        try:
            flags = re.IGNORECASE if rule.get("ignore_case", True) else 0
            pattern = re.compile(str(rule.get("regex", "")), flags)
        except re.error as e:
            errors.append(f"category {label}: broken regex {rule.get('regex')!r}: {e}")
            continue
        if not pattern.pattern:
            errors.append(f"category {label}: empty regex")
            continue
        rules.append(Rule(tuple(name), pattern, fields))
    return rules, errors


def categorize(window: dict[str, Any], rules: list[Rule]) -> Optional[Match]:
    """The deepest category whose rule matches the window (first listed wins a tie)."""
    best: Optional[Match] = None
    for rule in rules:
        for field in rule.fields:
            text = window.get(field) or ""
            m = rule.pattern.search(text)
            if m:
                if best is None or len(rule.category) > len(best.category):
                    best = Match(rule.category, field, m.group(0), rule.pattern.pattern)
                break
    return best


def is_under(category: tuple[str, ...], parents: list[tuple[str, ...]]) -> bool:
    """Whether category equals or lies under one of parents."""
    return any(category[: len(p)] == p for p in parents)
