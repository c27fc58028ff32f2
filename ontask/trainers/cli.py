"""`ontask train`: GRPO training of the student on a dataset version, and for a sync cycle the
promotion gate afterwards."""

from __future__ import annotations

import argparse

from ontask.store import open_store


def add_arguments(train: argparse.ArgumentParser) -> None:
    """`ontask train`'s options."""
    train.add_argument(
        "--config",
        required=True,
        help="a TaskClassifier YAML (its spec sets the run), or the verl "
        "plan's task_classifier_grpo.yaml (see docs/verl.md)",
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


def _cmd_train(args: argparse.Namespace) -> int:
    import logging

    from ontask.interop.verl_config import load_spec
    from ontask.trainers.run import run_training

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    spec, verifier_config = load_spec(args.config)
    summary = run_training(
        spec,
        open_store(args.store),
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
        _gate(args, summary, spec)
    return 0


def _gate(args: argparse.Namespace, summary: dict, spec) -> None:
    """The cycle's promotion gate (ontask.evaluation.promotion), said in one line."""
    from ontask.evaluation.promotion import gate_candidate

    evaluation = gate_candidate(
        open_store(args.store),
        args.classifier,
        args.dataset,
        args.dataset_version,
        summary["model_uri"],
        summary["version"],
        args.compare_with,
        spec.serving,
    )
    decision = evaluation.decision
    print(
        f"evaluated against {args.compare_with} as served "
        f"({evaluation.candidate['answers']} vs {evaluation.serving['answers']}): {decision.reason} -> "
        f"{'promote' if decision.promote else 'keep the serving version'}"
    )
