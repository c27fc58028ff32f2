"""`make bench`: run every benchmark module and print its table."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def main() -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    only = set(sys.argv[1:])
    failures = 0
    for name in names:
        if only and name not in only:
            continue
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"\n== {name}: {module.__doc__.strip().splitlines()[0]}")
        t0 = time.perf_counter()
        try:
            module.run()
        except Exception as e:  # noqa: BLE001 - one failing benchmark must not hide the others
            failures += 1
            print(f"FAILED: {type(e).__name__}: {e}")
        print(f"({time.perf_counter() - t0:.1f}s)")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
