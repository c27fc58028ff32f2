"""One sync cycle's dataset written in its own process, so that its peak memory is its own:
`python -m benchmarks.cycle_memory WORKDIR`. Prints one JSON line."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ontask.api import FeedbackSpec
from ontask.data import write_version
from ontask.data.generate import example_at
from ontask.feedback.buffer import Entry
from ontask.feedback.cycle import assemble_cycle
from ontask.feedback.evidence import encode_evidence
from ontask.images import encode_png, sha256
from ontask.store import LocalStore

CORRECTIONS = 50
VARIANTS = 10
FULL_HD = (1920, 1080)


def _peak_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM:"))


def prepare(workdir: Path) -> None:
    """The store a collector leaves: 50 full-HD screenshots of corrections, and the classifier's
    bootstrap dataset to replay from (200 rows)."""
    store = LocalStore(workdir / "store")
    write_version(store, "bench", (example_at(5, i) for i in range(200)), "bench", {"command": "bench"})
    entries = []
    for i in range(CORRECTIONS):
        ex = example_at(11, i)
        png = encode_png(ex.image.resize(FULL_HD))
        key = f"classifiers/bench/feedback/screenshots/{sha256(png)}.png"
        store.put_bytes(key, png, "image/png")
        evidence = f"classifiers/bench/feedback/windows/c{i}.json"
        store.put_bytes(evidence, encode_evidence(ex.windows))
        entries.append(
            Entry(f"c{i}", f"k{i}", sha256(png), key, ex.task, ex.label, "user", time.time(), evidence_key=evidence)
        )
    (workdir / "entries.json").write_text(json.dumps([e.__dict__ for e in entries]))


def run_cycle(workdir: Path) -> dict:
    store = LocalStore(workdir / "store")
    entries = [Entry(**d) for d in json.loads((workdir / "entries.json").read_text())]
    spec = FeedbackSpec(variants_per_correction=VARIANTS)
    t0 = time.perf_counter()
    manifest = assemble_cycle(store, "bench", 1, entries, spec, replay_dataset="bench")
    return {"rows": manifest["rows"], "seconds": time.perf_counter() - t0, "peak_mb": _peak_mb()}


if __name__ == "__main__":
    workdir = Path(sys.argv[2])
    if sys.argv[1] == "prepare":
        prepare(workdir)
    else:
        print(json.dumps(run_cycle(workdir)))
