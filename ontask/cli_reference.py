"""The CLI reference (docs/cli.md): every `ontask` command and subcommand with its help line and
its options, read from the argparse parsers the commands build, so the page cannot say what the
command line does not do."""

from __future__ import annotations

import argparse

from ontask.cli import COMMANDS, build_parser

# Actions that take no value on the command line: their default says nothing a reader needs.
_FLAGS = (argparse._StoreTrueAction, argparse._StoreFalseAction, argparse._StoreConstAction, argparse._CountAction)


def _cell(text: object) -> str:
    """Text made safe for one Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, help line, parser) of each subcommand of `parser`, in the order `--help` lists them."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            found += [(name, helps.get(name, ""), sub) for name, sub in action.choices.items()]
    return found


def _value(action: argparse.Action) -> str:
    if isinstance(action, (*_FLAGS, argparse.BooleanOptionalAction)) or action.nargs == 0:
        return ""
    if action.choices is not None:
        value = "/".join(str(c) for c in action.choices)
    else:
        value = action.metavar if isinstance(action.metavar, str) else action.dest.upper()
    return f"{value} ..." if action.nargs in ("+", "*", argparse.REMAINDER) else value


def _default(action: argparse.Action) -> str:
    if action.required or (not action.option_strings and action.nargs not in ("?", "*")):
        return "**required**"
    if isinstance(action, _FLAGS) or action.default in (None, argparse.SUPPRESS, ""):
        return "-"
    if isinstance(action.default, (list, tuple)):
        return f"`{' '.join(str(v) for v in action.default)}`" if action.default else "-"
    return f"`{action.default}`"


def _options(parser: argparse.ArgumentParser) -> list[str]:
    """The Markdown table of `parser`'s arguments (the help option aside); none: no table."""
    formatter = parser._get_formatter()
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)) or action.help == argparse.SUPPRESS:
            continue
        names = ", ".join(f"`{s}`" for s in action.option_strings) or f"`{action.metavar or action.dest}`"
        meaning = formatter._expand_help(action) if action.help else ""
        rows.append(f"| {names} | {_cell(_value(action))} | {_default(action)} | {_cell(meaning)} |")
    return ["| argument | value | default | meaning |", "| --- | --- | --- | --- |", *rows] if rows else []


def _section(name: str, help_line: str, parser: argparse.ArgumentParser, depth: int) -> list[str]:
    lines = [f"{'#' * depth} `{name}`", ""]
    for text in (help_line, parser.description):
        if text:
            lines += [_cell(text), ""]
    table = _options(parser)
    if table:
        lines += [*table, ""]
    for sub_name, sub_help, sub in _subcommands(parser):
        lines += _section(f"{name} {sub_name}", sub_help, sub, depth + 1)
    return lines


def reference_markdown() -> str:
    """Every command of `ontask`, its subcommands, help lines and options, as Markdown."""
    top = build_parser()
    lines = ["## `ontask`", "", _cell(top.description), "", *_options(top), ""]
    for name, (help_line, _) in COMMANDS.items():
        # Each command's parser is filled only when it is the one asked for (see build_parser).
        parser = next(sub for sub_name, _, sub in _subcommands(build_parser(name)) if sub_name == name)
        lines += _section(f"ontask {name}", help_line, parser, depth=2)
    return "\n".join(lines).rstrip("\n") + "\n"
