"""`ontask demo`: the embedded mode end to end on this machine's CPU with tiny models.

1. Screenshots as a customer has them: a folder of PNGs with a manifest (task and window
   evidence, no labels). The edge case the corrections will teach is a team's own policy that no
   rule or prompt knows: its focus-music player in front of the task's work counts as on-task
   (the verifier says off-task, and the customer's screenshots never show it).
2. The embedded operator runs the classifier's life with the same reconcile code as in a
   cluster: the data job labels the screenshots with the tiny judge and the verifier, the
   GRPO PyTorchJob trains the tiny student (a supervised warm start first, reported as such),
   and the student is served by a local KServe ModelServer.
3. 30 corrections of the edge case go through Kafka to the feedback collector; the sync cycle
   trains a candidate from the serving version, evaluates it, and promotes it or not.
4. Every system is evaluated on held-out screenshots and on the edge case, and the table is
   printed and written with plots to an HTML report.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field
from tqdm import tqdm

from ontask.labels import ON
from ontask.store_paths import classifier_prefix, metrics_key, model_key

EDGE_FAMILY = "focus-music"  # a scene family of ontask.data.scene.EDGE_FAMILIES
# Supervised steps a cycle trains on its rows before GRPO (about two passes over the demo's
# 660 cycle rows). 60 moved the corrected screenshots but not the family's unseen rows; 150
# moved both with no loss on the held-out ones (a probe on this demo's seed; the benchmark, on
# another seed and base, is the check).
CYCLE_WARM_START_STEPS = 150
TITLES = {"heldout": "held-out", "edge": "team's focus music (new)", "corrected": "corrected screenshots"}


def _screens(out: Path, n_customer: int, n_heldout: int, n_edge: int, seed: int):
    """The customer's unlabelled folder, and labelled held-out / edge / correction examples."""
    import random

    from ontask.data.catalog import TASKS
    from ontask.data.generate import example_from_scene, family_examples
    from ontask.data.labels import FOCUS_MUSIC_TEAM
    from ontask.data.scene import scenario_for, scenario_scene
    from ontask.images import encode_png

    folder = out / "customer-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    normal = []
    bar = tqdm(total=n_customer + n_heldout + 4 * n_edge, desc="screenshots", unit="img", disable=None)
    i = 0
    while len(normal) < n_customer + n_heldout:
        rng = random.Random(f"{seed}:{i}")
        task = rng.choice(TASKS)
        scenario = scenario_for(task, rng)
        i += 1
        normal.append(
            example_from_scene(
                scenario_scene(rng, task, scenario), task.id, task.text, f"demo-{seed}-{i}", scenario=scenario
            )
        )
        bar.update()
    # Balanced: each focus-music screen with its own task (on-task by the policy) and another
    # task (off-task). Users correct what the student gets wrong, the on-task side.
    edge = family_examples(EDGE_FAMILY, 4 * n_edge, seed, FOCUS_MUSIC_TEAM)
    bar.update(len(edge))
    bar.close()
    with open(folder / "manifest.jsonl", "w") as manifest:
        for k, ex in enumerate(normal[:n_customer]):
            name = f"shot-{k:04d}.png"
            (folder / name).write_bytes(encode_png(ex.image))
            manifest.write(json.dumps({"image": name, "task": ex.task, "windows": ex.windows}) + "\n")
    corrections = [ex for ex in edge[: 2 * n_edge] if ex.label == ON]
    return folder, normal[n_customer:], edge[2 * n_edge :], corrections


# What a demo run writes under its folder; a new run starts without the last one's.
RUN_FOLDERS = ("customer-screenshots", "logs", "models", "report", "store")


def fresh_run_folder(out: Path) -> list[str]:
    """Remove the previous demo run's outputs from `out` (only the folders a run writes, nothing
    else), so that a second `make demo` starts its classifier from scratch instead of resuming
    the last one's serving version and cycles. Returns what was removed."""
    import shutil

    removed = []
    for name in RUN_FOLDERS:
        if (out / name).exists():
            shutil.rmtree(out / name)
            removed.append(name)
    return removed


