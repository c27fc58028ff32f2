"""Figures this machine cannot measure (a GPU's), kept beside their benchmark with the date,
machine and commit of the run that measured them, and printed as stale, with the changes made
since to the code they measure, wherever the benchmark cannot run again."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from typing import Optional, Sequence

from pydantic import BaseModel, ConfigDict

from benchmarks import REPO, NotRun

RECORDS = Path(__file__).parent / "recorded"
SHOWN_CHANGES = 15  # subjects printed; the count covers them all


class Recorded(BaseModel):
    """One benchmark's last run on a machine that could run it (benchmarks/recorded/<module>.json)."""

    model_config = ConfigDict(extra="forbid")

    measured: dt.date
    commit: str
    machine: str
    command: str
    table: str
    # How that run differs from what the benchmark's code measures today, where it does.
    differs: str = ""


def _git(*args: str) -> Optional[str]:
    try:
        out = subprocess.run(["git", "-C", REPO, *args], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


def head_commit() -> str:
    """The short commit of the tree being measured, `+ uncommitted changes` when it has any."""
    commit = (_git("rev-parse", "--short", "HEAD") or "unknown").strip()
    return commit + (" + uncommitted changes" if (_git("status", "--porcelain") or "").strip() else "")


def record(module: str, table: str, machine: str) -> Path:
    """Keep `table`, measured now on `machine`, as `module`'s record (commit it with the code)."""
    RECORDS.mkdir(exist_ok=True)
    path = RECORDS / f"{module}.json"
    rec = Recorded(
        measured=dt.date.today(),
        commit=head_commit(),
        machine=machine,
        command=f"python -m benchmarks {module}",
        table=table,
    )
    path.write_text(rec.model_dump_json(indent=2) + "\n")
    return path


def load(module: str) -> Optional[Recorded]:
    path = RECORDS / f"{module}.json"
    return Recorded.model_validate_json(path.read_text()) if path.exists() else None


def changes_since(rec: Recorded, paths: Sequence[str]) -> tuple[Optional[list[str]], str]:
    """(the commits since the record's that touch `paths`, newest first, as `hash date subject`;
    None without git history) and the git command that lists them."""
    commit = rec.commit.split()[0]
    known = _git("cat-file", "-e", f"{commit}^{{commit}}") is not None
    # The record's own commit when this history has it (exact); its date otherwise.
    since = [f"{commit}..HEAD"] if known else [f"--since={rec.measured.isoformat()}"]
    command = f"git log --no-merges {since[0]} -- {' '.join(paths)}"
    out = _git("log", "--no-merges", "--format=%h %ad %s", "--date=short", *since, "--", *paths)
    return (None if out is None else out.splitlines()), command


def print_stale(module: str, paths: Sequence[str], why: str) -> NotRun:
    """Print `module`'s recorded figures as stale (their date, machine and commit, how that run
    differed, and the changes since to `paths`); skipped when no run is recorded."""
    rec = load(module)
    if rec is None:
        print(f"{why}: nothing measured, and no run on a machine that could is recorded")
        return NotRun("skipped", f"{why}; never measured")
    changes, command = changes_since(rec, paths)
    print(f"STALE, not from this run ({why}): measured {rec.measured} on {rec.machine}, commit {rec.commit}")
    if rec.differs:
        print(f"How that run differs from this benchmark's code: {rec.differs}")
    print(rec.table.rstrip())
    if changes is None:
        print(f"Changes since to {', '.join(paths)}: unknown (no git history here)")
        return NotRun("stale", f"{why}; measured {rec.measured} on {rec.machine}")
    print(f"{len(changes)} changes since to {', '.join(paths)} (`{command}`):")
    for line in changes[:SHOWN_CHANGES]:
        print(f"  {line}")
    if len(changes) > SHOWN_CHANGES:
        print(f"  ... and {len(changes) - SHOWN_CHANGES} more")
    return NotRun("stale", f"{why}; measured {rec.measured} on {rec.machine}, {len(changes)} changes since")
