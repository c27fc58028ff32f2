"""Running a predictor: KServe's ModelServer with a request-body limit in front, configured from
the command line (`ontask serve student|judge`) or by the operator's InferenceService."""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence

if TYPE_CHECKING:  # the settings read Kafka's, which a predictor's command line need not load
    from ontask.serving.settings import ServingSettings

DEFAULT_MAX_BODY = 16 * 1024 * 1024


async def _json_error(send, status: int, message: str, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    """Answer an ASGI request with `{"error": message}` and `status`, before the app sees it."""
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """ASGI middleware: a body larger than `max_bytes` is refused with 413 before it is read
    into memory (by its Content-Length, or while it streams when there is none)."""

    def __init__(self, app, max_bytes: int = DEFAULT_MAX_BODY):
        self.app, self.max_bytes = app, max_bytes

    async def _refuse(self, send, size: str) -> None:
        await _json_error(send, 413, f"request body of {size} bytes exceeds the limit of {self.max_bytes:,} bytes")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return await self._refuse(send, f"{int(length):,}")
        seen = 0
        started = False

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge()
            return message

        async def tracking_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(send, f"more than {self.max_bytes:,}")


class _TooLarge(Exception):
    pass


async def invalid_request(request, exc) -> Any:
    """A body that does not fit the route's schema (a v2 request without "inputs"): 400 with
    where and why, never the input itself. FastAPI's default echoes the input, and one that
    holds Infinity or NaN cannot be written back as JSON, which turned a client's error into a 500."""
    from fastapi.responses import JSONResponse

    parts = [f"{'.'.join(str(x) for x in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()[:5]]
    return JSONResponse(status_code=400, content={"error": "invalid request: " + "; ".join(parts)})


class Admission:
    """ASGI middleware in front of the prediction routes: at most `max_concurrent` requests are
    decoded and scored at once and `max_queued` more wait; any further request is answered 429
    with Retry-After at once, so a burst cannot grow the process past its memory or hold the
    readiness probe. Health, metadata and metrics routes are never held."""

    def __init__(
        self, app, max_concurrent: int = 4, max_queued: int = 32, retry_after_s: int = 1, max_wait_s: float = 10.0
    ):
        self.app, self.max_concurrent, self.max_queued = app, max_concurrent, max_queued
        self.retry_after, self.max_wait_s = retry_after_s, max_wait_s
        self._slots: Optional[asyncio.Semaphore] = None
        self._admitted = 0  # running + waiting

    @staticmethod
    def _is_prediction(scope) -> bool:
        path = scope.get("path", "")
        return scope.get("method") == "POST" and (path.endswith(":predict") or path.endswith("/infer"))

    async def _busy(self, send, status: int, why: str) -> None:
        await _json_error(
            send,
            status,
            f"busy: {why}; retry after {self.retry_after} s",
            [(b"retry-after", str(self.retry_after).encode())],
        )

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self._is_prediction(scope):
            return await self.app(scope, receive, send)
        if self._admitted >= self.max_concurrent + self.max_queued:
            await self._busy(send, 429, f"{self.max_concurrent} requests running and {self.max_queued} waiting")
            return
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_concurrent)
        self._admitted += 1
        try:
            try:
                await asyncio.wait_for(self._slots.acquire(), self.max_wait_s)
            except asyncio.TimeoutError:
                await self._busy(send, 503, f"waited {self.max_wait_s:g} s for one of {self.max_concurrent} slots")
                return
            try:
                await self.app(scope, receive, send)
            finally:
                self._slots.release()
        finally:
            self._admitted -= 1


# Health probes answer without a token: the kubelet and KServe's queue proxy carry none.
_PROBES = re.compile(r"^/(|v2|v2/health/(live|ready)|v1/models/[^/:]+|v2/models/[^/]+(/versions/[^/]+)?/ready)$")
# KServe's model repository extension: load and unload any model by name. A predictor serves the
# one model it was started with; a new version is a new revision, never a call from outside.
_ADMIN = re.compile(r"^/v2/repository(/|$)|:(load|unload)$|^/(docs|redoc|openapi\.json)(/|$)")


class RouteGuard:
    """ASGI middleware, outermost: refuses KServe's repository routes (403), `/metrics` when it is
    served on its own port (404), and, with a token, every route but the health probes unless the
    request carries `Authorization: Bearer <token>` (401). Refused before the body is read."""

    def __init__(self, app, token: Optional[str] = None, metrics_elsewhere: bool = False):
        self.app, self.metrics_elsewhere = app, metrics_elsewhere
        self._expected = f"Bearer {token}".encode() if token else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        if _ADMIN.search(path):
            return await _json_error(
                send, 403, f"{path} is refused: a predictor serves the model it was started with (no repository API)"
            )
        if path == "/metrics" and self.metrics_elsewhere:
            return await _json_error(send, 404, "/metrics is served on the predictor's metrics port")
        if self._expected is not None and not _PROBES.match(path):
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                why = "a wrong bearer token" if given else "no Authorization: Bearer token"
                return await _json_error(send, 401, f"unauthorized: {why}", [(b"www-authenticate", b"Bearer")])
        return await self.app(scope, receive, send)


def serve_metrics(port: int) -> None:
    """Prometheus /metrics (the predictor's and KServe's, one registry) on its own port, in a
    background thread: the prediction port then never shows the team's on/off-task rates."""
    from prometheus_client import start_http_server

    start_http_server(port)


def serve(
    models: list,
    http_port: int,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    workers: int = 1,
    max_concurrent: int = 4,
    max_queued: int = 32,
    max_queue_seconds: float = 10.0,
    token: Optional[str] = None,
    metrics_port: int = 0,
) -> None:
    """Load the models and serve them until SIGTERM (KServe's ModelServer; REST v1 and v2).
    With `token`, every route but the health probes needs it as a bearer token; with
    `metrics_port`, /metrics moves there. KServe's repository routes are always refused."""
    import kserve
    from fastapi.exceptions import RequestValidationError
    from kserve.model_server import app

    app.add_exception_handler(RequestValidationError, invalid_request)
    # Added last, runs first: a request over the queue is refused before its body is read, and
    # one without its token or for a refused route before it takes a place in the queue.
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(Admission, max_concurrent=max_concurrent, max_queued=max_queued, max_wait_s=max_queue_seconds)
    app.add_middleware(RouteGuard, token=token, metrics_elsewhere=bool(metrics_port))
    if metrics_port:
        serve_metrics(metrics_port)
    for m in models:
        m.load()
    kserve.ModelServer(http_port=http_port, enable_grpc=False, workers=workers).start(models)


def _image_store(settings: ServingSettings, bucket: Optional[str]):
    """The S3 bucket that s3:// screenshot references point into (`--store`'s, else the spec's
    storage.bucket, else the environment's), when S3 is configured."""
    if settings.s3 is None:
        return None
    from ontask.store import S3Store

    return S3Store(settings.s3, bucket or settings.image_bucket, create_bucket=False)


# Flags that override the spec's serving settings: flag -> (spec section, field).
SPEC_FLAGS = {
    "judge_below": ("serving", "judge_below_confidence"),
    "correction_min_confidence": ("serving", "correction_min_confidence"),
    "max_image_bytes": ("serving", "max_image_bytes"),
    "max_image_pixels": ("serving", "max_image_pixels"),
    "model_max_pixels": ("serving", "model_max_pixels"),
    "max_request_pixels": ("serving", "max_request_pixels"),
    "max_concurrent_requests": ("serving", "max_concurrent_requests"),
    "max_queued_requests": ("serving", "max_queued_requests"),
    "max_queue_seconds": ("serving", "max_queue_seconds"),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """`ontask serve`'s options; `main` runs it."""
    from ontask.cli_inputs import http_url, s3_bucket
    from ontask.judge.remote import add_judge_service_arguments

    p.add_argument(
        "role",
        choices=["student", "judge", "prompt-baseline"],
        help="prompt-baseline: the same model asked the judge's question, answering by free text (for comparison)",
    )
    p.add_argument(
        "--model-uri",
        required=True,
        help="folder, file:// or s3:// of the model (KServe mounts storageUri at /mnt/models)",
    )
    p.add_argument("--name", help="model name in the URL (default: the role)")
    p.add_argument("--model-version", help="version reported with each answer (default: the folder name)")
    p.add_argument("--classifier", default="default", help="TaskClassifier name (for judge corrections)")
    p.add_argument("--http-port", type=int, default=8080)
    p.add_argument(
        "--spec",
        help="a TaskClassifier (or its spec), or env:NAME: the serving settings and the feedback topic come "
        "from it (how the operator configures a predictor); the flags below override single settings",
    )
    p.add_argument(
        "--store",
        dest="store_bucket",
        metavar="STORE",
        type=s3_bucket,
        help="the classifier's store, s3://BUCKET[/PREFIX]: s3:// screenshot references must point into its "
        "bucket (default: the spec's storage.bucket with --spec, else ONTASK_S3_BUCKET; the operator passes the "
        "store it resolved: on a chart install, the chart's storage.bucket)",
    )
    p.add_argument("--judge-url", type=http_url, help="base URL of the judge service; enables the disagreement loop")
    p.add_argument("--namespace", help="the classifier's namespace, which the judge's corrections name")
    add_judge_service_arguments(p)
    p.add_argument(
        "--kafka-bootstrap", help="Kafka brokers for the judge's corrections (default: ONTASK_KAFKA_BOOTSTRAP)"
    )
    settings = "(default: the spec's, or the spec default)"
    p.add_argument(
        "--feedback-topic",
        help="topic of the judge's corrections (default: the spec's feedback.judgeTopic, else its feedback.topic)",
    )
    p.add_argument("--judge-below", type=float, help=f"serving.judgeBelowConfidence {settings}")
    p.add_argument("--correction-min-confidence", type=float, help=f"serving.correctionMinConfidence {settings}")
    p.add_argument("--max-image-bytes", type=int, help=f"serving.maxImageBytes {settings}")
    p.add_argument("--max-image-pixels", type=int, help=f"serving.maxImagePixels {settings}")
    p.add_argument("--model-max-pixels", type=int, help=f"serving.modelMaxPixels {settings}")
    p.add_argument("--max-request-pixels", type=int, help=f"serving.maxRequestPixels {settings}")
    p.add_argument("--max-concurrent-requests", type=int, help=f"serving.maxConcurrentRequests {settings}")
    p.add_argument("--max-queued-requests", type=int, help=f"serving.maxQueuedRequests {settings}")
    p.add_argument("--max-queue-seconds", type=float, help=f"serving.maxQueueSeconds {settings}")
    p.add_argument(
        "--max-new-tokens",
        type=int,
        help="prompt-baseline only: tokens it may generate (default: the longer label's and the end token, "
        "what a real instruction-tuned model's answer takes)",
    )
    p.add_argument(
        "--token-env",
        help="environment variable holding the bearer token every request but a health probe must carry "
        "(default ONTASK_PREDICT_TOKEN; unset or empty: no authentication; the operator sets it from "
        "spec.serving.tokenSecretRef)",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=0,
        help="serve Prometheus /metrics on this port and refuse it on the prediction port (0: on the prediction port)",
    )
    p.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY)
    p.add_argument("--max-batch", type=int, default=8)
    p.add_argument(
        "--max-wait-ms",
        type=float,
        default=0.0,
        help="how long a request waits for others to share its batch (0: only those already queued)",
    )
    p.set_defaults(func=main)


def resolve_settings(args: argparse.Namespace) -> argparse.Namespace:
    """Fill the unset serving flags from `--spec` (or the spec's defaults without one): one source
    of the settings, whichever way the predictor was started."""
    from ontask.api import FeedbackSpec, JudgeSpec, ServingSpec, load_spec_file

    if args.spec:
        spec = load_spec_file(args.spec)
        sections = {"serving": spec.serving, "feedback": spec.feedback}
        args.judge_settings = spec.judge  # the judge's mode and cache, on whichever side runs them
        args.image_bucket = spec.storage.bucket
    else:
        sections = {"serving": ServingSpec(), "feedback": FeedbackSpec()}
        args.judge_settings = JudgeSpec()
        args.image_bucket = None
    if getattr(args, "store_bucket", None):
        args.image_bucket = args.store_bucket
    args.image_prefixes = tuple(sections["feedback"].screenshot_uri_prefixes)
    if getattr(args, "feedback_topic", None) is None:
        args.feedback_topic = sections["feedback"].topic_for("judge")
    for flag, (section, field) in SPEC_FLAGS.items():
        if getattr(args, flag, None) is None:
            setattr(args, flag, getattr(sections[section], field))
    return args


def build_models(args: argparse.Namespace, settings: ServingSettings) -> list:
    """The predictor named by `args.role`, configured from the command line (and `--spec`) and
    the process's settings."""
    from ontask.images import ImageLimits
    from ontask.serving.predictor import JudgePredictor, PromptBaselinePredictor, StudentPredictor

    version = args.model_version or Path(args.model_uri.rstrip("/")).name
    common = dict(
        limits=ImageLimits(args.max_image_bytes, args.max_image_pixels, args.max_request_pixels),
        image_store=_image_store(settings, args.image_bucket),
        image_prefixes=args.image_prefixes,
        max_batch=args.max_batch,
        max_wait_ms=args.max_wait_ms,
    )
    if args.role == "judge":

        def judge_factory():
            from ontask.judge import Judge, JudgmentCache, TransformersBackend

            judge = args.judge_settings
            cache = JudgmentCache(capacity=10_000) if judge.cache else None
            return Judge(TransformersBackend.load(args.model_uri), cache, judge.mode.value)

        return [JudgePredictor(args.name or "judge", judge_factory, version, **common)]
    if args.role == "prompt-baseline":
        return [
            PromptBaselinePredictor(
                args.name or "prompt-baseline", args.model_uri, version, max_new_tokens=args.max_new_tokens, **common
            )
        ]
    loop = None
    if args.judge_url:
        bootstrap = settings.kafka.brokers(args.kafka_bootstrap)
        if not bootstrap:
            raise SystemExit("--judge-url needs --kafka-bootstrap (or ONTASK_KAFKA_BOOTSTRAP) to publish corrections")
        from ontask.judge.remote import judge_client
        from ontask.serving.disagreement import DisagreementLoop, kafka_publisher

        judge = args.judge_settings
        loop = DisagreementLoop(
            judge_client(
                args.judge_url,
                args.judge_runtime,
                args.judge_model,
                judge.mode.value,
                judge.cache,
                token=settings.bearer_token(),  # the judge of the same classifier takes the same token
            ),
            kafka_publisher(bootstrap, args.feedback_topic, settings.kafka.security),
            min_confidence=args.correction_min_confidence,
            model_name=args.name or "student",
            namespace=args.namespace,
        )
    return [
        StudentPredictor(
            args.name or "student",
            args.model_uri,
            version,
            args.classifier,
            max_pixels=args.model_max_pixels,
            judge_below=args.judge_below,
            disagreement=loop,
            **common,
        )
    ]


def main(args: argparse.Namespace) -> int:
    logging.getLogger("ontask.serving").setLevel(logging.INFO)
    from ontask.serving.settings import ServingSettings

    args = resolve_settings(args)
    settings = ServingSettings.from_env(token_env=args.token_env)
    serve(
        build_models(args, settings),
        args.http_port,
        args.max_body_bytes,
        max_concurrent=args.max_concurrent_requests,
        max_queued=args.max_queued_requests,
        max_queue_seconds=args.max_queue_seconds,
        token=settings.bearer_token(),
        metrics_port=args.metrics_port,
    )
    return 0
