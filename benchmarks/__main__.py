"""`make bench`: run every benchmark module (or those named), print each one's table, and write
the page of that one run (benchmarks.report)."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import pkgutil
import sys
from pathlib import Path

from benchmarks import REPO
from benchmarks.report import missing_sections, page, run_all, updated_page, write_page

DEFAULT_PAGE = Path(REPO) / "out" / "bench" / "benchmarks.md"


def module_names() -> list[str]:
    """Every benchmark module, in the order `make bench` runs them."""
    return sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_"))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("modules", nargs="*", metavar="bench_NAME", help="run only these (default: all)")
    parser.add_argument(
        "--write-docs",
        metavar="PATH",
        type=Path,
        default=DEFAULT_PAGE,
        help=f"where the run's page goes (default: {DEFAULT_PAGE.relative_to(REPO)}; make bench: docs/benchmarks.md)",
    )
    parser.add_argument(
        "--update",
        metavar="PATH",
        type=Path,
        help="replace the named modules' sections in that page (an earlier run's), each marked as this run's",
    )
    args = parser.parse_args(argv)
    if args.update is not None and not args.modules:
        parser.error("--update replaces the sections of the modules named: name them, or write a whole page")
    if args.update is not None:  # checked before a run that may take an hour
        if not args.update.is_file():
            parser.error(f"--update {args.update}: no such page (write a whole page with --write-docs)")
        missing = missing_sections(args.update.read_text(), args.modules)
        if missing:
            parser.error(f"--update {args.update}: no section for {', '.join(missing)} (write a whole page instead)")
    names = module_names()
    unknown = sorted(set(args.modules) - set(names))
    if unknown:
        parser.error(f"no benchmark module {', '.join(unknown)} (there are: {', '.join(names)})")
    chosen = [n for n in names if not args.modules or n in args.modules]
    started, load = dt.datetime.now(dt.timezone.utc), os.getloadavg()[0]
    outcomes = run_all(chosen, lambda name: importlib.import_module(f"benchmarks.{name}"))
    command = " ".join(["python -m benchmarks", *argv])
    if args.update is not None:
        text = updated_page(args.update.read_text(), outcomes, command, started, load_at_start=load)
        print(f"\nsections updated in: {write_page(args.update, text)}")
    else:
        text = page(outcomes, command, started, not_run=[n for n in names if n not in chosen], load_at_start=load)
        print(f"\npage of this run: {write_page(args.write_docs, text)}")
    return 1 if any(o.status == "FAILED" for o in outcomes) else 0


if __name__ == "__main__":
    raise SystemExit(main())
