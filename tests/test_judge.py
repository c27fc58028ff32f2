"""The VLM judge: bidirectional averaging, content cache (memory and real S3), backends."""

import uuid

import pytest
import torch

from ontask.data.generate import example_at
from ontask.judge import (
    Judge,
    JudgeInput,
    JudgeInputError,
    JudgmentCache,
    OpenAIBackend,
    ScoreRequest,
    TransformersBackend,
)
from ontask.store import S3Store


class FirstOptionBiasedScorerForTests:
    """A deliberately biased stand-in for a judge model (tests only): it knows the truth
    (p_true of on-task) but adds `bias` toward whichever option the question names first."""

    def __init__(self, p_true: float, bias: float):
        self.p_true, self.bias = p_true, bias
        self.model_id, self.forward_passes = "biased-test-scorer", 0

    def score(self, requests):
        self.forward_passes += 1
        out = []
        for r in requests:
            on_first = r.text.index("on-task or off-task") if "on-task or off-task" in r.text else None
            p_on = self.p_true + (self.bias if on_first is not None else -self.bias)
            out.append(min(1.0, max(0.0, p_on)) if r.options[0] == "on-task" else 1 - p_on)
        return out


@pytest.mark.parametrize("p_true, bias", [(0.5, 0.4), (0.8, 0.15), (0.3, 0.2)])
def test_bidirectional_averaging_cancels_a_first_option_bias(p_true, bias):
    judge = Judge(FirstOptionBiasedScorerForTests(p_true, bias))
    ex = example_at(0, 0)
    [j] = judge.judge([JudgeInput(ex.image, ex.task, ex.windows)])
    assert j.p_forward == pytest.approx(p_true + bias)
    assert j.p_swapped == pytest.approx(p_true - bias)
    assert j.p_on_task == pytest.approx(p_true)


@pytest.fixture(scope="module")
def tiny_backend(tiny_vlm):
    return TransformersBackend.load(str(tiny_vlm(3)))


def test_transformers_backend_reads_the_answer_logits(tiny_backend):
    ex = example_at(0, 1)
    probs = tiny_backend.score(
        [
            ScoreRequest(ex.image, "Task: x\nIs the person on-task or off-task?", ("on-task", "off-task")),
            ScoreRequest(ex.image, "Task: x\nIs the person on-task or off-task?", ("off-task", "on-task")),
        ]
    )
    assert 0 < probs[0] < 1
    assert probs[0] + probs[1] == pytest.approx(1.0, abs=1e-6)  # the same two logits, either way round


def test_a_cache_hit_costs_no_forward_pass(tiny_backend):
    judge = Judge(tiny_backend, JudgmentCache(capacity=100))
    ex = example_at(1, 2)
    x = JudgeInput(ex.image, ex.task, ex.windows)
    before = tiny_backend.forward_passes
    first = judge.judge([x])[0]
    assert tiny_backend.forward_passes == before + 1 and not first.cached
    again = judge.judge([JudgeInput(ex.image.copy(), ex.task, ex.windows)])[0]
    assert tiny_backend.forward_passes == before + 1 and again.cached
    assert again.p_on_task == first.p_on_task
    assert judge.cache.hits == 1 and judge.cache.misses == 1


def test_persistent_cache_in_real_s3_survives_a_restart(tiny_backend, s3_config):
    store = S3Store(s3_config, f"judge-{uuid.uuid4().hex[:8]}")
    ex = example_at(2, 3)
    x = JudgeInput(ex.image, ex.task, ex.windows)
    p = Judge(tiny_backend, JudgmentCache(store=store)).judge([x])[0].p_on_task
    before = tiny_backend.forward_passes
    fresh = Judge(tiny_backend, JudgmentCache(store=store))  # a new process: empty LRU, same store
    j = fresh.judge([x])[0]
    assert j.cached and j.p_on_task == p and tiny_backend.forward_passes == before


