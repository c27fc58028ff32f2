"""A sync cycle's peak memory: 50 full-HD corrections, 10 variants each, and replayed rows,
written as a dataset version by the cycle builder in its own process. Goal: under 1 GiB.

The rows are streamed into the dataset writer: a cycle never holds its whole dataset in memory."""

from __future__ import annotations

import tempfile

from benchmarks import last_json_line, run_module

GOAL_MB = 1024


def run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run_module("cycle_memory", "prepare", tmp)
        result = last_json_line(run_module("cycle_memory", "cycle", tmp))
    print(
        f"cycle of 50 full-HD corrections x (1 + 10 variants) + replay: {result['rows']} rows in "
        f"{result['seconds']:.1f} s, peak RSS {result['peak_mb']:.0f} MB "
        f"(goal < {GOAL_MB} MB: {'met' if result['peak_mb'] < GOAL_MB else 'NOT met'})"
    )
