"""KServe predictors for screenshots: the request handling shared by the student and the judge
(v1 and v2 parsing, safe image intake, window evidence, metrics, logs), and the two models."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence, Union

import kserve
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse
from PIL import Image

from ontask.api import Instance, Prediction, RequestError, WindowInfo, instances_from_v1, instances_from_v2, v2_outputs
from ontask.images import ImageLimits, ImageRejected, decode_image, fitted_size, sha256
from ontask.labels import label_of
from ontask.models.classifier import PromptBaseline, StudentClassifier
from ontask.serving import metrics
from ontask.serving.batcher import MicroBatcher
from ontask.serving.disagreement import Check, DisagreementLoop
from ontask.store import StoreError
from ontask.store_paths import ReferenceRefused, confine_reference
from ontask.verify import builtin_verifier_config, score_windows
from ontask.verify.generic import needs_page_text, with_page_text

log = logging.getLogger("ontask.serving")


def _agent_windows(windows: Sequence[WindowInfo]) -> list[dict]:
    """A request's windows as the model and the verifier read them, without a page text the
    client sent: the prompt and the evidence call page text "read by OCR", so only this server's
    OCR sets it."""
    return [{k: v for k, v in w.wire().items() if k != "pageText"} for w in windows]


@dataclass
class Row:
    """One screenshot on its way through a predictor."""

    instance: Instance
    image: Image.Image
    raw: Optional[bytes]
    windows: Optional[list[dict]]
    evidence: str = "request"
    p_on_task: float = 0.5
    student_p_on_task: Optional[float] = None  # set when p_on_task is the hybrid


class ScreenshotPredictor(kserve.Model):
    """Shared request handling; subclasses implement `score(rows) -> [P(on-task)]` and `load()`."""

    def __init__(
        self,
        name: str,
        model_version: str,
        limits: ImageLimits = ImageLimits(),
        image_store=None,
        image_prefixes: tuple[str, ...] = (),
        ocr=None,
        max_batch: int = 8,
        max_wait_ms: float = 0.0,
    ):
        super().__init__(name)
        self.model_version, self.limits, self.image_store = model_version, limits, image_store
        self.image_prefixes = image_prefixes  # spec.feedback.screenshotUriPrefixes
        self._ocr = ocr
        self.batcher = MicroBatcher(self._score_batch, max_batch=max_batch, max_wait_ms=max_wait_ms)
        # The size the model resizes a (width, height) screenshot to, once a model is loaded that
        # says: a JPEG is then decoded only as large as that (decode_image's draft).
        self.model_size: Optional[Callable[[int, int], tuple[int, int]]] = None

    # --- subclass interface
    def score(self, rows: Sequence[Row]) -> list[float]:
        raise NotImplementedError

    def after(self, rows: Sequence[Row], predictions: Sequence[Prediction]) -> None:
        """Called after the response is ready (the student's disagreement loop hooks in here)."""

    # --- request path
    @property
    def ocr(self):
        if self._ocr is None:
            from ontask.verify.ocr import TitleReader

            self._ocr = TitleReader()
        return self._ocr

    def _score_batch(self, rows: Sequence[Row]) -> list[Row]:
        # One time budget for the whole batch: a batch of screenshots without windows answers
        # within it, whatever their number.
        deadline = None
        for row in rows:
            if row.windows is None:
                # No evidence from the capture agent: read title and URL bars from the pixels,
                # within the reader's pixel and time bounds.
                deadline = deadline or time.monotonic() + self.ocr.budget_s
                reading = self.ocr.read(row.image, deadline=deadline)
                row.windows = [{k: v for k, v in w.items() if not k.startswith("_")} for w in reading.windows]
                row.evidence = "ocr" if reading.complete else "ocr-partial"
            elif needs_page_text(row.windows):
                # The agent's focused title says little ("Untitled 1", "New Tab"): the page's own
                # text near its top, read from the pixels, says what it is.
                deadline = deadline or time.monotonic() + self.ocr.budget_s
                row.windows = with_page_text(row.windows, self.ocr.read(row.image, deadline=deadline).windows)
        metrics.BATCH_ROWS.labels(self.name).observe(len(rows))
        for row, p in zip(rows, self.score(rows)):
            row.p_on_task = p
        return list(rows)

    def _fetch(self, inst: Instance, i: int) -> tuple[Image.Image, Optional[bytes]]:
        name = f"instances[{i}].image"
        if inst.image_uri is not None:
            if self.image_store is None:
                raise RequestError(
                    f"{name}: s3:// references need the predictor's S3 settings (S3_ENDPOINT, AWS_ACCESS_KEY_ID, "
                    "AWS_SECRET_ACCESS_KEY; the bucket is the spec's storage.bucket)"
                )
            try:
                key = confine_reference(inst.image_uri, getattr(self.image_store, "bucket", None), self.image_prefixes)
            except ReferenceRefused as e:
                raise RequestError(f"{name}: {e}") from e
            try:
                data = self.image_store.get_bytes(key, max_bytes=self.limits.max_bytes)
            except StoreError as e:
                raise RequestError(f"{name}: {e}") from e
        else:
            data = inst.image_bytes()
        # Without window evidence the title bars are read from the pixels, and with a focused
        # title that says little its page's text: those need them all.
        whole = not inst.windows or needs_page_text(_agent_windows(inst.windows))
        return decode_image(data, name, self.limits, draft_to=None if whole else self.model_size), data

    def _rows(self, payload: Union[dict, InferRequest]) -> list[Row]:
        instances = instances_from_v2(payload) if isinstance(payload, InferRequest) else instances_from_v1(payload)
        rows = []
        pixels = 0
        for i, inst in enumerate(instances):
            image, raw = self._fetch(inst, i)
            pixels += image.width * image.height
            if pixels > self.limits.max_request_pixels:
                raise RequestError(
                    f"instances[0..{i}] hold {pixels:,} pixels, over the limit of "
                    f"{self.limits.max_request_pixels:,} per request: send fewer or smaller screenshots"
                )
            rows.append(Row(inst, image, raw, _agent_windows(inst.windows) if inst.windows else None))
        return rows

    async def predict(
        self, payload: Union[dict, InferRequest], headers: Optional[dict[str, str]] = None
    ) -> Union[dict, InferResponse]:
        t0 = time.perf_counter()
        try:
            # Decoding is CPU work: off the event loop, so health probes and other requests go on.
            rows = await asyncio.to_thread(self._rows, payload)
        except (RequestError, ImageRejected) as e:
            metrics.REQUESTS.labels(self.name, "invalid").inc()
            log.info(json.dumps({"event": "rejected", "model": self.name, "reason": str(e)[:300]}))
            raise InvalidInput(str(e)) from e
        try:
            rows = await self.batcher.submit(rows)
        except ValueError as e:
            # The batcher retries a failed batch row by row, so this failed on this request's own
            # rows (the processor refuses text or pixels it cannot encode): the caller's 400, and
            # the requests batched with it were answered.
            metrics.REQUESTS.labels(self.name, "invalid").inc()
            log.info(json.dumps({"event": "rejected", "model": self.name, "reason": str(e)[:300]}))
            raise InvalidInput(f"the model could not encode this request: {str(e)[:300]}") from e
        except Exception:
            metrics.REQUESTS.labels(self.name, "error").inc()
            raise
        latency = time.perf_counter() - t0
        predictions = [
            Prediction(
                label=label_of(r.p_on_task),
                p_on_task=round(r.p_on_task, 6),
                confidence=round(max(r.p_on_task, 1 - r.p_on_task), 6),
                model_version=self.model_version,
                evidence=r.evidence,
                latency_ms=round(latency * 1000, 2),
                student_p_on_task=None if r.student_p_on_task is None else round(r.student_p_on_task, 6),
            )
            for r in rows
        ]
        metrics.REQUESTS.labels(self.name, "ok").inc()
        metrics.LATENCY.labels(self.name).observe(latency)
        for p in predictions:
            metrics.LABELS.labels(self.name, p.label).inc()
            metrics.EVIDENCE.labels(self.name, p.evidence).inc()
        # Structured log: what was decided and how fast; never the image, never the task text.
        log.info(
            json.dumps(
                {
                    "event": "predicted",
                    "model": self.name,
                    "version": self.model_version,
                    "n": len(rows),
                    "labels": [p.label for p in predictions],
                    "evidence": [p.evidence for p in predictions],
                    "latency_ms": round(latency * 1000, 1),
                }
            )
        )
        self.after(rows, predictions)
        if isinstance(payload, InferRequest):
            outputs = [InferOutput(o["name"], o["shape"], o["datatype"], o["data"]) for o in v2_outputs(predictions)]
            return InferResponse(
                response_id=payload.id or "",
                model_name=self.name,
                infer_outputs=outputs,
                model_version=self.model_version,
            )
        return {"predictions": [p.wire() for p in predictions]}


class StudentPredictor(ScreenshotPredictor):
    """The student: one forward pass per batch; low-confidence answers go to the judge loop."""

    def __init__(
        self,
        name: str,
        model_uri: str,
        model_version: str,
        classifier: str,
        max_pixels: Optional[int] = None,
        judge_below: float = 0.7,
        disagreement: Optional[DisagreementLoop] = None,
        s3=None,
        **kwargs: Any,
    ):
        super().__init__(name, model_version, **kwargs)
        self.model_uri, self.classifier, self.max_pixels, self.s3 = model_uri, classifier, max_pixels, s3
        self.judge_below, self.disagreement = judge_below, disagreement
        self.student: Optional[StudentClassifier] = None

    def load(self) -> bool:
        from ontask.models.loading import accelerator

        device, dtype = accelerator()  # the GPU in bf16 when the pod has one
        self.student = StudentClassifier.load(
            self.model_uri, max_pixels=self.max_pixels, device=device, dtype=dtype, s3=self.s3
        )
        image_processor = self.student.processor.image_processor
        self.model_size = lambda w, h: fitted_size(w, h, image_processor)
        self.ready = True
        return self.ready

    def score(self, rows: Sequence[Row]) -> list[float]:
        assert self.student is not None
        p = self.student.p_on_task([r.image for r in rows], [r.instance.task for r in rows], [r.windows for r in rows])
        hybrid = self.student.hybrid
        if hybrid is None:
            return p
        rules = self.student.verifier_config  # the rules the model was trained with
        out = []
        for row, q in zip(rows, p):
            row.student_p_on_task = q
            v = score_windows(row.instance.task, row.windows, rules)[0] if row.windows else None
            out.append(hybrid.combine(q, v))
        return out

    def after(self, rows: Sequence[Row], predictions: Sequence[Prediction]) -> None:
        for row, p in zip(rows, predictions):
            if p.confidence >= self.judge_below:
                continue
            metrics.LOW_CONFIDENCE.labels(self.name).inc()
            if self.disagreement is None:
                continue
            self.disagreement.offer(
                Check(
                    classifier=self.classifier,
                    task=row.instance.task,
                    windows=row.windows,
                    image=row.raw if row.instance.image_uri is None else None,
                    image_uri=row.instance.image_uri,
                    student_label=p.label,
                    student_confidence=p.confidence,
                    model_version=self.model_version,
                    session_id=row.instance.session_id,
                    image_sha256=sha256(row.raw or b""),
                )
            )


class PromptBaselinePredictor(ScreenshotPredictor):
    """The prompt-engineering baseline behind the same API, for side-by-side measurements."""

    def __init__(
        self,
        name: str,
        model_uri: str,
        model_version: str,
        s3=None,
        max_new_tokens: Optional[int] = None,
        **kwargs: Any,
    ):
        super().__init__(name, model_version, **kwargs)
        self.model_uri, self.s3, self.baseline = model_uri, s3, None
        self.max_new_tokens = max_new_tokens

    def load(self) -> bool:
        from ontask.models.loading import accelerator

        device, dtype = accelerator()  # where the student would run: a fair race
        # The baseline model is no model of ontask's: its prompts read the built-in rules.
        self.baseline = PromptBaseline.load(
            self.model_uri, builtin_verifier_config(), self.max_new_tokens, s3=self.s3, device=device, dtype=dtype
        )
        image_processor = self.baseline.processor.image_processor  # decoded as for the student: a fair race
        self.model_size = lambda w, h: fitted_size(w, h, image_processor)
        self.ready = True
        return self.ready

    def score(self, rows: Sequence[Row]) -> list[float]:
        return self.baseline.p_on_task(
            [r.image for r in rows], [r.instance.task for r in rows], [r.windows for r in rows]
        )


class JudgePredictor(ScreenshotPredictor):
    """The judge behind the same request format (transformers on CPU; vLLM through the OpenAI
    backend on GPU), bidirectional and cached as the Judge does."""

    def __init__(self, name: str, judge_factory, model_version: str, **kwargs: Any):
        super().__init__(name, model_version, **kwargs)
        self.judge_factory = judge_factory
        self.judge = None

    def load(self) -> bool:
        self.judge = self.judge_factory()
        self.ready = True
        return self.ready

    def score(self, rows: Sequence[Row]) -> list[float]:
        from ontask.judge import JudgeInput

        inputs = [
            JudgeInput(r.image, r.instance.task, r.windows, image_sha256=sha256(r.raw) if r.raw else None) for r in rows
        ]
        return [j.p_on_task for j in self.judge.judge(inputs)]
