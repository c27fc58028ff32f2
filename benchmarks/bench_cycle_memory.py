"""A sync cycle's peak memory: 50 full-HD corrections, 10 variants each, and replayed rows,
written as a dataset version by the cycle builder in its own process. Goal: under 1 GiB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOAL_MB = 1024


def _child(step: str, workdir: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.cycle_memory", step, workdir],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=1800,
        env={**os.environ, "PYTHONPATH": REPO},
    )
    if out.returncode != 0:
        raise RuntimeError(f"{step} failed: {out.stderr[-2000:]}")
    return out.stdout


def run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _child("prepare", tmp)
        result = json.loads(_child("cycle", tmp).strip().splitlines()[-1])
    print(
        f"cycle of 50 full-HD corrections x (1 + 10 variants) + replay: {result['rows']} rows in "
        f"{result['seconds']:.1f} s, peak RSS {result['peak_mb']:.0f} MB "
        f"(goal < {GOAL_MB} MB: {'met' if result['peak_mb'] < GOAL_MB else 'NOT met'})"
    )
