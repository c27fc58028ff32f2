"""`ontask feedback send|collect|schema`: corrections on Kafka, and a classifier's collector."""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from pathlib import Path
from typing import Optional

from pydantic import ValidationError

from ontask.api import (
    Correction,
    FeedbackSpec,
    load_spec_file,
    read_spec_document,
    spec_of_document,
    validation_problems,
)
from ontask.api.feedback import DEFAULT_TOPIC
from ontask.cli_inputs import BadInput, existing_file, positive_seconds, store_uri
from ontask.feedback.collector import Collector
from ontask.feedback.loop import CycleTrigger, run_feedback
from ontask.feedback.producer import make_correction, send
from ontask.feedback.settings import LOCAL_BOOTSTRAP, KafkaSettings
from ontask.feedback.signatures import normalise_key, user_key_from_env
from ontask.feedback.state import Counts
from ontask.labels import LABELS
from ontask.store import open_store

BOOTSTRAP_HELP = f"Kafka brokers (default: ONTASK_KAFKA_BOOTSTRAP, or {LOCAL_BOOTSTRAP})"

# The correction's fields as `feedback send`'s flags: a field the message refuses is named as typed.
SEND_FLAGS = {
    "classifier": "--classifier",
    "task": "--task",
    "corrected_label": "--label",
    "screenshot_base64": "--image",
    "screenshot_uri": "--image-uri",
    "windows": "--windows",
    "predicted_label": "--predicted",
    "source": "--source",
    "id": "--id",
    "note": "--note",
    "user_id": "--user-id",
    "namespace": "--namespace",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`ontask feedback`'s subcommands."""
    fb = parser.add_subparsers(dest="feedback_command", required=True)
    fsend = fb.add_parser("send", help="send one correction")
    fsend.add_argument("--classifier", required=True)
    fsend.add_argument(
        "--namespace",
        help="the classifier's namespace (default: --config's metadata.namespace): needed where classifiers of "
        "one name in several namespaces share the topic",
    )
    fsend.add_argument("--task", required=True)
    fsend.add_argument("--label", required=True, choices=list(LABELS), help="the corrected label")
    shot = fsend.add_mutually_exclusive_group(required=True)
    shot.add_argument("--image", type=existing_file, help="screenshot file, sent inline")
    shot.add_argument("--image-uri", help="s3://bucket/key of the screenshot")
    fsend.add_argument(
        "--windows", type=_json_list, default=[], help='window evidence as JSON: [{"app", "title", "url", "focused"}]'
    )
    fsend.add_argument("--predicted", choices=list(LABELS), help="what the classifier said")
    fsend.add_argument("--source", default="user", choices=["user", "judge", "reviewer"])
    fsend.add_argument("--id", help="idempotency id (default: a fresh one)")
    fsend.add_argument("--user-id", help="who made the correction (feedback.reviewers, maxCorrectionsPerUser)")
    fsend.add_argument("--note")
    fsend.add_argument(
        "--user-key-file",
        type=existing_file,
        help="sign --user-id with the classifier's user key (feedback.userKeySecretRef), read from this file "
        "(one trailing newline ignored)",
    )
    fsend.add_argument("--bootstrap", help=BOOTSTRAP_HELP)
    fsend.add_argument(
        "--timeout",
        type=positive_seconds,
        default=30.0,
        help="seconds Kafka has to answer and take the correction (default 30)",
    )
    fsend.add_argument(
        "--config",
        help="the classifier's TaskClassifier (or env:NAME): the correction goes to its feedback.topic, a "
        "reviewer's to its feedback.reviewTopic and the judge's to its feedback.judgeTopic when it names them",
    )
    fsend.add_argument("--topic", help=f"the topic to send to (default: from --config, or {DEFAULT_TOPIC})")
    fsend.set_defaults(func=_cmd_send)
    fcollect = fb.add_parser(
        "collect",
        help="run a classifier's collector: Kafka -> validated, deduplicated, "
        "prioritised buffer in the store (and cycle datasets)",
    )
    fcollect.add_argument("--classifier", required=True)
    fcollect.add_argument(
        "--namespace", help="the classifier's namespace: corrections that name another are not its own"
    )
    fcollect.add_argument("--store", type=store_uri, required=True, help="s3://bucket/prefix or a folder")
    fcollect.add_argument("--bootstrap", help=BOOTSTRAP_HELP)
    fcollect.add_argument("--topic", default=DEFAULT_TOPIC)
    fcollect.add_argument(
        "--review-topic", help="also read reviewers' corrections from this topic (only there is one a reviewer's)"
    )
    fcollect.add_argument(
        "--judge-topic", help="also read the judge's corrections from this topic (only there is one the judge's)"
    )
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
    fcollect.set_defaults(func=_cmd_collect)
    fschema = fb.add_parser("schema", help="print the correction message's JSON Schema")
    fschema.set_defaults(func=_cmd_schema)


def _json_list(text: str) -> list:
    """An argparse type: a JSON list (argparse names the flag in its message)."""
    try:
        value = json.loads(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not JSON ({e})") from None
    if not isinstance(value, list):
        raise argparse.ArgumentTypeError("a JSON list of windows, [{...}, ...], is expected")
    return value


def _user_key(path: Optional[str]) -> Optional[bytes]:
    if path is None:
        return None
    key = normalise_key(Path(path).read_bytes())
    if not key:
        raise BadInput(f"--user-key-file {path}: the file is empty")
    return key


def _cmd_send(args: argparse.Namespace) -> int:
    if args.user_key_file and not args.user_id:
        raise BadInput("--user-key-file signs the --user-id: give --user-id too")
    windows = args.windows
    image = Path(args.image).read_bytes() if args.image else None
    doc = read_spec_document(args.config) if args.config else {}
    meta = doc.get("metadata")
    namespace = args.namespace or (meta.get("namespace") if isinstance(meta, dict) else None)
    try:
        correction = make_correction(
            args.classifier,
            args.task,
            args.label,
            image=image,
            image_uri=args.image_uri,
            id=args.id,
            source=args.source,
            user_id=args.user_id,
            windows=windows,
            predicted_label=args.predicted,
            note=args.note,
            namespace=namespace,
            user_key=_user_key(args.user_key_file),
        )
    except ValidationError as e:
        said = "; ".join(validation_problems(e, names=SEND_FLAGS))
        raise BadInput(f"{said}; see `ontask feedback send --help`") from None
    if args.topic:
        topic = args.topic
    elif args.config:
        topic = spec_of_document(doc, args.config).feedback.topic_for(correction.source)
    else:
        topic = DEFAULT_TOPIC
    kafka = KafkaSettings.from_env()
    send(
        correction,
        bootstrap=kafka.brokers(args.bootstrap, LOCAL_BOOTSTRAP),
        topic=topic,
        security=kafka.security,
        timeout=args.timeout,
    )
    print(f"sent correction {correction.id} for {correction.addressee} to {topic}")
    return 0


def _cmd_collect(args: argparse.Namespace) -> int:
    if args.config:
        # A classifier's collector (the operator's Deployment): everything from its spec; cycles
        # replay its own dataset, one at a time, each once the operator decided the previous.
        spec = load_spec_file(args.config).feedback
        trigger = CycleTrigger(args.classifier)
    else:
        spec = FeedbackSpec(
            topic=args.topic,
            review_topic=args.review_topic,
            judge_topic=args.judge_topic,
            buffer_size=args.buffer_size,
            cycle_every=args.cycle_every,
            variants_per_correction=args.variants,
        )
        trigger = CycleTrigger(args.replay_dataset, operator_decides=False) if args.cycles else None
    kafka = KafkaSettings.from_env()
    collector = Collector(
        args.classifier,
        spec,
        open_store(args.store),
        kafka.brokers(args.bootstrap, LOCAL_BOOTSTRAP),
        group_id=args.group_id,
        security=kafka.security,
        user_key=user_key_from_env(spec.user_key_secret_ref, os.environ),
        namespace=args.namespace,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    printed: list[Optional[Counts]] = [None]  # the counts as last printed

    def cycle_written(marker: dict) -> None:
        print(json.dumps({"event": "cycle", **{k: marker[k] for k in ("cycle", "dataset", "version")}}), flush=True)

    def counted(counts: Counts) -> None:
        if counts != printed[0]:
            printed[0] = counts.model_copy()
            print(json.dumps({"event": "batch", **counts.model_dump()}), flush=True)

    run_feedback(collector, stop, trigger, on_cycle=cycle_written, on_counts=counted)
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(Correction.model_json_schema(by_alias=True), indent=2))
    return 0