class DemoFailed(Exception):
    """The demo could not go on; the message says why and where the logs are."""


def _wait(operator, done: Callable, timeout: float, desc: str, out: Path):
    # On a terminal a live line; in a log (CI, `make demo > log`) one line per change of state,
    # not a redraw twice a second.
    live = sys.stderr.isatty()  # where tqdm draws
    bar = tqdm(desc=desc, bar_format="{desc}: {elapsed} {postfix}") if live else None
    started, last = time.monotonic(), None
    try:
        deadline = time.monotonic() + timeout
        while True:
            status = operator.step()
            state = f"phase {status.phase}, model {status.model_version or '-'}, cycle {status.cycle}"
            if bar is not None:
                bar.set_postfix_str(state)
                bar.update()
            elif state != last:
                print(f"{desc}: {time.monotonic() - started:.0f}s {state}", flush=True)
            last = state
            if done(status):
                return status
            if status.phase == "Failed":
                why = "; ".join(c.message or "" for c in status.conditions if c.type in ("Ready", "Trained"))
                raise DemoFailed(f"{desc} failed: {why} (logs: {out / 'logs'})")
            if time.monotonic() > deadline:
                raise DemoFailed(f"{desc}: not done after {timeout:.0f}s (phase {status.phase}; logs: {out / 'logs'})")
            time.sleep(1.0)
    finally:
        if bar is not None:
            bar.close()


def _demo_spec(
    student_base: Path,
    judge: Path,
    folder: Path,
    n_edge: int,
    epochs: int,
    warm_start_steps: int,
    cycle_warm_start_steps: int,
):
    """The demo's TaskClassifier: tiny models on CPU, the customer's folder, a cycle per n_edge
    corrections, and a gate that promotes any candidate at least as good as the serving one."""
    from ontask.api import TaskClassifierSpec

    return TaskClassifierSpec.model_validate(
        {
            "student": {"model": str(student_base), "gpus": 0},
            "judge": {"enabled": True, "model": str(judge), "runtime": "transformers", "gpus": 0},
            "data": {
                "source": str(folder),
                "trainBatchSize": 8,
                "maxResponseLength": 4,
                "judgeLabelWeight": 0.2,
                # With 480 screenshots, as many training rows as 360 at 0.2, and a regression set of
                # about 145 rows instead of 55: one row is 0.7 points, not 1.8.
                "validationShare": 0.4,
            },
            "training": {
                "epochs": epochs,
                "groupSize": 4,
                "learningRate": 3e-4,
                "entropyCoef": 0.03,
                "workers": 1,
                "evalEvery": 25,
                "saveEvery": 100000,
                "warmStartSteps": warm_start_steps,
                "syncSteps": 10,
                "rewardWeights": {"binary": 0.8, "judge": 0.0, "verifier": 0.2},
            },
            "feedback": {
                "topic": f"ontask-demo-{uuid.uuid4().hex[:6]}",
                "cycleEvery": n_edge,
                "variantsPerCorrection": 10,
                "replayRatio": 1.0,
                "cycleWarmStartSteps": cycle_warm_start_steps,
            },
            "serving": {"promoteIfGain": 0.0, "judgeBelowConfidence": 0.5},
        }
    )


def _corrections_of(student_url: str, examples: list) -> list:
    """Corrections as an app sends them: the served student predicts each screenshot over HTTP
    first, and what it said goes into the correction beside the right label."""
    import requests

    from ontask.feedback import make_correction
    from ontask.images import encode_png

    corrections = []
    for k, ex in enumerate(examples):
        png = encode_png(ex.image)
        r = requests.post(
            f"{student_url}/v1/models/student:predict",
            timeout=60,
            json={"instances": [{"image": base64.b64encode(png).decode(), "task": ex.task, "windows": ex.windows}]},
        )
        r.raise_for_status()
        said = r.json()["predictions"][0]
        corrections.append(
            make_correction(
                "demo",
                ex.task,
                ex.label,
                image=png,
                id=f"demo-{k}",
                windows=ex.windows,
                predicted_label=said["label"],
                confidence=said["confidence"],
                model_version=said["modelVersion"],
            )
        )
    return corrections


