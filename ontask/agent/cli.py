"""`ontask agent run|correct|windows`: the capture agent on a user's X11 or sway desktop."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time

from ontask.agent.capture import DEFAULT_MAX_PIXELS, CaptureRefused, Privacy, read_desktop, split_rules
from ontask.agent.settings import AgentSettings
from ontask.api.feedback import DEFAULT_TOPIC
from ontask.cli_inputs import BadInput, http_url, positive_seconds
from ontask.labels import LABELS


def _privacy(args: argparse.Namespace, settings: AgentSettings) -> Privacy:
    """The settings' never-capture rules, and the command line's added to them."""
    added = [rule for item in args.never_capture or [] for rule in split_rules(item)]
    never = settings.never_capture_rules() + added
    return Privacy.of(titles=not args.no_titles, never_capture=never, max_pixels=args.max_pixels)


def _notify(text: str) -> None:
    """A desktop notification through the freedesktop notification service's own client."""
    if shutil.which("notify-send"):
        subprocess.run(["notify-send", "--app-name=ontask", "ontask", text], check=False, timeout=5)


def _cmd_run(args: argparse.Namespace) -> int:
    from ontask.agent.client import PredictorError, plain_http_problem, predict, remember
    from ontask.agent.desktop import open_desktop

    settings = AgentSettings.from_env()
    predictor, token, folder = args.predictor or settings.predictor, settings.token(), settings.state_dir()
    if problem := plain_http_problem(predictor, token):
        raise BadInput(problem)
    privacy = _privacy(args, settings)
    with open_desktop(args.display) as desktop:
        while True:
            try:
                capture = read_desktop(desktop, privacy)
                answer = predict(predictor, args.model, args.task, capture, session_id=args.session_id, token=token)
                remember(answer, capture, folder)
                print(answer.line(), flush=True)
                if args.notify:
                    _notify(answer.line())
            except CaptureRefused as e:
                print(f"skipped: {e}", flush=True)
            except PredictorError as e:
                print(f"ontask agent: {e}", file=sys.stderr, flush=True)
                if args.once:
                    return 1
            if args.once:
                return 0
            time.sleep(args.every)


def _cmd_correct(args: argparse.Namespace) -> int:
    from ontask.agent.client import correction_of_last
    from ontask.feedback.producer import send
    from ontask.feedback.settings import LOCAL_BOOTSTRAP, KafkaSettings

    folder = AgentSettings.from_env().state_dir()
    correction = correction_of_last(args.classifier, args.label, folder, note=args.note, namespace=args.namespace)
    kafka = KafkaSettings.from_env()
    send(
        correction,
        bootstrap=kafka.brokers(args.bootstrap, LOCAL_BOOTSTRAP),
        topic=args.topic,
        security=kafka.security,
        timeout=args.timeout,
    )
    print(
        f"sent correction {correction.id}: {correction.predicted_label} -> {correction.corrected_label} "
        f"for {correction.addressee} to {args.topic}"
    )
    return 0


def _cmd_windows(args: argparse.Namespace) -> int:
    from ontask.agent.capture import visible_evidence
    from ontask.agent.desktop import open_desktop

    privacy = _privacy(args, AgentSettings.from_env())
    with open_desktop(args.display) as desktop:
        windows = [w.evidence() for w in desktop.windows() if not w.minimised]
    try:
        print(json.dumps(visible_evidence(windows, privacy), indent=1))
    except CaptureRefused as e:
        print(f"skipped: {e}")
    return 0


def add_arguments(agent: argparse.ArgumentParser) -> None:
    """The `agent` command's subcommands and their options."""
    sub = agent.add_subparsers(dest="agent_command", required=True)

    def desktop_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--display",
            help="read this X display (default: the session's desktop: sway's, over its IPC, where "
            "WAYLAND_DISPLAY and SWAYSOCK are set, else $DISPLAY)",
        )
        p.add_argument("--no-titles", action="store_true", help="send app names only, never window titles or URLs")
        p.add_argument(
            "--never-capture",
            action="append",
            metavar="APP[,APP]",
            help="apps (WM_CLASS, or the Wayland app_id) or title:REGEX never captured, added to the password "
            "managers (or to ONTASK_NEVER_CAPTURE): left out of the evidence, blanked in the screenshot, and no "
            "screenshot at all while one is focused (repeatable; a comma inside a title regex goes in parentheses)",
        )
        p.add_argument(
            "--max-pixels",
            type=int,
            default=DEFAULT_MAX_PIXELS,
            help="downscale the screenshot to at most this many pixels before it leaves the machine",
        )

    run = sub.add_parser("run", help="screenshot + window evidence every --every seconds, answered by the student")
    run.add_argument("--task", required=True, help="what you should be doing")
    run.add_argument(
        "--predictor",
        type=http_url,
        help="base URL of the student predictor (KServe v1; default: ONTASK_PREDICTOR, or http://127.0.0.1:8080)",
    )
    run.add_argument("--model", default="student", help="model name in the predictor's URL")
    run.add_argument("--every", type=float, default=60.0, help="seconds between captures")
    run.add_argument("--once", action="store_true", help="capture and answer once, then exit")
    run.add_argument("--notify", action="store_true", help="also show each answer as a desktop notification")
    run.add_argument("--session-id", help="capture session id, for the verifier's temporal smoothing")
    desktop_options(run)
    run.set_defaults(func=_cmd_run)

    correct = sub.add_parser("correct", help="correct the last answer: sends it to Kafka in the published schema")
    correct.add_argument("label", choices=list(LABELS), help="the right label")
    correct.add_argument("--classifier", required=True, help="the TaskClassifier the correction is for")
    correct.add_argument(
        "--namespace", help="its namespace: needed where classifiers of its name in other namespaces share the topic"
    )
    correct.add_argument("--bootstrap", help="Kafka brokers (default: ONTASK_KAFKA_BOOTSTRAP, or 127.0.0.1:9092)")
    correct.add_argument("--topic", default=DEFAULT_TOPIC)
    correct.add_argument(
        "--timeout",
        type=positive_seconds,
        default=30.0,
        help="seconds Kafka has to answer and take the correction (default 30)",
    )
    correct.add_argument("--note", help="free text for the reviewer")
    correct.set_defaults(func=_cmd_correct)

    windows = sub.add_parser("windows", help="print the window evidence the agent would send, as JSON")
    desktop_options(windows)
    windows.set_defaults(func=_cmd_windows)
