"""A set-up step of `make demo` or `make test` that fails says, last, which step failed and the
`make` target that re-runs just it (scripts/step.sh), also when steps run side by side."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

STEP = REPO / "scripts" / "step.sh"


def _run(args: list[str], cwd: Path = REPO, **env: str) -> subprocess.CompletedProcess[str]:
    path = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=cwd, env={**path, **env})


def test_a_failed_step_says_last_which_step_and_how_to_rerun_it():
    out = _run(
        ["bash", str(STEP), "servers", "--", "sh", "-c", "echo building; echo 'go: download failed' >&2; exit 3"]
    )
    assert out.returncode == 3
    assert out.stdout == "building\n"
    assert out.stderr.splitlines() == [
        "go: download failed",
        "ontask setup: step servers failed (exit 3); re-run it alone with: make servers",
    ]


def test_a_step_that_succeeds_adds_nothing():
    out = _run(["bash", str(STEP), "venv", "--", "sh", "-c", "echo created"])
    assert (out.returncode, out.stdout, out.stderr) == (0, "created\n", "")


def test_steps_side_by_side_name_the_failed_one_after_the_others_output(tmp_path):
    (tmp_path / "Makefile").write_text(
        f"step = bash {STEP} $(1) --\n"
        "fails:\n\t@$(call step,fails) sh -c 'exit 4'\n"
        "slow:\n\t@$(call step,slow) sh -c 'sleep 2; echo slow step done >&2'\n"
    )
    make = ["make", "--no-print-directory", "-j2", "fails", "slow"]
    out = _run(["bash", str(STEP), "--collect", "--", *make], cwd=tmp_path)
    assert out.returncode == 2
    lines = out.stderr.splitlines()
    failed = "ontask setup: step fails failed (exit 4); re-run it alone with: make fails"
    # Said when it failed, then again after the step beside it ended (and after make's own lines).
    assert lines.index(failed) < lines.index("slow step done") < len(lines) - 1
    assert lines[-1] == failed


@pytest.mark.parametrize(
    "target, steps, then",
    [
        ("demo", ["preflight-demo", "venv", "system-deps-demo", "kafka"], "scripts/with_kafka.py"),
        ("test", ["preflight-test", "venv", "verl-venv", "lint", "system-deps", "servers", "real-screens"], "pytest"),
    ],
)
def test_every_set_up_step_of_make_demo_and_make_test_runs_as_a_step(tmp_path, target, steps, then):
    # What `make` would run on a fresh machine (an empty cache): every command but the last
    # (the demo, the tests) is a step's, and each step's name is the target that re-runs it.
    cache = {"ONTASK_CACHE": str(tmp_path / "cache")}
    out = _run(["make", "-n", target], **cache)
    assert out.returncode == 0, out.stderr
    commands = [c for c in out.stdout.splitlines() if not c.startswith(("echo ", "touch ", "\t", "make["))]
    *setup, last = commands
    assert then in last
    named = [re.search(r"scripts/step\.sh (\S+) ", c) for c in setup]
    assert all(named), [c for c, n in zip(setup, named) if not n]
    assert {n.group(1) for n in named} == {"--collect", *steps}
    for step in steps:
        assert _run(["make", "-n", step], **cache).returncode == 0, f"no target {step} to re-run it"
    assert not (tmp_path / "cache").exists()


def test_make_names_a_failed_step_and_how_to_rerun_it(tmp_path):
    out = _run(
        ["make", "--no-print-directory", "preflight-test", "PYTHON=/nonexistent/python3"], ONTASK_CACHE=str(tmp_path)
    )
    assert out.returncode == 2
    # Ours is the last line but make's own.
    *_, ours, makes = out.stderr.splitlines()
    assert ours == "ontask setup: step preflight-test failed (exit 1); re-run it alone with: make preflight-test"
    assert re.fullmatch(r"make: \*\*\* \[Makefile:\d+: preflight-test\] Error 1", makes)
