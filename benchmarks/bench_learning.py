"""The learning test's recipe (benchmarks.learning_recipe) for three seeds, the tiny model's
11 / 12 / 13 with the data's 21 / 22 / 23: held-out accuracy of the synthetic set at the start,
after the 80-step supervised warm start and at the end (after GRPO), then the same student on the
real-screens set's validation tasks (it never saw a real screenshot) beside the verifier alone on
the same rows. Median and range over the seeds, each seed's figure beside them. The test
(tests/test_learning.py) runs the first seed with its bars: 0.85 at the end within 15 minutes,
0.75 on real screens."""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from benchmarks.learning_recipe import on_real_screens, train
from ontask.data.catalog import catalog_corpus
from ontask.models.tiny import build_tiny_vlm

SEEDS = ((11, 21), (12, 22), (13, 23))  # (the tiny model's, the synthetic data's)


def spread(values: list[float]) -> str:
    """Median [min-max] over seeds.

    >>> spread([0.91, 0.93, 0.95])
    '0.930 [0.910-0.950]'
    """
    return f"{statistics.median(values):.3f} [{min(values):.3f}-{max(values):.3f}]"


def run() -> None:
    rows: list[dict[str, float]] = []
    for model_seed, data_seed in SEEDS:
        with tempfile.TemporaryDirectory(prefix=f"bench-learning-{model_seed}-") as tmp:
            work = Path(tmp)
            base = build_tiny_vlm(work / "base", seed=model_seed, corpus=catalog_corpus())
            learned = train(work, base, data_seed)
            real = on_real_screens(learned, work / "eval-real")
        curve = learned.curve
        rows.append(
            {
                "training minutes": learned.minutes,
                "synthetic held-out at the start": curve[0][2],
                "after the warm start": learned.after_warm_start,
                "at the end (after GRPO)": curve[-1][2],
                "real screens, student": real["student"]["accuracy"],
                "real screens, verifier alone (peer)": real["verifier"]["accuracy"],
            }
        )
        print(f"seed {model_seed}/{data_seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in rows[-1].items()), flush=True)
    n = real["student"]["n"]
    print(f"\n{'figure':<44} {'median [range]':>22}  per seed ({' / '.join(str(m) for m, _ in SEEDS)})")
    for figure in rows[0]:
        values = [r[figure] for r in rows]
        label = f"{figure} (n={n})" if figure.startswith("real") else figure
        print(f"{label:<44} {spread(values):>22}  {' / '.join(f'{v:.3f}' for v in values)}")


if __name__ == "__main__":
    run()
