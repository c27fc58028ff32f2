"""`ontask spec from-verl-config` and `ontask export verl`: the verl plan's config read as a
TaskClassifier, and a dataset version exported for verl's trainer."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from ontask.cli_inputs import existing_file, existing_store
from ontask.store import open_store


def add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    """`ontask spec`'s subcommands."""
    specp = parser.add_subparsers(dest="spec_command", required=True)
    fromverl = specp.add_parser(
        "from-verl-config",
        help="print the TaskClassifier that the verl plan's task_classifier_grpo.yaml (and the files beside it) says",
    )
    fromverl.add_argument("config", type=existing_file, help="path of task_classifier_grpo.yaml")
    fromverl.add_argument("--name", default="task-classifier", help="metadata.name of the TaskClassifier")
    fromverl.add_argument(
        "--source",
        default="synthetic",
        help="spec.data.source when the file names no data.train_files (an s3:// prefix)",
    )
    fromverl.set_defaults(func=_cmd_spec_from_verl)


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """`ontask export`'s subcommands."""
    export = parser.add_subparsers(dest="export_command", required=True)
    everl = export.add_parser(
        "verl", help="a dataset version as verl parquet, a verl GRPO config using ontask's reward, and a launch script"
    )
    everl.add_argument("--dataset", required=True, help="dataset name in the store")
    everl.add_argument("--dataset-version", help="version (default: the latest complete one)")
    everl.add_argument(
        "--store", type=existing_store, default="out/store", help="store: a folder or s3://bucket/prefix"
    )
    everl.add_argument("--out", required=True, help="folder to write")
    everl.add_argument(
        "--config",
        help="a TaskClassifier or the verl plan's YAML whose settings to carry over (default: the spec's defaults)",
    )
    everl.set_defaults(func=_cmd_export_verl)


def _cmd_spec_from_verl(args: argparse.Namespace) -> int:
    from ontask.interop.verl_config import read_verl_config, task_classifier_yaml

    training = read_verl_config(args.config, source=args.source)
    if training.verifier_config is not None:
        print(
            f"note: {args.config.parent / 'verifier_config.yaml'} is used by `ontask train --config`; a "
            "TaskClassifier on a cluster scores with ontask's built-in verifier rules",
            file=sys.stderr,
        )
    print(task_classifier_yaml(training, args.name), end="")
    return 0


def _export_spec(path: Optional[str]):
    """The spec and the verifier's rules to export: the config's (its folder's verifier_config.yaml,
    else the built-in rules)."""
    from ontask.api import TaskClassifierSpec
    from ontask.interop.verl_config import load_spec
    from ontask.verify import builtin_verifier_config

    if not path:
        return TaskClassifierSpec.model_validate({"data": {"source": "synthetic"}}), builtin_verifier_config()
    spec, rules = load_spec(path)
    return spec, rules or builtin_verifier_config()


def _cmd_export_verl(args: argparse.Namespace) -> int:
    from ontask.interop.verl_export import export_verl

    spec, rules = _export_spec(args.config)
    done = export_verl(open_store(args.store), args.dataset, Path(args.out), spec, rules, args.dataset_version)
    print(
        f"exported {args.dataset} {done.version} to {done.folder}: {done.rows['train']} train rows, "
        f"{done.rows['val']} val rows; launch with {done.folder}/run_task_classification.sh"
    )
    return 0
