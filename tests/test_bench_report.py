"""The page of one benchmark run, written from tiny stand-in modules (no real benchmark runs)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import types

import pytest

from benchmarks import REPO, NotRun
from benchmarks.report import page, run_all


def _module(name: str, doc: str, run) -> types.ModuleType:
    module = types.ModuleType(name, doc)
    module.run = run
    return module


def _fakes() -> dict[str, types.ModuleType]:
    def measured():
        print("system      p50 ms   peer p50 ms")
        print("fast thing     1.0          3.0")

    def broken():
        print("half a table")
        raise RuntimeError("the server did not start")

    def stale():
        print("figures of 2026-11-26")
        return NotRun("stale", "no CUDA GPU here; measured 2026-11-26 on NVIDIA H200, 3 changes since")

    return {
        "bench_fast": _module("bench_fast", "A fast thing against its peer.\n\nBoth sides do the same work.", measured),
        "bench_broken": _module("bench_broken", "A benchmark whose server never starts.", broken),
        "bench_gpu": _module("bench_gpu", "Something only a GPU measures.", stale),
    }


def test_the_page_of_a_run_has_its_header_every_table_and_says_which_failed(capsys):
    fakes = _fakes()
    outcomes = run_all(["bench_fast", "bench_broken", "bench_gpu"], fakes.__getitem__)
    started = dt.datetime(2026, 12, 7, 10, 30, tzinfo=dt.timezone.utc)
    text = page(
        outcomes,
        "python -m benchmarks --write-docs docs/benchmarks.md",
        started,
        not_run=["bench_operator"],
        machine_line="Test CPU, 2 CPUs, 7.8 GiB RAM, GPU: none",
        commit="abc1234",
        load_at_start=0.5,
    )

    assert text.startswith("# Benchmarks\n")
    for row in (
        "| date | 2026-12-07 10:30 UTC |",
        "| commit | abc1234 |",
        "| machine | Test CPU, 2 CPUs, 7.8 GiB RAM, GPU: none |",
        "| command | `python -m benchmarks --write-docs docs/benchmarks.md` |",
        "| load average at the start | 0.5 |",
    ):
        assert row in text
    assert "Not in this run: bench_operator." in text
    summary = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| [bench_")}
    assert " | A fast thing against its peer. | measured | " in summary["| [bench_fast](#bench_fast)"]
    assert " | FAILED: RuntimeError: the server did not start | " in summary["| [bench_broken](#bench_broken)"]
    assert " | stale: no CUDA GPU here; measured 2026-11-26 on NVIDIA H200" in summary["| [bench_gpu](#bench_gpu)"]
    # Each module's section: its method, what it printed, and a status line unless it measured.
    fast = text[text.index("## bench_fast") : text.index("## bench_broken")]
    assert "Both sides do the same work." in fast and "fast thing     1.0          3.0" in fast
    assert "**" not in fast
    broken = text[text.index("## bench_broken") : text.index("## bench_gpu")]
    assert "**FAILED**: RuntimeError: the server did not start" in broken and "half a table" in broken
    assert "**STALE**: no CUDA GPU here" in text[text.index("## bench_gpu") :]
    # The run still printed as it went, the failure included.
    printed = capsys.readouterr().out
    assert "fast thing     1.0          3.0" in printed and "FAILED: RuntimeError: the server did not start" in printed


def test_an_unknown_module_is_refused_before_anything_runs(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks", "bench_nothing", "--write-docs", str(tmp_path / "page.md")],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert out.returncode == 2 and "no benchmark module bench_nothing" in out.stderr
    assert not (tmp_path / "page.md").exists()


def test_a_module_run_again_replaces_its_section_and_row_and_says_which_run_it_is():
    from benchmarks.report import updated_page

    fakes = _fakes()
    first = run_all(["bench_fast", "bench_broken", "bench_gpu"], fakes.__getitem__)
    started = dt.datetime(2026, 12, 7, 10, 30, tzinfo=dt.timezone.utc)
    text = page(first, "python -m benchmarks", started, machine_line="Test CPU", commit="abc1234")

    def faster():
        print("fast thing     0.5          3.0")

    again = run_all(
        ["bench_fast", "bench_gpu"],
        {"bench_fast": _module("bench_fast", "A fast thing.", faster), "bench_gpu": fakes["bench_gpu"]}.__getitem__,
    )
    later = dt.datetime(2026, 12, 8, 1, 0, tzinfo=dt.timezone.utc)
    updated = updated_page(
        text, again, "python -m benchmarks bench_fast bench_gpu --update p.md", later, "def5678", 1.5
    )

    fast = updated[updated.index("## bench_fast") : updated.index("## bench_broken")]
    assert "fast thing     0.5" in fast and "1.0          3.0" not in updated
    assert "From a later run than the page's: 2026-12-08 01:00 UTC, commit def5678" in fast
    assert "load average 1.5 at its start" in fast
    # The others keep the page's run, the header included; the last section is replaced to the end.
    assert (
        updated[updated.index("## bench_broken") : updated.index("## bench_gpu")]
        == text[text.index("## bench_broken") : text.index("## bench_gpu")]
    )
    assert "| commit | abc1234 |" in updated and updated.count("## bench_gpu") == 1
    assert "From a later run" in updated[updated.index("## bench_gpu") :] and updated.endswith("```\n")
    assert "```\n\n## bench_broken" in updated  # a blank line before the next section, as in a whole page
    assert [line for line in updated.splitlines() if line.startswith("| [bench_fast]")][0].startswith(
        "| [bench_fast](#bench_fast) | A fast thing. | measured"
    )
    with pytest.raises(ValueError, match="bench_new has no section"):
        updated_page(text, run_all(["bench_new"], {"bench_new": fakes["bench_gpu"]}.__getitem__), "c", later, "x")

    # A line of a module's output that looks like a heading is not one: the section is replaced whole.
    def heading_like():
        print("## bench_gpu")
        print("a table")

    modules = {"bench_fast": _module("bench_fast", "A.", heading_like), "bench_gpu": fakes["bench_gpu"]}
    tricky = page(run_all(["bench_fast", "bench_gpu"], modules.__getitem__), "c", started, machine_line="m", commit="c")
    redone = updated_page(tricky, again[:1], "c", later, "def5678")
    assert "## bench_gpu\na table" not in redone and redone.count("**STALE**") == 1 and "fast thing     0.5" in redone


def test_update_refuses_a_page_without_the_module_before_running_it(tmp_path):
    (tmp_path / "page.md").write_text("# Benchmarks\n\n## bench_ocr\n\ntext\n")
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks", "bench_convergence", "--update", str(tmp_path / "page.md")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert out.returncode == 2 and "no section for bench_convergence" in out.stderr, out.stderr
    assert "== bench_convergence" not in out.stdout  # refused before anything ran
