"""`ontask eval` and `ontask monitor`: systems side by side on a dataset version, and a
classifier's training curves."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ontask.cli_inputs import existing_store
from ontask.evaluation import report
from ontask.store import open_store
from ontask.store_paths import classifier_prefix, metrics_prefix


def add_eval_arguments(ev: argparse.ArgumentParser) -> None:
    """`ontask eval`'s options."""
    ev.add_argument("--model", action="append", help="student model URI (repeatable; none: the verifier alone)")
    ev.add_argument(
        "--store", type=existing_store, required=True, help="store of the dataset: a folder or s3://bucket/prefix"
    )
    ev.add_argument("--data", required=True, help="dataset name[:version] (default: its latest version)")
    ev.add_argument("--judge", help="judge model URI: adds the prompt-engineering baseline")
    ev.add_argument(
        "--slices",
        default="val,holdout,corrections",
        help="comma-separated: val, holdout (a cycle's held-out corrections and their variants), corrections, "
        "train; slices a dataset lacks are left out",
    )
    ev.add_argument(
        "--pixels",
        action="store_true",
        help="also the verifier from the screenshot alone (OCR of title bars and URL fields)",
    )
    ev.add_argument("--by", default="", help="comma-separated breakdowns of the first slice: app, family")
    ev.add_argument("--out", default="out/eval", help="folder for evaluation.json, PNGs and index.html")
    ev.set_defaults(func=_cmd_eval)


def add_monitor_arguments(mon: argparse.ArgumentParser) -> None:
    """`ontask monitor`'s options."""
    mon.add_argument("classifier")
    mon.add_argument("--store", type=existing_store, required=True, help="a folder or s3://bucket/prefix")
    mon.add_argument("--out", default="out/monitor")
    mon.add_argument("--follow", action="store_true", help="redraw every --interval seconds")
    mon.add_argument("--interval", type=float, default=30.0)
    mon.set_defaults(func=_cmd_monitor)


def _cmd_eval(args: argparse.Namespace) -> int:
    """Systems side by side on a dataset version: JSON, a Markdown table and an HTML report."""
    from ontask.data.dataset import read_version
    from ontask.evaluation.compare import breakdown, compare, items_of
    from ontask.evaluation.evaluate import rows_of

    name, _, version = args.data.partition(":")
    ds = read_version(open_store(args.store), name, version or None)
    sets = {s: items_of(ds, rows) for s in args.slices.split(",") if (rows := rows_of(ds, s))}
    if not sets:
        raise SystemExit(f"{name} {ds.version} has no labelled rows in the slices {args.slices}")
    students = {f"student {Path(m.rstrip('/')).name}": m for m in args.model or []}
    judge = args.judge
    if judge:
        from ontask.models.tiny import NO_BASELINE, is_tiny_factory_model

        if is_tiny_factory_model(judge):
            print(NO_BASELINE)
            judge = None
    probabilities: dict = {}
    results = compare(
        sets,
        students,
        judge_uri=judge,
        hybrid_of=next(iter(students), None),
        pixels=args.pixels,
        probabilities=probabilities,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    titles = {
        "val": "held-out",
        "holdout": "held-out corrections",
        "corrections": "corrected edge cases (a cycle's: trained on but for the held-out ones)",
        "train": "train",
    }
    table = report.markdown_table(results, list(sets), titles)
    first = next(iter(sets))
    for key in [k for k in (args.by or "").split(",") if k]:
        rows = breakdown(sets[first], {name: p[first] for name, p in probabilities.items()}, key)
        table += f"\n\n{titles.get(first, first)}, by {key}:\n\n" + report.breakdown_table(rows, key)
    (out / "evaluation.json").write_text(json.dumps({"dataset": f"{name}:{ds.version}", "results": results}, indent=1))
    images = [
        report.accuracy_plot(results, list(sets), titles, out / "accuracy.png"),
        report.reliability_plot(results, next(iter(sets)), out / "reliability.png"),
    ]
    report.write_html(
        out / "index.html",
        f"ontask evaluation: {name} {ds.version}",
        f"{sum(len(v) for v in sets.values())} labelled screenshots",
        table,
        images,
    )
    print(table)
    print(f"report: {out / 'index.html'}")
    return 0


def _cmd_monitor(args: argparse.Namespace) -> int:
    """Training curves of a classifier's runs from the metrics JSONL in the store; --follow
    redraws while a job runs."""
    store = open_store(args.store)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    prefix = metrics_prefix(classifier_prefix(args.classifier))
    while True:
        runs = {
            key[len(prefix) :].removesuffix(".jsonl"): [
                json.loads(ln) for ln in store.get_bytes(key).decode().splitlines() if ln.strip()
            ]
            for key in sorted(store.list(prefix))
            if key.endswith(".jsonl")
        }
        if not runs:
            raise SystemExit(f"no metrics under {store.uri(prefix)}")
        finals = {
            v: next((m.get("val_accuracy") for m in reversed(ms) if m.get("val_accuracy") is not None), None)
            for v, ms in runs.items()
        }
        table = "| run | last held-out accuracy |\n|---|---|\n" + "\n".join(
            f"| {v} | {a:.3f} |" if a is not None else f"| {v} | - |" for v, a in finals.items()
        )
        image = report.training_plot(runs, out / "training.png")
        page = report.write_html(
            out / "index.html",
            f"ontask training: {args.classifier}",
            "Held-out accuracy, reward and entropy per optimizer step, one line per model "
            "version (each sync cycle trains one).",
            table,
            [image],
        )
        print(f"{page}: {', '.join(f'{v} {a:.3f}' if a is not None else v for v, a in finals.items())}", flush=True)
        if not args.follow:
            return 0
        time.sleep(args.interval)
