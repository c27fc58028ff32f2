"""`ontask operator`: the Kubernetes operator."""

from __future__ import annotations

import argparse

from ontask.cli_inputs import http_url_or_off


def add_arguments(op: argparse.ArgumentParser) -> None:
    """`ontask operator`'s options."""
    scope = op.add_mutually_exclusive_group()
    scope.add_argument("--namespace", action="append", help="watch this namespace (repeatable)")
    scope.add_argument("--all-namespaces", action="store_true", help="watch all namespaces (default)")
    op.add_argument(
        "--liveness",
        type=http_url_or_off,
        default="http://0.0.0.0:8080/healthz",
        help="liveness endpoint URL ('' turns it off)",
    )
    op.add_argument("--metrics-port", type=int, default=0, help="serve Prometheus /metrics on this port (0: none)")
    op.add_argument("--standalone", action="store_true", help="no leader election between replicas")
    op.add_argument("--log-level", default="info")
    op.set_defaults(func=_cmd_operator)


def _cmd_operator(args: argparse.Namespace) -> int:
    from ontask.operator import run_operator
    from ontask.operator.settings import OperatorSettings

    settings = OperatorSettings.from_env()
    run_operator(
        settings,
        namespaces=args.namespace or (),
        liveness=args.liveness,
        standalone=args.standalone,
        log_level=settings.log_level or args.log_level,
        metrics_port=args.metrics_port,
    )
    return 0
