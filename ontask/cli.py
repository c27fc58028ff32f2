"""The `ontask` command line."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

from ontask.labels import LABELS
from ontask.store_paths import classifier_prefix, dataset_prefix, metrics_prefix


def _cmd_demo(args: argparse.Namespace) -> int:
    """Embedded-mode demo: train, serve, learn from corrections, evaluate; see ontask/demo.py."""
    from ontask.demo import SMALL, DemoFailed, run

    try:
        run(Path(args.out), args.kafka_bootstrap, seed=args.seed, **(SMALL if args.small else {}))
    except DemoFailed as e:
        print(f"ontask demo: {e}", file=sys.stderr)
        return 1
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    """Systems side by side on a dataset version: JSON, a Markdown table and an HTML report."""
    import json as _json

    from ontask.data.dataset import read_version
    from ontask.evaluation import report
    from ontask.evaluation.compare import breakdown, compare, items_of
    from ontask.evaluation.evaluate import rows_of

    name, _, version = args.data.partition(":")
    ds = read_version(_store_for(args.store), name, version or None)
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
    (out / "evaluation.json").write_text(_json.dumps({"dataset": f"{name}:{ds.version}", "results": results}, indent=1))
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
    import json as _json

    from ontask.evaluation import report

    store = _store_for(args.store)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    prefix = metrics_prefix(classifier_prefix(args.classifier))
    while True:
        runs = {
            key[len(prefix) :].removesuffix(".jsonl"): [
                _json.loads(ln) for ln in store.get_bytes(key).decode().splitlines() if ln.strip()
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


def _cmd_serve(args: argparse.Namespace) -> int:
    from ontask.serving.server import main

    return main(args)


def _store_for(uri: str):
    from ontask.store import open_store

    return open_store(uri)


def _cmd_data_generate(args: argparse.Namespace) -> int:
    from ontask.data import contact_sheet, generate, write_version
    from ontask.data.generate import focused_kind

    store = _store_for(args.out)
    examples = generate(args.n, seed=args.seed, contrastive=args.contrastive)
    if args.preview:
        from tqdm import tqdm

        examples = list(tqdm(examples, total=args.n, desc="rendering", unit="screen"))
        # One screenshot per app kind first, so the sheet shows the variety at a glance.
        by_kind: dict[str, list] = {}
        for ex in examples:
            by_kind.setdefault(focused_kind(ex), []).append(ex)
        picked = [group[0] for group in by_kind.values()]
        picked += [ex for ex in examples if ex not in picked][: max(0, 24 - len(picked))]
        contact_sheet(picked[:24]).save(args.preview)
        print(f"contact sheet of {min(24, len(picked))} screenshots: {args.preview}")
    manifest = write_version(
        store,
        args.name,
        examples,
        data_source="ontask/synthetic",
        made_by={"command": "generate", "n": args.n, "seed": args.seed, "contrastive": args.contrastive},
        progress=True,
    )
    where = store.uri(dataset_prefix(args.name, manifest["version"]))
    print(
        f"wrote {where}: {manifest['rows']} rows "
        f"{manifest['splits']}, labels {manifest['labels']}, {manifest['hard_rows']} hard cases"
    )
    return 0


def _cmd_data_prepare(args: argparse.Namespace) -> int:
    from ontask.data import prepare

    labeller = None
    if args.judge or args.verifier:
        from ontask.data.labelling import judge_verifier_labeller

        judge = verifier = None
        cache = not args.no_judge_cache
        if args.judge:
            from ontask.judge import Judge, JudgmentCache, TransformersBackend

            judge = Judge(TransformersBackend.load(args.judge), JudgmentCache() if cache else None, args.judge_mode)
        elif args.judge_url:
            from ontask.judge.remote import judge_client

            judge = judge_client(args.judge_url, args.judge_runtime, args.judge_model, args.judge_mode, cache)
        if judge is not None:
            from ontask.judge.remote import image_judge

            judge = image_judge(judge)
        if args.verifier:
            from ontask.verify import Verifier

            verifier = Verifier()
        labeller = judge_verifier_labeller(judge, verifier, args.judge_weight, args.min_confidence)
    result = prepare(
        args.source,
        _store_for(args.out),
        args.name,
        task=args.task,
        labeller=labeller,
        progress=True,
        other_task_twins=args.other_task_twins,
    )
    m = result.manifest
    print(
        f"wrote {args.out} {dataset_prefix(args.name, m['version'])}: {m['rows']} rows, labels {m['labels']}"
        + (f" ({result.twins} of them other-task twins of on-task rows)" if args.other_task_twins else "")
    )
    for r in result.rejected:
        print(f"rejected {r['reason']}", file=sys.stderr)
    if result.unlabeled:
        print(f"{result.unlabeled} rows have no label yet (no judge or verifier configured)", file=sys.stderr)
    return 0


def _cmd_data_real_screens(args: argparse.Namespace) -> int:
    from ontask.agent import realscreens

    folder = realscreens.cached_set(rebuild=args.rebuild)
    print(f"real-screens set: {folder}")
    if args.out:
        from ontask.data import prepare

        m = prepare(folder / "manifest.jsonl", _store_for(args.out), args.name).manifest
        print(
            f"wrote {args.out} {dataset_prefix(args.name, m['version'])}: {m['rows']} rows {m['splits']}, "
            f"labels {m['labels']}"
        )
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    import logging

    from ontask.trainers.run import load_spec, run_training

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    spec, verifier_config = load_spec(args.config)
    summary = run_training(
        spec,
        _store_for(args.store),
        args.classifier,
        args.dataset,
        args.base_model,
        dataset_version=args.dataset_version,
        warm_start_steps=args.warm_start_steps,
        max_minutes=args.max_minutes,
        stop_at=args.stop_at_step,
        model_version=args.model_version,
        cycle=args.cycle,
        verifier_config=verifier_config,
    )
    if summary.get("stopped"):
        print(f"stopped at step {summary['steps']}; run the same command again to resume")
        return 0
    if summary["model_uri"] is None:  # a non-zero rank of a distributed run
        return 0
    print(
        f"trained {summary['model_uri']}: held-out accuracy {summary['val_accuracy']:.3f} after "
        f"{summary['steps']} steps; skipped rows {summary['skipped']}"
    )
    h = summary["hybrid"]
    if h is None:
        print(
            "served alone: the dataset has no validation rows with window evidence to fit its weight "
            "beside the verifier on"
        )
    else:
        print(
            f"served as the hybrid with the verifier: student weight {h['student_weight']:.1f}, fitted on "
            f"{h['rows']} rows of {h['fitted_on']} (accuracy there: student {h['accuracy']['student']:.3f}, "
            f"verifier {h['accuracy']['verifier']:.3f}, hybrid {h['accuracy']['hybrid']:.3f})"
        )
    if args.compare_with:
        _compare(args, summary, spec)
    return 0


def _compare(args: argparse.Namespace, summary: dict, spec) -> None:
    """A cycle's gate: the candidate and the serving model on the same rows (the cycle's held-out
    corrections and the classifier's regression set), and the promotion decision, written beside
    the model."""
    from ontask.evaluation.evaluate import evaluate, gate_sets
    from ontask.evaluation.gate import Evaluation, decide, write_evaluation

    store = _store_for(args.store)
    version, sets = gate_sets(store, args.dataset, args.dataset_version)
    px = spec.serving.model_max_pixels  # as served, whatever budget an older version was saved with
    candidate = {**evaluate(summary["model_uri"], sets, max_pixels=px), "dataset": args.dataset, "version": version}
    serving = {**evaluate(args.compare_with, sets, max_pixels=px), "dataset": args.dataset, "version": version}
    decision = decide(candidate, serving, spec.serving.promote_if_gain, spec.serving.max_regression)
    write_evaluation(
        store,
        classifier_prefix(args.classifier),
        summary["version"],
        Evaluation(candidate=candidate, serving=serving, decision=decision),
    )
    print(
        f"evaluated against {args.compare_with} as served ({candidate['answers']} vs {serving['answers']}): "
        f"{decision.reason} -> "
        f"{'promote' if decision.promote else 'keep the serving version'}"
    )


def _cmd_spec_from_verl(args: argparse.Namespace) -> int:
    from ontask.interop.verl_config import read_verl_config, task_classifier_yaml

    training = read_verl_config(args.config, source=args.source)
    if training.verifier_config is not None:
        print(
            f"note: {args.config.parent / 'verifier_config.yaml'} is used by `ontask train --config`; a "
            "TaskClassifier on a cluster scores with ontask's built-in verifier rules",
            file=sys.stderr,
        )
    print(task_classifier_yaml(training, args.name), end="")
    return 0


def _export_spec(path: Optional[str]):
    from ontask.spec import TaskClassifierSpec
    from ontask.trainers.run import load_spec

    return load_spec(path)[0] if path else TaskClassifierSpec.model_validate({"data": {"source": "synthetic"}})


def _cmd_export_verl(args: argparse.Namespace) -> int:
    from ontask.interop.verl_export import export_verl

    done = export_verl(
        _store_for(args.store), args.dataset, Path(args.out), _export_spec(args.config), args.dataset_version
    )
    print(
        f"exported {args.dataset} {done.version} to {done.folder}: {done.rows['train']} train rows, "
        f"{done.rows['val']} val rows; launch with {done.folder}/run_task_classification.sh"
    )
    return 0


def _cmd_feedback_send(args: argparse.Namespace) -> int:
    import json as _json

    from ontask.feedback import make_correction, send

    windows = _json.loads(args.windows) if args.windows else []
    image = Path(args.image).read_bytes() if args.image else None
    correction = make_correction(
        args.classifier,
        args.task,
        args.label,
        image=image,
        image_uri=args.image_uri,
        id=args.id,
        source=args.source,
        windows=windows,
        predicted_label=args.predicted,
        note=args.note,
    )
    send(correction, bootstrap=args.bootstrap, topic=args.topic)
    print(f"sent correction {correction.id} for {correction.classifier} to {args.topic}")
    return 0


def _cmd_feedback_collect(args: argparse.Namespace) -> int:
    import json as _json
    import signal
    import threading

    from ontask.feedback.collector import Collector
    from ontask.feedback.loop import CycleTrigger, run_feedback
    from ontask.spec import FeedbackSpec, load_spec_file

    if args.config:
        # A classifier's collector (the operator's Deployment): everything from its spec; cycles
        # replay its own dataset, one at a time, each once the operator decided the previous.
        spec = load_spec_file(args.config).feedback
        trigger = CycleTrigger(args.classifier)
    else:
        spec = FeedbackSpec(
            topic=args.topic,
            buffer_size=args.buffer_size,
            cycle_every=args.cycle_every,
            variants_per_correction=args.variants,
        )
        trigger = CycleTrigger(args.replay_dataset, operator_decides=False) if args.cycles else None
    collector = Collector(args.classifier, spec, _store_for(args.store), args.bootstrap, group_id=args.group_id)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    last: list = [None]

    def cycle_written(marker: dict) -> None:
        print(_json.dumps({"event": "cycle", **{k: marker[k] for k in ("cycle", "dataset", "version")}}), flush=True)

    def counted(counts) -> None:
        if counts != last[0]:
            last[0] = counts.model_copy()
            print(_json.dumps({"event": "batch", **counts.model_dump()}), flush=True)

    run_feedback(collector, stop, trigger, on_cycle=cycle_written, on_counts=counted)
    return 0


def _cmd_feedback_schema(args: argparse.Namespace) -> int:
    import json as _json

    from ontask.spec import Correction

    print(_json.dumps(Correction.model_json_schema(by_alias=True), indent=2))
    return 0


def _cmd_operator(args: argparse.Namespace) -> int:
    from ontask.operator import run_operator

    run_operator(
        namespaces=args.namespace or (),
        liveness=args.liveness,
        standalone=args.standalone,
        log_level=os.environ.get("ONTASK_LOG_LEVEL", args.log_level),
        metrics_port=args.metrics_port,
    )
    return 0


def _cmd_crd(args: argparse.Namespace) -> int:
    from ontask import crd

    if args.check:
        return crd.main(["--check"])
    sys.stdout.write(crd.render())
    return 0


def _add_demo(sub: "argparse._SubParsersAction") -> None:
    demo = sub.add_parser("demo", help="run the embedded-mode demo on this machine")
    demo.add_argument("--out", default=os.environ.get("ONTASK_DEMO_DIR", "out/demo"), help="output folder")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument(
        "--small",
        action="store_true",
        help="a few minutes instead of ten: fewer screenshots and steps (the numbers mean less)",
    )
    demo.add_argument(
        "--kafka-bootstrap",
        default=os.environ.get("ONTASK_KAFKA_BOOTSTRAP"),
        help="Kafka for the corrections (`make demo` starts a local broker)",
    )
    demo.set_defaults(func=_cmd_demo)


def _add_operator(sub: "argparse._SubParsersAction") -> None:
    op = sub.add_parser("operator", help="run the Kubernetes operator")
    scope = op.add_mutually_exclusive_group()
    scope.add_argument("--namespace", action="append", help="watch this namespace (repeatable)")
    scope.add_argument("--all-namespaces", action="store_true", help="watch all namespaces (default)")
    op.add_argument("--liveness", default="http://0.0.0.0:8080/healthz", help="liveness endpoint URL")
    op.add_argument("--metrics-port", type=int, default=0, help="serve Prometheus /metrics on this port (0: none)")
    op.add_argument("--standalone", action="store_true", help="no leader election between replicas")
    op.add_argument("--log-level", default="info")
    op.set_defaults(func=_cmd_operator)


def _add_data(sub: "argparse._SubParsersAction") -> None:
    data = sub.add_parser("data", help="synthetic screenshots and dataset versions").add_subparsers(
        dest="data_command", required=True
    )
    gen = data.add_parser("generate", help="render a seeded synthetic dataset as a new version")
    gen.add_argument("--n", type=int, default=200, help="rows")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--out", default="out/store", help="store: a folder or s3://bucket/prefix")
    gen.add_argument("--name", default="synthetic", help="dataset name")
    gen.add_argument(
        "--contrastive",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="rows in pairs over the same pixels: a task the focused window serves and one it does "
        "not, done in the same kind of tool (default: on)",
    )
    gen.add_argument("--preview", metavar="PNG", help="also write a contact sheet of 24 screenshots")
    gen.set_defaults(func=_cmd_data_generate)
    prep = data.add_parser("prepare", help="turn a folder or JSONL manifest of screenshots into a version")
    prep.add_argument("source", help="a folder of images (with manifest.jsonl or --task), or a .jsonl manifest")
    prep.add_argument("--task", help="the task of every screenshot in a folder without a manifest")
    prep.add_argument("--out", default="out/store", help="store: a folder or s3://bucket/prefix")
    prep.add_argument("--name", required=True, help="dataset name")
    judge = prep.add_mutually_exclusive_group()
    judge.add_argument("--judge", help="label unlabelled rows with this judge model, in-process (folder or s3:// URI)")
    judge.add_argument(
        "--judge-url", help="label unlabelled rows with the judge service at this base URL (a judge InferenceService)"
    )
    from ontask.serving.server import add_judge_service_arguments

    add_judge_service_arguments(prep)
    prep.add_argument(
        "--judge-mode",
        default="preference",
        help="spec.judge.mode (preference or pointwise), where the judge runs in this process "
        "(--judge, or --judge-url with vllm)",
    )
    prep.add_argument("--no-judge-cache", action="store_true", help="spec.judge.cache false: judge every row anew")
    prep.add_argument("--verifier", action="store_true", help="label unlabelled rows with the rule-based verifier")
    prep.add_argument(
        "--other-task-twins",
        action="store_true",
        help="each on-task row with window evidence also gets its off-task twin: the same pixels "
        "with a library task no window names",
    )
    prep.add_argument("--judge-weight", type=float, default=0.5, help="judge's weight when both label")
    prep.add_argument("--min-confidence", type=float, default=0.6, help="rows less sure than this stay unlabelled")
    prep.set_defaults(func=_cmd_data_prepare)

    real = data.add_parser(
        "real-screens",
        help="build (once, cached) the real-screens set: real applications "
        "under Xvfb; optionally write it as a dataset version",
    )
    real.add_argument("--out", help="store to write the dataset version to: a folder or s3://bucket/prefix")
    real.add_argument("--name", default="real-screens", help="dataset name (with --out)")
    real.add_argument("--rebuild", action="store_true", help="build again even when a cached set exists")
    real.set_defaults(func=_cmd_data_real_screens)


def _add_train(sub: "argparse._SubParsersAction") -> None:
    train = sub.add_parser("train", help="GRPO-train the student on a dataset version")
    train.add_argument(
        "--config",
        required=True,
        help="a TaskClassifier YAML (its spec sets the run), or the verl "
        "plan's task_classifier_grpo.yaml (see the README)",
    )
    train.add_argument("--store", default="out/store", help="store: a folder or s3://bucket/prefix")
    train.add_argument("--classifier", required=True, help="classifier name (prefix of its artifacts)")
    train.add_argument("--dataset", required=True, help="dataset name in the store")
    train.add_argument("--dataset-version", help="version (default: the latest complete one)")
    train.add_argument(
        "--base-model", required=True, help="checkpoint folder, s3:// or hf://org/name[:revision] URI to start from"
    )
    train.add_argument(
        "--cycle",
        action="store_true",
        help="a sync cycle: fine-tune at feedback.learningRateScale times the learning rate",
    )
    train.add_argument(
        "--warm-start-steps",
        type=int,
        help="supervised steps on the labels before GRPO (reported as phase warm-start; default: "
        "the spec's training.warmStartSteps, or feedback.cycleWarmStartSteps with --cycle)",
    )
    train.add_argument("--max-minutes", type=float, help="stop GRPO after this many minutes")
    train.add_argument("--stop-at-step", type=int, help="stop after this step (resume later from its checkpoint)")
    train.add_argument("--model-version", help="name of the version to write (default: the next vN)")
    train.add_argument(
        "--compare-with",
        help="URI of the serving model: evaluate both afterwards and write the "
        "promotion decision to classifiers/<c>/evaluations/<version>.json",
    )
    train.set_defaults(func=_cmd_train)


def _add_spec(sub: "argparse._SubParsersAction") -> None:
    specp = sub.add_parser("spec", help="TaskClassifier specs from other formats").add_subparsers(
        dest="spec_command", required=True
    )
    fromverl = specp.add_parser(
        "from-verl-config",
        help="print the TaskClassifier that the verl plan's task_classifier_grpo.yaml (and the files beside it) says",
    )
    fromverl.add_argument("config", type=Path, help="path of task_classifier_grpo.yaml")
    fromverl.add_argument("--name", default="task-classifier", help="metadata.name of the TaskClassifier")
    fromverl.add_argument(
        "--source",
        default="synthetic",
        help="spec.data.source when the file names no data.train_files (an s3:// prefix)",
    )
    fromverl.set_defaults(func=_cmd_spec_from_verl)


def _add_export(sub: "argparse._SubParsersAction") -> None:
    export = sub.add_parser("export", help="datasets for other trainers").add_subparsers(
        dest="export_command", required=True
    )
    everl = export.add_parser(
        "verl", help="a dataset version as verl parquet, a verl GRPO config using ontask's reward, and a launch script"
    )
    everl.add_argument("--dataset", required=True, help="dataset name in the store")
    everl.add_argument("--dataset-version", help="version (default: the latest complete one)")
    everl.add_argument("--store", default="out/store", help="store: a folder or s3://bucket/prefix")
    everl.add_argument("--out", required=True, help="folder to write")
    everl.add_argument(
        "--config",
        help="a TaskClassifier or the verl plan's YAML whose settings to carry over (default: the spec's defaults)",
    )
    everl.set_defaults(func=_cmd_export_verl)


def _add_feedback(sub: "argparse._SubParsersAction") -> None:
    fb = sub.add_parser("feedback", help="corrections on Kafka").add_subparsers(dest="feedback_command", required=True)
    fsend = fb.add_parser("send", help="send one correction")
    fsend.add_argument("--classifier", required=True)
    fsend.add_argument("--task", required=True)
    fsend.add_argument("--label", required=True, choices=list(LABELS), help="the corrected label")
    shot = fsend.add_mutually_exclusive_group(required=True)
    shot.add_argument("--image", help="screenshot file, sent inline")
    shot.add_argument("--image-uri", help="s3://bucket/key of the screenshot")
    fsend.add_argument("--windows", help='window evidence as JSON: [{"app", "title", "url", "focused"}]')
    fsend.add_argument("--predicted", choices=list(LABELS), help="what the classifier said")
    fsend.add_argument("--source", default="user", choices=["user", "judge", "reviewer"])
    fsend.add_argument("--id", help="idempotency id (default: a fresh one)")
    fsend.add_argument("--note")
    fsend.add_argument("--bootstrap", default=os.environ.get("ONTASK_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    fsend.add_argument("--topic", default="ontask.corrections")
    fsend.set_defaults(func=_cmd_feedback_send)
    fcollect = fb.add_parser(
        "collect",
        help="run a classifier's collector: Kafka -> validated, deduplicated, "
        "prioritised buffer in the store (and cycle datasets)",
    )
    fcollect.add_argument("--classifier", required=True)
    fcollect.add_argument("--store", required=True, help="s3://bucket/prefix or a folder")
    fcollect.add_argument("--bootstrap", default=os.environ.get("ONTASK_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    fcollect.add_argument("--topic", default="ontask.corrections")
    fcollect.add_argument("--buffer-size", type=int, default=10000)
    fcollect.add_argument("--cycle-every", type=int, default=100)
    fcollect.add_argument("--variants", type=int, default=10, help="variants per correction in a cycle")
    fcollect.add_argument("--cycles", action="store_true", help="also assemble cycle datasets when due")
    fcollect.add_argument("--replay-dataset", help="dataset whose training rows are replayed in each cycle")
    fcollect.add_argument(
        "--config",
        help="a TaskClassifier (or env:NAME): its feedback settings, cycles replaying its dataset, each "
        "written once the operator decided the previous one (what the operator's collector Deployment runs)",
    )
    fcollect.add_argument("--group-id", help="Kafka consumer group (default ontask-feedback-<classifier>)")
    fcollect.set_defaults(func=_cmd_feedback_collect)
    fschema = fb.add_parser("schema", help="print the correction message's JSON Schema")
    fschema.set_defaults(func=_cmd_feedback_schema)


def _add_eval(sub: "argparse._SubParsersAction") -> None:
    ev = sub.add_parser(
        "eval",
        help="evaluate students, the prompt baseline, the verifier and the hybrid side by side on a dataset version",
    )
    ev.add_argument("--model", action="append", help="student model URI (repeatable; none: the verifier alone)")
    ev.add_argument("--store", required=True, help="store of the dataset: a folder or s3://bucket/prefix")
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


def _add_monitor(sub: "argparse._SubParsersAction") -> None:
    mon = sub.add_parser("monitor", help="plot a classifier's training curves (PNG + HTML)")
    mon.add_argument("classifier")
    mon.add_argument("--store", required=True, help="a folder or s3://bucket/prefix")
    mon.add_argument("--out", default="out/monitor")
    mon.add_argument("--follow", action="store_true", help="redraw every --interval seconds")
    mon.add_argument("--interval", type=float, default=30.0)
    mon.set_defaults(func=_cmd_monitor)


def _add_serve(sub: "argparse._SubParsersAction") -> None:
    serve = sub.add_parser("serve", help="serve the student or the judge (KServe ModelServer, v1 and v2)")
    from ontask.serving.server import add_arguments as serve_arguments

    serve_arguments(serve)
    serve.set_defaults(func=_cmd_serve)


def _add_agent(sub: "argparse._SubParsersAction") -> None:
    agent = sub.add_parser("agent", help="the capture agent on an X11 desktop: answers, corrections, evidence")
    from ontask.agent.cli import add_arguments as agent_arguments

    agent_arguments(agent)


def _add_crd(sub: "argparse._SubParsersAction") -> None:
    crd = sub.add_parser("crd", help="print the TaskClassifier CRD generated from the models")
    crd.add_argument("--check", action="store_true", help="fail when the chart's CRD is stale")
    crd.set_defaults(func=_cmd_crd)


def build_parser() -> argparse.ArgumentParser:
    """The `ontask` command line: one subcommand per `_add_*` function above."""
    parser = argparse.ArgumentParser(prog="ontask", description="On-task / off-task screenshot classifiers.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_demo(sub)
    _add_operator(sub)
    _add_data(sub)
    _add_train(sub)
    _add_spec(sub)
    _add_export(sub)
    _add_feedback(sub)
    _add_eval(sub)
    _add_monitor(sub)
    _add_serve(sub)
    _add_agent(sub)
    _add_crd(sub)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors a user can fix. Imported only once one happened: a light command (the capture agent)
    must not load torch to be able to report an error."""
    from ontask.agent.client import PredictorError
    from ontask.agent.x11 import DesktopUnavailable
    from ontask.data.dataset import DatasetError
    from ontask.models.loading import CheckpointError
    from ontask.store import StoreError

    return (
        DatasetError,
        StoreError,
        CheckpointError,
        DesktopUnavailable,
        PredictorError,
        FileNotFoundError,
        ValueError,
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the `ontask` command."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except Exception as e:
        if not isinstance(e, _user_errors()):
            raise
        # Errors a user can fix: say what is wrong, without a traceback.
        print(f"ontask: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
