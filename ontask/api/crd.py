"""Generates the TaskClassifier CRD from the pydantic models in :mod:`ontask.api`.

Kubernetes wants a *structural* OpenAPI v3 schema: no ``$ref``, no ``anyOf`` of types, no
``additionalProperties: false`` beside ``properties``, and boolean ``exclusiveMinimum``. A map
(a ``dict`` field) keeps its ``additionalProperties`` schema: without it the API server knows
the map as an object with no fields, and refuses (strict field validation, kubectl's default)
or prunes every key.
This module rewrites pydantic's JSON Schema into that shape and adds the CEL rules that
mirror the models' cross-field validators (``cel_rules`` on a model class).

Run ``python -m ontask.api.crd`` (or ``make crd``) to rewrite the chart's CRD; a test fails when it drifts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from ontask import api
from ontask.store_paths import FEEDBACK_DATASET_SUFFIX, NAME_SUFFIX_REFUSED

# Under the chart's files/ (templates/crds.yaml renders them), so `helm upgrade` upgrades them.
CRD_PATH = (
    Path(__file__).resolve().parents[2] / "charts" / "ontask" / "files" / "crds" / f"{api.PLURAL}.{api.GROUP}.yaml"
)

_DROP = {"title", "$defs", "discriminator"}


DESCRIPTION = "A screenshot on-task/off-task classifier trained with GRPO and kept learning from corrections."


def _model_classes(root: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """Every model reachable from root, by class name (pydantic's $defs keys)."""
    found: dict[str, type[BaseModel]] = {}
    stack = [root]
    while stack:
        cls = stack.pop()
        if cls.__name__ in found:
            continue
        found[cls.__name__] = cls
        for field in cls.model_fields.values():
            for arg in _type_args(field.annotation):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    stack.append(arg)
    return found


def _type_args(tp: Any) -> list[Any]:
    args = list(getattr(tp, "__args__", ()) or ())
    out = [tp]
    for a in args:
        out.extend(_type_args(a))
    return out


def _structural(node: Any, defs: dict[str, Any], classes: dict[str, type[BaseModel]]) -> Any:
    if isinstance(node, list):
        return [_structural(n, defs, classes) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        out = _structural(defs[name], defs, classes)
        rules = getattr(classes.get(name), "cel_rules", None)
        if rules:
            out["x-kubernetes-validations"] = [dict(r) for r in rules]
        extra = {k: v for k, v in node.items() if k != "$ref"}
        out.update(_structural(extra, defs, classes))
        return out
    if "anyOf" in node:
        # Optional[X] is anyOf [X, null]: the API server expresses "may be absent" by omission.
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        if len(options) != 1:
            raise ValueError(f"cannot express union {node['anyOf']} structurally")
        merged = {**_structural(options[0], defs, classes)}
        merged.update(_structural({k: v for k, v in node.items() if k != "anyOf"}, defs, classes))
        return merged
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP:
            continue
        if key == "const":
            out["enum"] = [value]
        elif key == "exclusiveMinimum":
            out["minimum"], out["exclusiveMinimum"] = value, True
        elif key == "exclusiveMaximum":
            out["maximum"], out["exclusiveMaximum"] = value, True
        elif key == "default" and value is None:
            continue
        elif key == "additionalProperties":
            # False is pydantic's extra="forbid" on a model: the API server refuses unknown
            # fields already (and a structural schema forbids it beside properties). A schema
            # is a map's values; True a map of anything.
            if isinstance(value, dict):
                out[key] = _structural(value, defs, classes)
            elif value is True:
                out["x-kubernetes-preserve-unknown-fields"] = True
        elif key == "properties":
            out[key] = {k: _structural(v, defs, classes) for k, v in value.items()}
        else:
            out[key] = _structural(value, defs, classes)
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    return out


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    """The structural OpenAPI v3 schema of a pydantic model, as the CRD embeds it."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.get("$defs", {})
    classes = _model_classes(model)
    out = _structural(raw, defs, classes)
    rules = getattr(model, "cel_rules", None)
    if rules:
        out["x-kubernetes-validations"] = [dict(r) for r in rules]
    return out


def build_crd() -> dict[str, Any]:
    """The whole CustomResourceDefinition object."""
    spec_schema = schema_of(api.TaskClassifierSpec)
    status_schema = schema_of(api.TaskClassifierStatus)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{api.PLURAL}.{api.GROUP}",
            "annotations": {
                "ontask.dev/generated-by": "python -m ontask.api.crd (from ontask/api/)",
                # `helm uninstall` leaves it, and with it every classifier.
                "helm.sh/resource-policy": "keep",
            },
        },
        "spec": {
            "group": api.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": api.KIND,
                "listKind": f"{api.KIND}List",
                "plural": api.PLURAL,
                "singular": api.SINGULAR,
                "shortNames": list(api.SHORT_NAMES),
                "categories": ["ontask"],
            },
            "versions": [
                {
                    "name": api.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                        {"name": "Model", "type": "string", "jsonPath": ".status.modelVersion"},
                        {"name": "Accuracy", "type": "number", "jsonPath": ".status.metrics.accuracy"},
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": DESCRIPTION,
                            "required": ["spec"],
                            "x-kubernetes-validations": [
                                {
                                    "rule": f"!self.metadata.name.endsWith('{FEEDBACK_DATASET_SUFFIX}')",
                                    "message": NAME_SUFFIX_REFUSED,
                                }
                            ],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema,
                                "status": status_schema,
                            },
                        }
                    },
                }
            ],
        },
    }


def render() -> str:
    """The CRD as the YAML text that lives in the chart."""
    header = "# Generated from ontask/api/ by `python -m ontask.api.crd`. Do not edit by hand.\n"
    return header + yaml.safe_dump(build_crd(), sort_keys=False, width=120)


def main(argv: list[str] | None = None) -> int:
    """Write the CRD into the chart, or with --check fail when it is out of date."""
    argv = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in argv:
        if not CRD_PATH.exists() or CRD_PATH.read_text() != text:
            print(f"{CRD_PATH} is out of date: run `python -m ontask.api.crd`", file=sys.stderr)
            return 1
        return 0
    CRD_PATH.parent.mkdir(parents=True, exist_ok=True)
    CRD_PATH.write_text(text)
    print(f"wrote {CRD_PATH}")
    return 0


def add_arguments(crd: argparse.ArgumentParser) -> None:
    """`ontask crd`'s options: it prints the CRD, or checks the chart's."""
    crd.add_argument("--check", action="store_true", help="fail when the chart's CRD is stale")
    crd.set_defaults(func=_cmd_crd)


def _cmd_crd(args: argparse.Namespace) -> int:
    if args.check:
        return main(["--check"])
    sys.stdout.write(render())
    return 0


def reference_markdown() -> str:
    """The TaskClassifier spec reference (field, type, default, meaning) as a Markdown table."""
    rows = ["| field | type | default | meaning |", "| --- | --- | --- | --- |"]

    def walk(model: type[BaseModel], prefix: str) -> None:
        properties = schema_of(model)["properties"]
        for name, field in model.model_fields.items():
            alias = field.alias or name
            path = f"{prefix}.{alias}" if prefix else alias
            sub = next(
                (a for a in _type_args(field.annotation) if isinstance(a, type) and issubclass(a, BaseModel)), None
            )
            if sub is not None:
                walk(sub, path)
                continue
            schema = properties[alias]
            typ = "/".join(schema["enum"]) if "enum" in schema else schema.get("type", "")
            if field.is_required():
                default = "**required**"
            elif field.default_factory is not None:
                default = f"`{json.dumps(field.default_factory())}`"
            elif field.default is None:
                default = "-"
            else:
                value = field.default.value if hasattr(field.default, "value") else field.default
                default = f"`{json.dumps(value)}`"
            rows.append(f"| `spec.{path}` | {typ} | {default} | {field.description or ''} |")

    walk(api.TaskClassifierSpec, "")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