def _report(
    out: Path, store_dir: Path, sets: dict[str, list], judge: Path, intro_facts: str, events: list[str], promoted: bool
) -> tuple[str, dict[str, Any], Path]:
    """Evaluate v1, v2, the hybrid and the verifier on the demo's slices; write the HTML report
    and results.json. Returns the table, the results and the report's path."""
    from ontask.evaluation import report
    from ontask.evaluation.compare import Item, compare
    from ontask.evaluation.gate import read_evaluation
    from ontask.models.tiny import NO_BASELINE, is_tiny_factory_model
    from ontask.store import LocalStore

    prefix = classifier_prefix("demo")
    evaluation = read_evaluation(LocalStore(store_dir), prefix, "v2")
    items = {s: [Item(ex.image, ex.task, ex.windows, ex.label, ex.hard) for ex in rows] for s, rows in sets.items()}
    tiny_judge = is_tiny_factory_model(str(judge))  # says nothing about prompting a real VLM: no row
    results = compare(
        items,
        {
            "student v1": str(store_dir / model_key(prefix, "v1")),
            "student v2 (after the cycle)": str(store_dir / model_key(prefix, "v2")),
        },
        judge_uri=None if tiny_judge else str(judge),
        # As served (each with its verifier): what users got before the cycle and after it.
        hybrid_of=("student v2 (after the cycle)", "student v1"),
    )
    slices = list(sets)
    table = report.markdown_table(results, slices, TITLES)
    report_dir = out / "report"
    report_dir.mkdir(exist_ok=True)
    runs = {
        "v1 (bootstrap)": report.read_metrics(store_dir / metrics_key(prefix, "v1")),
        "v2 (cycle 1)": report.read_metrics(store_dir / metrics_key(prefix, "v2")),
    }
    images = [
        report.accuracy_plot(results, slices, TITLES, report_dir / "accuracy.png"),
        report.training_plot(runs, report_dir / "training.png"),
        report.reliability_plot(
            {k: v for k, v in results.items() if k.startswith("student")}, "heldout", report_dir / "reliability.png"
        ),
    ]
    intro = (
        intro_facts
        + f"{'promoted' if promoted else 'not promoted'}: {evaluation.decision.reason}."
        + (f" {NO_BASELINE[0].upper()}{NO_BASELINE[1:]}." if tiny_judge else "")
    )
    html = report.write_html(
        report_dir / "index.html",
        "ontask demo",
        intro,
        table,
        images,
        {"events": events, "decision": evaluation.decision.model_dump()},
    )
    (report_dir / "results.json").write_text(
        json.dumps({"table": table, "results": results, "events": events, "promoted": promoted}, indent=1)
    )
    print()
    print(intro)
    print(table)
    print("\nevents: " + "; ".join(events))
    print(f"report: {html}")
    return table, results, html


