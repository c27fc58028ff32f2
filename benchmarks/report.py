"""The page of one benchmark run: a header (date, commit, machine, the command, each module's
outcome and duration) and every module's method and table exactly as it printed them in that
run; a module that was skipped, printed stale figures or failed says so."""

from __future__ import annotations

import datetime as dt
import inspect
import io
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import traceback
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Callable, Literal, Optional, Sequence

from benchmarks import NotRun
from benchmarks.recorded import head_commit

Status = Literal["measured", "skipped", "stale", "FAILED"]


@dataclass
class Outcome:
    """One module's part of the run: what it printed, how long it took and how it ended."""

    name: str
    method: str  # the module's docstring: what it measures against what
    output: str
    seconds: float
    status: Status
    detail: str = ""  # why it was skipped or is stale, or the error it failed with

    @property
    def summary(self) -> str:
        return first_sentence(self.method)


def first_sentence(text: str) -> str:
    """A docstring's first sentence, on one line (docstrings wrap their first lines)."""
    paragraph = " ".join(text.strip().split("\n\n")[0].split())
    return re.split(r"(?<=[.!?])\s+(?=[A-Z])", paragraph, maxsplit=1)[0]


class _Tee(io.TextIOBase):
    """Writes to the terminal and keeps a copy: the run prints as it goes, the page gets the same text."""

    def __init__(self, terminal):
        self.terminal, self.copy = terminal, io.StringIO()

    def write(self, text: str) -> int:
        self.terminal.write(text)
        return self.copy.write(text)

    def flush(self) -> None:
        self.terminal.flush()


def run_one(name: str, load: Callable[[str], ModuleType]) -> Outcome:
    """Import and run one benchmark module, its output printed and kept; an exception (in the
    import too) makes it FAILED, never stops the run."""
    tee = _Tee(sys.stdout)
    t0 = time.perf_counter()
    method, status, detail = "", "measured", ""
    module = None
    try:
        module = load(name)
        method = inspect.cleandoc(module.__doc__ or "")
        print(f"\n== {name}: {first_sentence(method)}", flush=True)
        with redirect_stdout(tee):
            result = module.run()
        if isinstance(result, NotRun):
            status, detail = result.kind, result.reason
    except Exception as e:  # noqa: BLE001 - one failing benchmark must not hide the others
        status, detail = "FAILED", f"{type(e).__name__}: {e}"
        if module is None:  # it failed to import: no heading was printed yet
            print(f"\n== {name}")
        traceback.print_exc(file=sys.stderr)
        print(f"FAILED: {detail}")
    seconds = time.perf_counter() - t0
    print(f"({seconds:.1f}s)")
    return Outcome(name, method, tee.copy.getvalue(), seconds, status, detail)


def run_all(names: Sequence[str], load: Callable[[str], ModuleType]) -> list[Outcome]:
    """Every named module in turn, in one process, each printed and kept as it ran."""
    return [run_one(name, load) for name in names]


