"""The `ontask` command: dispatches each command to the package that owns it (its
`add_arguments` adds the command's options and subcommands, and the function they run)."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Callable, NoReturn, Optional, Sequence


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


class _Parser(argparse.ArgumentParser):
    """argparse with its errors in one line: the command, the input and what is wrong with it,
    and where to read what it takes (instead of the usage block before it)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}; see `{self.prog} --help`\n")


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """The `ontask` command line. Every command is listed, but only `command`'s parser is filled:
    filling one imports its package, and most load torch, Kafka or kopf, which a light command
    (the capture agent) must not wait for. None fills none (`ontask --help` lists the commands)."""
    from ontask import __version__

    parser = _Parser(prog="ontask", description="On-task / off-task screenshot classifiers.")
    parser.add_argument("--version", action="version", version=f"ontask {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_line, fill) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_line)
        if name == command:
            fill(command_parser)
    return parser


# Errors a user can fix: the module that defines each, its name, and the exit status it gets (2
# for input the user gave, as argparse; 1 for the rest). A subclass before its base.
_USER_ERRORS: tuple[tuple[str, str, int], ...] = (
    ("ontask.api.spec_file", "SpecError", 2),
    ("ontask.cli_inputs", "BadInput", 2),
    ("ontask.agent.client", "PredictorError", 1),
    ("ontask.agent.desktop", "DesktopUnavailable", 1),
    ("ontask.data.dataset", "DatasetError", 1),
    ("ontask.feedback.producer", "KafkaUnreachable", 1),
    ("ontask.fonts", "FontsMissing", 1),
    ("ontask.models.loading", "CheckpointError", 1),
    ("ontask.store", "StoreError", 1),
    ("builtins", "FileNotFoundError", 1),
    ("builtins", "ValueError", 1),
)


def _exit_status(error: BaseException) -> Optional[int]:
    """The exit status of an error a user can fix; None for any other (a bug: its traceback
    helps). Only modules already imported are looked in: an error cannot be of a class whose
    module was never imported, and importing them would load torch into a light command (the
    capture agent) just to report an error."""
    for module, name, status in _USER_ERRORS:
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(error, getattr(loaded, name)):
            return status
    return None


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the `ontask` command."""
    argv = sys.argv[1:] if argv is None else list(argv)
    # The top level has no option that takes a value: its first word that is not an option is
    # the command.
    command = next((a for a in argv if not a.startswith("-")), None)
    try:
        args = build_parser(command).parse_args(argv)
        return int(args.func(args) or 0)
    except ModuleNotFoundError as e:
        if not e.name or e.name.partition(".")[0] == "ontask":
            raise
        # The capture agent's install (ontask[agent]) has only what `ontask agent` needs.
        print(
            f"ontask: error: `ontask {command}` needs the Python package {e.name.partition('.')[0]!r}, which this "
            "install lacks; install ontask[full] (ontask[agent] runs `ontask agent` only)",
            file=sys.stderr,
        )
        return 1
    except Exception as e:
        status = _exit_status(e)
        if status is None:
            raise
        # Errors a user can fix: say what is wrong, without a traceback.
        print(f"ontask: error: {_one_line(e)}", file=sys.stderr)
        return status


def _one_line(error: BaseException) -> str:
    """The error's message as one line: a model's refusal as `field: what is wrong; ...`."""
    pydantic_core = sys.modules.get("pydantic_core")
    if pydantic_core is not None and isinstance(error, pydantic_core.ValidationError):
        from ontask.api import validation_problems

        return "; ".join(validation_problems(error))
    return "; ".join(line.strip() for line in str(error).splitlines() if line.strip())


if __name__ == "__main__":
    raise SystemExit(main())
