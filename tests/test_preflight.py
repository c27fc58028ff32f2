"""`make demo` and `make test` check the machine before building anything, one line per problem
saying what to install (scripts/preflight.sh), on a PATH built for each case."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

SCRIPT = REPO / "scripts" / "preflight.sh"


def _path_with(tmp_path: Path, *tools: str, fakes: dict[str, str] | None = None) -> str:
    """A PATH holding only the named real tools (and the shell's basics) plus fake scripts."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("bash", "sed", "head", "cut", "awk", "df", "id", "mkdir", "dirname", "dpkg", "sudo", *tools):
        if found := shutil.which(tool):
            (bin_dir / tool).symlink_to(found)
    for name, body in (fakes or {}).items():
        # A fake replaces the link, never writes through it into the real tool.
        (bin_dir / name).unlink(missing_ok=True)
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    return str(bin_dir)


def _preflight(tmp_path: Path, what: str, path: str, **env: str) -> subprocess.CompletedProcess:
    full = {"PATH": path, "HOME": str(tmp_path), "ONTASK_CACHE": str(tmp_path / "cache"), "PYTHON": sys.executable}
    return subprocess.run(
        [shutil.which("bash"), str(SCRIPT), what], env={**full, **env}, capture_output=True, text=True, timeout=60
    )


def test_a_machine_with_everything_passes_silently(tmp_path):
    # The cache `make test` built: the venv and the servers are there, so little disk is needed,
    # whatever else fills this machine's disk.
    built = os.environ.get("ONTASK_CACHE", str(Path.home() / ".cache" / "ontask"))
    out = _preflight(tmp_path, "test", os.environ["PATH"], ONTASK_CACHE=built)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""


def test_a_full_disk_is_named_with_what_is_needed(tmp_path):
    # An empty cache on a disk with 3 GB free: the venv and the Go builds are still to come.
    df = "echo 'Filesystem 1024-blocks Used Available Capacity Mounted'; echo '/dev/x 100 0 3145728 1% /'"
    out = _preflight(tmp_path, "test", _path_with(tmp_path, "java", "mvn", "go", fakes={"df": df}))
    assert out.returncode == 1
    assert "3 GB free under" in out.stderr and "about 19 GB needed" in out.stderr, out.stderr
    assert "set ONTASK_CACHE to a larger disk" in out.stderr


def test_each_missing_tool_gets_one_line_naming_what_to_install(tmp_path):
    out = _preflight(tmp_path, "test", _path_with(tmp_path))  # no java, mvn or go
    assert out.returncode == 1
    lines = [line for line in out.stderr.splitlines() if line.startswith("  - ")]
    assert any("no java" in line and "openjdk-17" in line for line in lines), out.stderr
    assert any("no mvn" in line and "apt install maven" in line for line in lines), out.stderr
    assert any("no go" in line for line in lines), out.stderr
    # The demo needs no Go.
    demo = _preflight(tmp_path, "demo", _path_with(tmp_path / "d"))
    assert "no go" not in demo.stderr and "no java" in demo.stderr


def test_an_old_java_and_an_old_go_are_named_with_their_versions(tmp_path):
    fakes = {
        "java": "echo 'openjdk version \"11.0.2\" 2019-01-15' >&2",
        "mvn": "exit 0",
        "go": 'case "$2" in GOVERSION) echo go1.22.1;; GOTOOLCHAIN) echo local;; esac',
    }
    out = _preflight(tmp_path, "test", _path_with(tmp_path, fakes=fakes))
    assert "java is version 11" in out.stderr
    assert "go is 1.22.1" in out.stderr


def test_a_python_without_venv_is_named(tmp_path):
    fake = tmp_path / "python3"
    fake.write_text('#!/bin/sh\ncase "$2" in *ensurepip*) exit 1;; esac\nexit 0\n')
    fake.chmod(0o755)
    out = _preflight(tmp_path, "demo", os.environ["PATH"], PYTHON=str(fake))
    assert "cannot make a virtual environment: install python3-venv" in out.stderr
