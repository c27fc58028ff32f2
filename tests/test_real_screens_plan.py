"""The real-screens set's plan and its cache key: the key follows what defines the set (the plan's
tasks and shots, the seed, FORMAT_VERSION), never the bytes of the code that holds them."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

from ontask.realscreens import build, plan
from tests.conftest import REPO


def test_the_key_changes_with_a_tasks_text_the_seed_and_the_format(monkeypatch):
    key = build.set_fingerprint()
    assert build.set_fingerprint(seed=1) != key
    first = plan.REAL_TASKS[0]
    monkeypatch.setattr(plan, "REAL_TASKS", (replace(first, text=first.text + " today"), *plan.REAL_TASKS[1:]))
    assert build.set_fingerprint() != key
    monkeypatch.undo()
    monkeypatch.setattr(build, "FORMAT_VERSION", build.FORMAT_VERSION + "-next")
    assert build.set_fingerprint() != key


def test_the_key_is_the_same_in_every_process():
    """Nothing in the plan's JSON depends on hash order (sets, dicts built from them)."""
    keys = {
        subprocess.run(
            [sys.executable, "-c", "from ontask.realscreens import set_fingerprint; print(set_fingerprint())"],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert keys == {build.set_fingerprint()}


def test_every_shot_labels_tasks_of_its_own_split_and_one_task_it_serves():
    tasks = plan.task_by_id()
    for shot in plan.plan_shots() + plan.plan_policy_shots():
        assert shot.on_task and shot.off_task and shot.on_task not in shot.off_task
        assert {tasks[t].split for t in shot.off_task if tasks[t].materials} <= {shot.split}
