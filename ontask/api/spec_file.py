"""A TaskClassifier's spec read from a file or from the environment (`env:NAME`), with every way
that can fail said in one line a user can act on (SpecError)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ontask.api.spec import TaskClassifierSpec

# What to do about a field the models refuse: the CRD lists every field with its type and limits.
_FIELDS_HINT = "`ontask crd` lists every field with its type"


class SpecError(ValueError):
    """A spec that cannot be read, parsed or validated. Its message is one line: the file (or
    env:NAME), where in it, what is wrong, and what to do."""


def read_spec_document(path: str, expected: str = "a TaskClassifier or its spec") -> dict[str, Any]:
    """The YAML/JSON mapping in the file at `path`, or in the environment variable NAME for
    `env:NAME` (how the operator hands a classifier's spec to its children, whole). `expected`
    names what the file should hold, for the error when it is not a mapping."""
    import yaml

    text = _text(path)
    try:
        doc = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        raise SpecError(f"{path}: not valid YAML at {_where(e)}; fix the syntax there") from None
    except yaml.YAMLError as e:
        raise SpecError(f"{path}: not valid YAML ({e}); fix the syntax") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise SpecError(
            f"{path}: expected {expected} as a YAML mapping, got a {type(doc).__name__}; check it is the right file"
        )
    return doc


def spec_of_document(doc: dict[str, Any], path: str) -> "TaskClassifierSpec":
    """The spec of a TaskClassifier document or of a bare spec mapping read from `path`; SpecError
    names every field the models refuse, by its path in the file."""
    from pydantic import ValidationError

    from ontask.api.spec import TaskClassifierSpec
    from ontask.api.wire import validation_problems

    whole = "spec" in doc
    try:
        return TaskClassifierSpec.model_validate(doc["spec"] if whole else doc)
    except ValidationError as e:
        said = validation_problems(e, "spec" if whole else "")
        fields = "that field" if len(said) == 1 else "those fields"
        raise SpecError(f"{path}: {'; '.join(said)}; fix {fields} ({_FIELDS_HINT})") from None


def load_spec_file(path: str) -> "TaskClassifierSpec":
    """The spec of a TaskClassifier manifest or of a bare spec mapping at `path` or in `env:NAME`."""
    return spec_of_document(read_spec_document(path), path)


def _text(path: str) -> str:
    import os
    from pathlib import Path

    if path.startswith("env:"):
        name = path[4:]
        text = os.environ.get(name)
        if text is None:
            raise SpecError(
                f"{path}: the environment variable {name} is not set; set it to a TaskClassifier's YAML, "
                "or give the path of a file"
            )
        return text
    try:
        return Path(path).read_text()
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file; give the path of a TaskClassifier YAML (or env:NAME)") from None
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
        raise SpecError(f"{path}: cannot read it ({reason}); give the path of a TaskClassifier YAML") from None


def _where(e: Any) -> str:
    """Line and column (1-based) of a YAML error, what is wrong there, and what was being read."""
    mark = e.problem_mark or e.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "an unknown place"
    said = e.problem or e.context or "unreadable"
    if e.context and e.context_mark and e.problem:
        said += f" ({e.context} from line {e.context_mark.line + 1}, column {e.context_mark.column + 1})"
    return f"{where}: {said}"
