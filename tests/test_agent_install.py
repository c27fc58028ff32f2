"""The capture agent installs alone (`pip install 'ontask[agent]'`): its commands run with nothing
importable but the standard library and what pyproject.toml's base dependencies and `agent` extra
bring (no torch, transformers, kopf...), and the extra lists nothing its commands do not import."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, requires

from packaging.requirements import Requirement

from tests.conftest import REPO

# Runs `ontask <args>` where importing a module of any distribution outside ALLOWED fails as it
# would on a machine without it, then writes the installed modules it imported and their owners.
RUN_CONFINED = """
import importlib.abc, importlib.metadata, json, os, re, sys

allowed = set(json.loads(os.environ["ALLOWED"]))
owners = importlib.metadata.packages_distributions()  # top-level module -> its distributions


def installed(top):  # the standard library and ontask have no owner here
    return all(re.sub(r"[-_.]+", "-", d).lower() in allowed for d in owners.get(top, []))


class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top != "ontask" and not installed(top):
            raise ModuleNotFoundError(f"No module named {top!r} (not in the agent's install)", name=top)
        return None


sys.meta_path.insert(0, NotInstalled())
from ontask.cli import main

try:
    status = main(sys.argv[1:])
except SystemExit as e:
    status = e.code
finally:
    imported = sorted({n.partition(".")[0] for n in sys.modules} & set(owners) - {"ontask"})
    with open(os.environ["IMPORTED"], "w") as f:
        json.dump({"imported": imported, "owners": {t: owners.get(t, []) for t in imported}}, f)
sys.exit(status)
"""


def _name(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def _declared() -> set[str]:
    """The distributions pyproject.toml gives an agent install: the base set and the agent extra."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return {_name(Requirement(r).name) for r in project["dependencies"] + project["optional-dependencies"]["agent"]}


def _with_requirements(dists: set[str]) -> set[str]:
    """`dists` and everything they require, as installed here (what pip would bring along)."""
    found, todo = set(), list(dists)
    while todo:
        dist = todo.pop()
        if dist in found:
            continue
        found.add(dist)
        try:
            wanted = requires(dist) or []
        except PackageNotFoundError:
            continue
        for line in wanted:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(_name(req.name))
    return found


def _agent(tmp_path, *args: str, command: str = "agent") -> tuple[subprocess.CompletedProcess[str], dict]:
    imported = tmp_path / f"imported-{len(list(tmp_path.iterdir()))}.json"
    env = {
        "PYTHONPATH": str(REPO),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "ALLOWED": json.dumps(sorted(_with_requirements(_declared()))),
        "IMPORTED": str(imported),
    }
    out = subprocess.run(
        [sys.executable, "-c", RUN_CONFINED, command, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )
    assert "Traceback" not in out.stderr, out.stderr
    return out, json.loads(imported.read_text())


def test_the_agent_runs_on_its_own_install_and_its_extra_lists_only_what_it_imports(tmp_path):
    no_display = ":4095"  # no X server there: each command fails as a user's would, in one line
    help_, helped = _agent(tmp_path, "--help")
    assert help_.returncode == 0 and "{run,correct,windows}" in help_.stdout
    windows, shown = _agent(tmp_path, "windows", "--display", no_display)
    run, asked = _agent(tmp_path, "run", "--once", "--task", "t", "--predictor", "http://127.0.0.1:1",
                        "--display", no_display)  # fmt: skip
    for out in (windows, run):
        assert out.returncode == 1
        assert out.stderr.startswith(f"ontask: error: cannot open X display {no_display}: ")
        assert len(out.stderr.strip().splitlines()) == 1
    correct, corrected = _agent(tmp_path, "correct", "on-task", "--classifier", "c")
    assert correct.returncode == 1
    state = tmp_path / "state" / "ontask-agent"
    assert correct.stderr.strip() == f"ontask: error: no answer to correct yet in {state}: run `ontask agent run` first"
    # Only `correct` talks to Kafka; asking the predictor loads no Kafka client.
    for did in (helped, shown, asked):
        assert "kafka" not in did["imported"]
    assert "kafka" in corrected["imported"]
    # Every distribution the extra and the base set list is one the commands import.
    used = {_name(d) for did in (helped, shown, asked, corrected) for ds in did["owners"].values() for d in ds}
    assert _declared() <= used, f"listed but not imported: {_declared() - used}"
    # Another command on the agent's install says what to install.
    other, _ = _agent(tmp_path, "--help", command="data")
    assert other.returncode == 1
    assert re.fullmatch(
        r"ontask: error: `ontask data` needs the Python package '\w+', which this install lacks; install "
        r"ontask\[full\] \(ontask\[agent\] runs `ontask agent` only\)",
        other.stderr.strip(),
    ), other.stderr
    # And nothing heavy came along with them.
    assert not {"torch", "transformers", "kopf", "kubernetes", "minio", "numpy", "pyarrow", "yaml"} & set(
        corrected["imported"] + asked["imported"]
    )


def test_the_full_install_includes_the_agent():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert "ontask[agent]" in extras["full"]
    assert {"torch", "transformers"} <= {_name(Requirement(r).name) for r in extras["full"]}
    assert not {"torch", "transformers"} & _with_requirements(_declared())
