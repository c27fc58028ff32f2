"""The verifier's configuration: ActivityWatch-style category rules, distractions, task-word
synonyms and temporal smoothing, read from YAML (the built-in rules: `verifier_config.yaml` in
this package).

The configuration is part of a model version: `ontask train` writes the rules it scored and
fitted with beside the model (VERIFIER_FILE, beside config.json), and whatever reads the model
reads them back with it (`model_verifier_config`), so the prompt's task words, the served hybrid,
its evaluation and the collector's edge cases use the rules the model was trained with. This is
the one module that loads a configuration; everything else is handed one."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Optional

import yaml

from ontask.verify.rules import Rule, compile_rules

# Beside config.json in every model folder that `ontask train` writes.
VERIFIER_FILE = "ontask-verifier.yaml"


@dataclass(frozen=True)
class VerifierConfig:
    text: str = field(repr=False)  # the YAML it was read from: what travels with a model
    rules: list[Rule]
    distractions: list[tuple[str, ...]]
    synonyms: dict[str, list[str]]
    neighbour_weight: float = 0.5
    history: int = 5
    errors: list[str] = field(default_factory=list)

    @classmethod
    def from_yaml(cls, text: str) -> "VerifierConfig":
        """Parse a config; broken rules are collected in .errors, never fatal."""
        doc = yaml.safe_load(text) or {}
        rules, errors = compile_rules(doc.get("categories") or [])
        temporal = doc.get("temporal") or {}
        return cls(
            text=text,
            rules=rules,
            distractions=[tuple(d) for d in doc.get("distractions") or []],
            synonyms={str(k): [str(v) for v in vs] for k, vs in (doc.get("synonyms") or {}).items()},
            neighbour_weight=float(temporal.get("neighbour_weight", 0.5)),
            history=int(temporal.get("history", 5)),
            errors=errors,
        )

    @classmethod
    def load(cls, path: Optional[str | Path] = None) -> "VerifierConfig":
        """The config in a YAML file; the built-in one without a path."""
        if path is None:
            return cls.from_yaml(resources.files("ontask.verify").joinpath("verifier_config.yaml").read_text())
        return cls.from_yaml(Path(path).read_text())

    def write(self, folder: str | Path) -> Path:
        """Write the config beside a model (into its folder), as it was read."""
        path = Path(folder) / VERIFIER_FILE
        path.write_text(self.text)
        return path


def builtin_verifier_config() -> VerifierConfig:
    """The built-in rules: what a model without rules of its own, the judge and the bootstrap
    labeller score with."""
    return VerifierConfig.load()


def read_verifier_config(path: str | Path) -> VerifierConfig:
    """The rules of a YAML file in this format (the verl plan's `verifier_config.yaml`, the
    rules `ontask export verl` hands verl's reward)."""
    return VerifierConfig.load(path)


def model_verifier_config(folder: str | Path) -> VerifierConfig:
    """The rules a model version was trained with, read from its folder; the built-in rules for a
    model written before the rules travelled with it, and for a base checkpoint.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as model:
        ...     before = model_verifier_config(model).synonyms.get("zorblat")
        ...     _ = VerifierConfig.from_yaml("synonyms: {zorblat: [frobnicator]}").write(model)
        ...     before, model_verifier_config(model).synonyms["zorblat"]
        (None, ['frobnicator'])
    """
    path = Path(folder) / VERIFIER_FILE
    return VerifierConfig.load(path) if path.is_file() else builtin_verifier_config()