def _first(path: str, key: str) -> Optional[str]:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _gpus() -> str:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return "none"
    try:
        out = subprocess.run(
            [smi, "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return "none (nvidia-smi did not answer)"
    names = [n.strip() for n in out.stdout.splitlines() if n.strip()] if out.returncode == 0 else []
    return ", ".join(names) or "none"


def machine() -> str:
    """CPU model and count, RAM and GPUs of this machine, in one line."""
    cpu = _first("/proc/cpuinfo", "model name") or platform.processor() or platform.machine()
    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    count = f"{cores} CPUs" + (f" ({usable} usable by this run)" if usable != cores else "")
    mem_kib = _first("/proc/meminfo", "MemTotal")
    ram = f"{int(mem_kib.split()[0]) / 2**20:.1f} GiB RAM" if mem_kib else "RAM unknown"
    return f"{cpu}, {count}, {ram}, GPU: {_gpus()}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _fenced(text: str) -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}text\n{text.strip(chr(10))}\n{fence}"


def page(
    outcomes: Sequence[Outcome],
    command: str,
    started: dt.datetime,
    not_run: Sequence[str] = (),
    machine_line: Optional[str] = None,
    commit: Optional[str] = None,
    load_at_start: Optional[float] = None,
) -> str:
    """The Markdown page of one run; `load_at_start`: the 1-minute load average when it began
    (other work on the machine slows every figure)."""
    total = sum(o.seconds for o in outcomes)
    lines = [
        "# Benchmarks",
        "",
        "Generated from one run of the benchmarks (`make bench` runs "
        "`python -m benchmarks --write-docs docs/benchmarks.md`); do not edit it by hand. Every table "
        "below is what that run printed, each figure beside the peer it is measured against; a module "
        "that could not measure here says so (skipped), or prints an earlier run's figures with their "
        "date and the changes since (stale). A module run again since "
        "(`python -m benchmarks bench_NAME --update docs/benchmarks.md`) says so under its heading, "
        "with that run's date, commit and load.",
        "",
        "| run | |",
        "| --- | --- |",
        f"| date | {started.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M} UTC |",
        f"| commit | {_cell(commit or head_commit())} |",
        f"| machine | {_cell(machine_line or machine())} |",
        f"| command | `{_cell(command)}` |",
        *([f"| load average at the start | {load_at_start:.1f} |"] if load_at_start is not None else []),
        f"| duration | {total / 60:.1f} min |",
        "",
        "| module | what it measures | outcome | duration |",
        "| --- | --- | --- | --- |",
    ]
    lines += [_index_row(o) for o in outcomes]
    if not_run:
        lines += ["", f"Not in this run: {', '.join(not_run)}."]
    for o in outcomes:
        lines += _section(o)
    return "\n".join(lines) + "\n"


def _index_row(o: Outcome) -> str:
    outcome = o.status + (f": {o.detail}" if o.detail else "")
    return f"| [{o.name}](#{o.name}) | {_cell(o.summary)} | {_cell(outcome)} | {o.seconds:.1f} s |"


def _section(o: Outcome, note: str = "") -> list[str]:
    lines = ["", f"## {o.name}", ""]  # its heading is the summary's link target
    if note:
        lines += [f"*{note}*", ""]
    if o.status != "measured":
        lines += [f"**{o.status.upper()}**" + (f": {o.detail}" if o.detail else ""), ""]
    if o.method:
        lines += [o.method, ""]
    lines.append(_fenced(o.output))
    return lines


def _headings(text: str) -> dict[str, int]:
    """Where each module's section starts (the offset of its "## " line), fenced blocks skipped:
    a module's output may print a line that looks like a heading."""
    found, fence, offset = {}, "", 0
    for line in text.splitlines(keepends=True):
        stripped = line.rstrip("\n")
        if fence:
            fence = "" if stripped == fence else fence
        elif stripped.startswith("```"):
            fence = stripped[: len(stripped) - len(stripped.lstrip("`"))]
        elif stripped.startswith("## "):
            found[stripped[3:].strip()] = offset
        offset += len(line)
    return found


def missing_sections(existing: str, names: Sequence[str]) -> list[str]:
    """The modules of `names` that have no section in the page (checked before a run)."""
    return [n for n in names if n not in _headings(existing)]


def updated_page(
    existing: str,
    outcomes: Sequence[Outcome],
    command: str,
    started: dt.datetime,
    commit: Optional[str] = None,
    load_at_start: Optional[float] = None,
) -> str:
    """An earlier run's page with these modules' sections and index rows replaced by this run's,
    each section saying it comes from this run (the rest of the page keeps its own run's figures).
    A module the page lacks is refused: a page names every module its run ran."""
    text = existing
    when = f"{started.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"
    load = f", load average {load_at_start:.1f} at its start" if load_at_start is not None else ""
    commit = commit or head_commit()
    for o in outcomes:
        headings = _headings(text)
        if o.name not in headings:
            raise ValueError(f"{o.name} has no section in the page to update: write a whole page instead")
        start = headings[o.name]
        end = min((at for at in headings.values() if at > start), default=len(text))
        note = f"From a later run than the page's: {when}, commit {commit}, `{command}`{load}."
        # _section starts with a blank line, which the page already has before the heading.
        text = text[:start] + "\n".join(_section(o, note)[1:]) + "\n" + ("\n" if end < len(text) else "") + text[end:]
        for row in [line for line in text.splitlines() if line.startswith(f"| [{o.name}](#")]:
            text = text.replace(row, _index_row(o))
    return text


def write_page(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
