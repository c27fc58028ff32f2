"""Benchmarks: each figure printed side by side with the peer it is measured against."""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Literal

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass(frozen=True)
class NotRun:
    """What a benchmark's `run()` returns when it measured nothing new on this machine: `skipped`
    (nothing printed but why) or `stale` (it printed earlier figures, dated, with the changes
    since). A `run()` that measured returns None."""

    kind: Literal["skipped", "stale"]
    reason: str


def run_module(module: str, *args: str, timeout: float = 1800) -> str:
    """`python -m benchmarks.<module> args...` in its own process (its peak memory is its own);
    returns its stdout, or raises with the end of its stderr."""
    out = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": REPO},
    )
    if out.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed: {out.stderr[-2000:]}")
    return out.stdout


def last_json_line(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])