def run(
    out: Path,
    kafka_bootstrap: Optional[str],
    seed: int = 7,
    n_customer: int = 480,
    n_heldout: int = 100,
    n_edge: int = 30,
    warm_start_steps: int = 300,
    epochs: int = 2,
    cycle_warm_start_steps: int = CYCLE_WARM_START_STEPS,
) -> dict[str, Any]:
    """Run the demo from a clean run folder; returns the numbers of the printed table."""
    from ontask.data.catalog import catalog_corpus
    from ontask.feedback import send
    from ontask.models.tiny import build_tiny_vlm
    from ontask.operator.embedded import EmbeddedOperator

    if not kafka_bootstrap:
        raise DemoFailed(
            "the demo sends corrections through Kafka: give --kafka-bootstrap (or "
            "ONTASK_KAFKA_BOOTSTRAP); `make demo` starts a local broker for it"
        )
    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    if removed := fresh_run_folder(out):
        print(f"starting afresh: removed the previous demo run's {', '.join(removed)} from {out}")
    corpus = catalog_corpus()
    student_base = build_tiny_vlm(out / "models" / "student-base", seed=seed, corpus=corpus)
    judge = build_tiny_vlm(out / "models" / "judge", seed=seed + 1, corpus=corpus)
    folder, heldout, edge_eval, edge_corrections = _screens(out, n_customer, n_heldout, n_edge, seed)
    spec = _demo_spec(student_base, judge, folder, n_edge, epochs, warm_start_steps, cycle_warm_start_steps)
    store_dir = out / "store"
    events: list[str] = []
    operator = EmbeddedOperator(
        "demo",
        spec,
        str(store_dir),
        out / "logs",
        kafka_bootstrap=kafka_bootstrap,
        on_event=lambda kind, reason, msg: events.append(f"{kind} {reason}: {msg}"),
    )
    try:
        _wait(operator, lambda s: s.phase == "Serving" and s.model_version == "v1", 1800, "bootstrap + train v1", out)
        corrections = _corrections_of(operator.children.url("demo-student"), edge_corrections)
        for c in tqdm(corrections, desc="corrections -> Kafka", unit="msg", disable=None):
            send(c, bootstrap=kafka_bootstrap, topic=spec.feedback.topic)
        final = _wait(operator, lambda s: s.cycle >= 1, 1800, "sync cycle 1", out)
    finally:
        operator.stop()

    promoted = final.model_version == "v2"
    facts = (
        f"Embedded mode on CPU with tiny random-initialised models, {time.monotonic() - started:.0f} s. "
        f"Student v1: supervised warm start of {warm_start_steps} steps on the bootstrap labels, then GRPO. "
        f"Cycle 1: {len(corrections)} corrections of a category missing from the bootstrap data "
        f"({EDGE_FAMILY}, on-task by the team's policy), {spec.feedback.variants_per_correction} variants "
        f"each, {spec.feedback.replay_ratio:g} replayed row per cycle row, {cycle_warm_start_steps} warm-start "
        f"steps, then GRPO; "
    )
    sets = {"heldout": heldout, "edge": edge_eval, "corrected": edge_corrections}
    table, results, html = _report(out, store_dir, sets, judge, facts, events, promoted)
    return {"results": results, "table": table, "report": html, "promoted": promoted, "status": final}


SMALL = {
    "n_customer": 60,
    "n_heldout": 20,
    "n_edge": 10,
    "warm_start_steps": 20,
    "epochs": 1,
    "cycle_warm_start_steps": 60,
}


class DemoSettings(BaseModel):
    """`ontask demo`'s settings from the environment (`make demo` sets them), read once."""

    model_config = ConfigDict(extra="forbid")

    out: Path = Field(Path("out/demo"), description="The run folder (ONTASK_DEMO_DIR).")
    kafka_bootstrap: Optional[str] = Field(None, description="Kafka for the corrections (ONTASK_KAFKA_BOOTSTRAP).")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "DemoSettings":
        """The settings in the environment; empty values count as unset."""
        from ontask.feedback.settings import KafkaSettings

        out = environ.get("ONTASK_DEMO_DIR")
        return cls(kafka_bootstrap=KafkaSettings.from_env(environ).bootstrap, **({"out": out} if out else {}))


def add_arguments(demo: argparse.ArgumentParser) -> None:
    """`ontask demo`'s options."""
    demo.add_argument("--out", type=Path, help="output folder (default: ONTASK_DEMO_DIR, or out/demo)")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument(
        "--small",
        action="store_true",
        help="a few minutes instead of ten: fewer screenshots and steps (the numbers mean less)",
    )
    demo.add_argument(
        "--kafka-bootstrap",
        help="Kafka for the corrections (default: ONTASK_KAFKA_BOOTSTRAP; `make demo` starts a local broker)",
    )
    demo.set_defaults(func=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    settings = DemoSettings.from_env()
    try:
        run(
            args.out or settings.out,
            args.kafka_bootstrap or settings.kafka_bootstrap,
            seed=args.seed,
            **(SMALL if args.small else {}),
        )
    except DemoFailed as e:
        print(f"ontask demo: {e}", file=sys.stderr)
        return 1
    return 0