def test_preference_and_pointwise_modes(tiny_backend):
    ex = example_at(3, 4)
    x = JudgeInput(ex.image, ex.task, ex.windows)
    pref = Judge(tiny_backend, mode="preference")
    p_on = pref.answer_probability(x, "on-task")
    assert p_on + pref.answer_probability(x, "off-task") == pytest.approx(1.0)
    assert pref.answer_probability(x, "maybe") == 0.0
    point = Judge(tiny_backend, JudgmentCache(), mode="pointwise")
    assert 0 < point.answer_probability(x, "on-task") < 1


def test_bad_input_is_refused_with_a_message(tiny_backend):
    from ontask.images import ImageRejected

    with pytest.raises(ImageRejected, match="upload.png: not an image"):
        JudgeInput.from_bytes(b"definitely not a png", "Answer refunds", name="upload.png")
    with pytest.raises(ImageRejected, match="broken or truncated"):
        import io

        buf = io.BytesIO()
        example_at(0, 0).image.save(buf, format="PNG")
        JudgeInput.from_bytes(buf.getvalue()[:500], "Answer refunds")
    judge = Judge(tiny_backend)
    ex = example_at(0, 0)
    with pytest.raises(JudgeInputError, match="empty task"):
        judge.judge([JudgeInput(ex.image, "  ")])
    with pytest.raises(ValueError, match="judge mode"):
        Judge(tiny_backend, mode="ranking")


def test_openai_response_parsing_follows_vllm_logprobs_shape():
    response = {
        "choices": [
            {
                "logprobs": {
                    "content": [
                        {
                            "token": "on",
                            "logprob": -0.2,
                            "top_logprobs": [
                                {"token": "on", "logprob": -0.2},
                                {"token": "off", "logprob": -1.8},
                                {"token": "The", "logprob": -4.0},
                            ],
                        }
                    ]
                }
            }
        ]
    }
    p = OpenAIBackend.parse(response, ("on-task", "off-task"))
    assert p == pytest.approx(1 / (1 + torch.exp(torch.tensor(-1.6)).item()), rel=1e-6)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (runs on the device machine)")
def test_vllm_server_judge_agrees_with_transformers_on_gpu(tiny_vlm):
    """vLLM's OpenAI-compatible server with logprobs gives the verdict transformers gives."""
    import subprocess
    import sys
    import time
    import urllib.request

    pytest.importorskip("vllm", reason="vllm is installed only where a GPU is (pip install '.[full,vllm]')")
    from ontask.operator.local import free_port

    folder = tiny_vlm()
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            str(folder),
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--max-model-len",
            "4096",
            "--max-logprobs",
            "20",
            "--gpu-memory-utilization",
            "0.3",
        ]
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(2)
        ex = example_at(0, 0)
        x = JudgeInput(ex.image, ex.task, ex.windows)
        p_vllm = Judge(OpenAIBackend(f"http://127.0.0.1:{port}", str(folder))).judge([x])[0].p_on_task
        p_tf = Judge(TransformersBackend.load(str(folder), device="cuda")).judge([x])[0].p_on_task
        assert p_vllm == pytest.approx(p_tf, abs=0.05)
    finally:
        server.terminate()
        server.wait(timeout=60)


def test_judge_clients_speak_the_protocol_of_the_judges_runtime():
    """transformers: `ontask serve judge`'s KServe v1 route; vllm: KServe's Hugging Face runtime's
    OpenAI routes under /openai, with the order swap, the mode and the cache on the caller's side."""
    from ontask.judge.remote import HttpJudgeClient, OpenAIJudgeClient, judge_client

    v1 = judge_client("http://c-judge-predictor.ns/", "transformers")
    assert isinstance(v1, HttpJudgeClient) and v1.url == "http://c-judge-predictor.ns/v1/models/judge:predict"
    openai = judge_client("http://c-judge-predictor.ns", "vllm", "judge", mode="pointwise", cache=False)
    assert isinstance(openai, OpenAIJudgeClient)
    assert openai.judge.backend.base_url == "http://c-judge-predictor.ns/openai"
    assert (openai.judge.mode, openai.judge.cache) == ("pointwise", None)
    with pytest.raises(ValueError, match="runtime"):
        judge_client("http://x", "tgi")
