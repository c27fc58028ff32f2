"""The `ontask` command: dispatches each command to the package that owns it (its
`add_arguments` adds the command's options and subcommands, and the function they run)."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Callable, Optional, Sequence


def _owned_by(module: str, function: str = "add_arguments") -> Callable[[argparse.ArgumentParser], object]:
    """The function of `module` that fills a command's parser, imported when called."""
    return lambda parser: getattr(importlib.import_module(module), function)(parser)


def _add_data(parser: argparse.ArgumentParser) -> None:
    from ontask.data.cli import add_arguments
    from ontask.realscreens.cli import add_arguments as real_screens_arguments

    real = add_arguments(parser).add_parser(
        "real-screens",
        help="build (once, cached) the real-screens set: real applications "
        "under Xvfb; optionally write it as a dataset version",
    )
    real_screens_arguments(real)


# Every command: its help line and what fills its parser, in the order `ontask --help` lists them.
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], object]]] = {
    "demo": ("run the embedded-mode demo on this machine", _owned_by("ontask.demo")),
    "operator": ("run the Kubernetes operator", _owned_by("ontask.operator.cli")),
    "data": ("synthetic screenshots and dataset versions", _add_data),
    "train": ("GRPO-train the student on a dataset version", _owned_by("ontask.trainers.cli")),
    "spec": ("TaskClassifier specs from other formats", _owned_by("ontask.interop.cli", "add_spec_arguments")),
    "export": ("datasets for other trainers", _owned_by("ontask.interop.cli", "add_export_arguments")),
    "feedback": ("corrections on Kafka", _owned_by("ontask.feedback.cli")),
    "eval": (
        "evaluate students, the prompt baseline, the verifier and the hybrid side by side on a dataset version",
        _owned_by("ontask.evaluation.cli", "add_eval_arguments"),
    ),
    "monitor": (
        "plot a classifier's training curves (PNG + HTML)",
        _owned_by("ontask.evaluation.cli", "add_monitor_arguments"),
    ),
    "serve": (
        "serve the student or the judge (KServe ModelServer, v1 and v2)",
        _owned_by("ontask.serving.server"),
    ),
    "agent": (
        "the capture agent on an X11 or sway desktop: answers, corrections, evidence",
        _owned_by("ontask.agent.cli"),
    ),
    "crd": ("print the TaskClassifier CRD generated from the models", _owned_by("ontask.api.crd")),
}


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """The `ontask` command line. Every command is listed, but only `command`'s parser is filled:
    filling one imports its package, and most load torch, Kafka or kopf, which a light command
    (the capture agent) must not wait for. None fills none (`ontask --help` lists the commands)."""
    from ontask import __version__

    parser = argparse.ArgumentParser(prog="ontask", description="On-task / off-task screenshot classifiers.")
    parser.add_argument("--version", action="version", version=f"ontask {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_line, fill) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_line)
        if name == command:
            fill(command_parser)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors a user can fix. Imported only once one happened: a light command (the capture agent)
    must not load torch to be able to report an error."""
    from ontask.agent.client import PredictorError
    from ontask.agent.desktop import DesktopUnavailable
    from ontask.data.dataset import DatasetError
    from ontask.feedback.producer import KafkaUnreachable
    from ontask.fonts import FontsMissing
    from ontask.models.loading import CheckpointError
    from ontask.store import StoreError

    return (
        DatasetError,
        StoreError,
        CheckpointError,
        DesktopUnavailable,
        FontsMissing,
        KafkaUnreachable,
        PredictorError,
        FileNotFoundError,
        ValueError,
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the `ontask` command."""
    argv = sys.argv[1:] if argv is None else list(argv)
    # The top level has no option that takes a value: its first word that is not an option is
    # the command.
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except Exception as e:
        if not isinstance(e, _user_errors()):
            raise
        # Errors a user can fix: say what is wrong, without a traceback.
        print(f"ontask: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
