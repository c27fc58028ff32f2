"""`ontask data real-screens`: build the set once (cached), optionally write it as a dataset version."""

from __future__ import annotations

import argparse

from ontask.cli_inputs import store_uri


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `ontask data real-screens`; the command runs `run`."""
    parser.add_argument(
        "--out", type=store_uri, help="store to write the dataset version to: a folder or s3://bucket/prefix"
    )
    parser.add_argument("--name", default="real-screens", help="dataset name (with --out)")
    parser.add_argument("--rebuild", action="store_true", help="build again even when a cached set exists")
    parser.add_argument(
        "--looks",
        action="store_true",
        help="the grown set instead: the scenes shot again on other window managers, themes and screen sizes "
        "(ontask.realscreens.looks), whole ones held out for validation",
    )
    parser.add_argument("--smoke", action="store_true", help="with --looks: a handful of screens on four looks")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build (or find) the cached set and print where it is; with --out, prepare it as a version."""
    from ontask.cli_inputs import BadInput
    from ontask.realscreens.build import cached_set
    from ontask.realscreens.looks_build import cached_looks_set

    if args.smoke and not args.looks:
        raise BadInput("--smoke is a part of the grown set: give --looks too")
    if args.looks:
        folder = cached_looks_set(smoke=args.smoke, rebuild=args.rebuild)
    else:
        folder = cached_set(rebuild=args.rebuild)
    print(f"real-screens set: {folder}")
    if args.out:
        from ontask.data import prepare
        from ontask.store import open_store
        from ontask.store_paths import dataset_prefix

        m = prepare(folder / "manifest.jsonl", open_store(args.out), args.name).manifest
        print(
            f"wrote {args.out} {dataset_prefix(args.name, m['version'])}: {m['rows']} rows {m['splits']}, "
            f"labels {m['labels']}"
        )
    return 0
