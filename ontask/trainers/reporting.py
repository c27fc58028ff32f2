"""What a training run says while it runs: each metrics dict as a JSON line (the metrics JSONL
the monitor reads), one human line every tenth step with an ETA for `kubectl logs`, a progress
bar on a terminal, and the metrics published at every evaluation."""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional


def jsonl_logger(path: Path) -> Callable[[dict], None]:
    """Append each metrics dict as one JSON line (the metrics JSONL the monitor reads)."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def log(m: dict) -> None:
        with open(path, "a") as f:
            f.write(
                json.dumps({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in m.items()}) + "\n"
            )

    return log


def progress_line(m: dict[str, Any], total_steps: int, eta_s: Optional[float] = None) -> Optional[str]:
    """One human line for `kubectl logs` from a metrics dict, or None for a step not worth a line
    (GRPO and warm-start steps print every tenth step, and any step with an evaluation).

    Example:
        >>> progress_line({"phase": "grpo", "step": 20, "reward": 0.61234, "val_accuracy": 0.8}, 100, 95.0)
        'step 20/100 grpo reward=0.612 val_accuracy=0.800 eta=1m35s'
        >>> progress_line({"phase": "grpo", "step": 21, "reward": 0.5}, 100) is None
        True
    """
    phase, step = m.get("phase"), int(m.get("step", 0))
    if phase in ("grpo", "warm-start") and step % 10 and "val_accuracy" not in m:
        return None
    keys = (
        "train_rows",
        "val_rows",
        "world_size",
        "learning_rate",
        "sft_loss",
        "reward",
        "groups_with_signal",
        "entropy",
        "val_accuracy",
        "samples_per_s",
        "student_weight",
        "from",
    )
    parts = [
        f"{k}={m[k]:.3g}" if k == "learning_rate" else f"{k}={m[k]:.3f}" if isinstance(m[k], float) else f"{k}={m[k]}"
        for k in keys
        if m.get(k) is not None
    ]
    if eta_s is not None:
        parts.append(f"eta={int(eta_s) // 60}m{int(eta_s) % 60:02d}s")
    return " ".join([f"step {step}/{total_steps}", str(phase)] + parts)


def progress_reporter(
    log: Callable[[dict], None],
    total_steps: int,
    publish: Optional[Callable[[], None]] = None,
    live: Optional[bool] = None,
) -> Callable[[dict], None]:
    """The metrics logger, also printing a line now and then (with an ETA), so a running job is
    not silent in `kubectl logs`, and publishing the metrics so far at every evaluation, so
    `ontask monitor --follow` draws a running job (the version being trained must be named).
    On a terminal (`live`, default: whether stdout is one) a progress bar runs under the lines."""
    from tqdm import tqdm

    live = sys.stdout.isatty() if live is None else live
    bar = tqdm(total=total_steps, desc="training", unit="step", dynamic_ncols=True) if live else None
    started, first_step = time.monotonic(), None

    def report(m: dict) -> None:
        nonlocal started, first_step
        log(m)
        step, training = int(m.get("step", 0)), m.get("phase") in ("warm-start", "grpo")
        eta = None
        if training and first_step is None:  # timed from here: the first evaluation is not a step
            started, first_step = time.monotonic(), step
        elif training and step > first_step:
            eta = (time.monotonic() - started) / (step - first_step) * max(0, total_steps - step)
        line = progress_line(m, total_steps, eta)
        if bar is not None:
            if training:
                bar.update(step - bar.n)
                bar.set_postfix({k: f"{m[k]:.3f}" for k in ("reward", "sft_loss", "val_accuracy") if k in m})
            if line is not None:
                bar.write(line)
            if m.get("phase") == "end":
                bar.close()
        elif line is not None:
            print(line, flush=True)
        if publish is not None and m.get("val_accuracy") is not None:
            publish()

    return report
