"""`ontask data generate|prepare`: synthetic screenshots and dataset versions."""

from __future__ import annotations

import argparse
import os
import sys

from ontask.store import open_store
from ontask.store_paths import dataset_prefix

# Flags that override the spec's settings: flag -> (spec section, field). Unset, they come from
# --config's spec, or the spec's defaults without one (as the data Job runs: --config env:...).
SPEC_FLAGS = {
    "n": ("data", "synthetic_rows"),
    "other_task_twins": ("data", "other_task_twins"),
    "validation_share": ("data", "validation_share"),
    "judge_weight": ("data", "judge_label_weight"),
    "min_confidence": ("data", "min_label_confidence"),
    "judge_mode": ("judge", "mode"),
    "judge_cache": ("judge", "cache"),
}
_SPEC_DEFAULT = "(default: the spec's, or the spec default)"


def _config_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        help="a TaskClassifier (or its spec), or env:NAME: the settings below come from its spec.data and "
        "spec.judge (how the operator's data Job runs); a flag given overrides its setting",
    )


def _validation_share_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--validation-share",
        type=float,
        help=f"spec.data.validationShare: the share of rows held out for validation {_SPEC_DEFAULT}",
    )


def add_arguments(parser: argparse.ArgumentParser) -> "argparse._SubParsersAction":
    """`ontask data`'s subcommands; returns them, for one that lives elsewhere to join."""
    data = parser.add_subparsers(dest="data_command", required=True)
    gen = data.add_parser("generate", help="render a seeded synthetic dataset as a new version")
    _config_argument(gen)
    gen.add_argument("--n", type=int, help=f"rows: spec.data.syntheticRows {_SPEC_DEFAULT}")
    gen.add_argument("--seed", type=int, default=0)
    _validation_share_argument(gen)
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
    gen.set_defaults(func=_cmd_generate)
    prep = data.add_parser("prepare", help="turn a folder or JSONL manifest of screenshots into a version")
    prep.add_argument("source", help="a folder of images (with manifest.jsonl or --task), or a .jsonl manifest")
    prep.add_argument("--task", help="the task of every screenshot in a folder without a manifest")
    prep.add_argument("--out", default="out/store", help="store: a folder or s3://bucket/prefix")
    prep.add_argument("--name", required=True, help="dataset name")
    _config_argument(prep)
    judge = prep.add_mutually_exclusive_group()
    judge.add_argument("--judge", help="label unlabelled rows with this judge model, in-process (folder or s3:// URI)")
    judge.add_argument(
        "--judge-url", help="label unlabelled rows with the judge service at this base URL (a judge InferenceService)"
    )
    from ontask.judge.remote import add_judge_service_arguments

    add_judge_service_arguments(prep)
    prep.add_argument(
        "--judge-mode",
        help="spec.judge.mode (preference or pointwise), where the judge runs in this process "
        f"(--judge, or --judge-url with vllm) {_SPEC_DEFAULT}",
    )
    prep.add_argument(
        "--judge-cache",
        action=argparse.BooleanOptionalAction,
        help=f"spec.judge.cache: --no-judge-cache judges every row anew {_SPEC_DEFAULT}",
    )
    prep.add_argument("--verifier", action="store_true", help="label unlabelled rows with the rule-based verifier")
    prep.add_argument(
        "--other-task-twins",
        action=argparse.BooleanOptionalAction,
        help="spec.data.otherTaskTwins: each on-task row with window evidence also gets its off-task twin, "
        f"the same pixels with a library task no window names {_SPEC_DEFAULT}",
    )
    _validation_share_argument(prep)
    prep.add_argument(
        "--judge-weight",
        type=float,
        help=f"spec.data.judgeLabelWeight: the judge's weight when both label {_SPEC_DEFAULT}",
    )
    prep.add_argument(
        "--min-confidence",
        type=float,
        help=f"spec.data.minLabelConfidence: rows less sure than this stay unlabelled {_SPEC_DEFAULT}",
    )
    prep.set_defaults(func=_cmd_prepare)
    return data


def resolve_settings(args: argparse.Namespace) -> argparse.Namespace:
    """Fill the unset flags of SPEC_FLAGS from --config's spec (or the spec's defaults without
    one): one source of the settings, whether the operator or a person runs the command."""
    from ontask.api import DataSpec, JudgeSpec, load_spec_file

    spec = load_spec_file(args.config) if args.config else None
    models = {"data": DataSpec, "judge": JudgeSpec}
    for flag, (section, field) in SPEC_FLAGS.items():
        if hasattr(args, flag) and getattr(args, flag) is None:
            if spec is not None:
                value = getattr(getattr(spec, section), field)
            else:
                value = models[section].model_fields[field].default
            setattr(args, flag, value.value if hasattr(value, "value") else value)
    return args


def _cmd_generate(args: argparse.Namespace) -> int:
    from ontask.data import contact_sheet, generate, write_version
    from ontask.data.generate import focused_kind

    args = resolve_settings(args)
    store = open_store(args.out)
    examples = generate(args.n, seed=args.seed, contrastive=args.contrastive, val_fraction=args.validation_share)
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
        made_by={
            "command": "generate",
            "n": args.n,
            "seed": args.seed,
            "contrastive": args.contrastive,
            "validation_share": args.validation_share,
        },
        progress=True,
    )
    where = store.uri(dataset_prefix(args.name, manifest["version"]))
    print(
        f"wrote {where}: {manifest['rows']} rows "
        f"{manifest['splits']}, labels {manifest['labels']}, {manifest['hard_rows']} hard cases"
    )
    return 0


def _cmd_prepare(args: argparse.Namespace) -> int:
    from ontask.data import prepare

    args = resolve_settings(args)
    labeller = None
    if args.judge or args.verifier:
        from ontask.data.labelling import judge_verifier_labeller

        judge = verifier = None
        cache = args.judge_cache
        if args.judge:
            from ontask.judge import Judge, JudgmentCache, TransformersBackend

            judge = Judge(TransformersBackend.load(args.judge), JudgmentCache() if cache else None, args.judge_mode)
        elif args.judge_url:
            from ontask.api.serving import PREDICT_TOKEN_ENV
            from ontask.judge.remote import judge_client

            # The operator sets the judge predictor's token (spec.serving.tokenSecretRef) on the data Job.
            token = os.environ.get(PREDICT_TOKEN_ENV) or None
            judge = judge_client(
                args.judge_url, args.judge_runtime, args.judge_model, args.judge_mode, cache, token=token
            )
        if judge is not None:
            from ontask.judge.remote import image_judge

            judge = image_judge(judge)
        if args.verifier:
            from ontask.verify import Verifier, builtin_verifier_config

            verifier = Verifier(builtin_verifier_config())  # a dataset belongs to no model yet
        labeller = judge_verifier_labeller(judge, verifier, args.judge_weight, args.min_confidence)
    result = prepare(
        args.source,
        open_store(args.out),
        args.name,
        task=args.task,
        labeller=labeller,
        progress=True,
        other_task_twins=args.other_task_twins,
        val_fraction=args.validation_share,
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
