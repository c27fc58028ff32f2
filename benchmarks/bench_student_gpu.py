"""Student prediction latency on a GPU for the real Qwen2.5-VL-3B architecture (random weights,
bf16): ONE forward pass for the label (the two answers' logits, as StudentClassifier reads
them) vs the "prompt engineering" baseline that generates the label as text, same weights, same
1280x800 screenshot, and the same model inputs on both sides: the prompt the student and the
judge are asked (window evidence, task, question; its length in tokens is printed), encoded
once before the clock. The baseline generates the tokens a real instruction-tuned model's
answer takes (the longer label's and the end token; forced, as random weights stop anywhere),
and 16 tokens in a row beside it, labelled. At several pixel budgets (`max_pixels`, what
serving.modelMaxPixels sets: from Qwen's own default, which keeps the screenshot whole, down to
313,600 pixels; image tokens printed) and, for the student, a batch of 8 at 602,112 pixels per
request: in-process, no HTTP.

On a machine without CUDA it measures nothing and prints the last GPU run's figures, marked
stale: their date, machine and commit, and the changes since to the code they measure. A run on
a GPU records its table in benchmarks/recorded/ (commit it). Run alone with
`python -m benchmarks bench_student_gpu`.
"""

from __future__ import annotations

import statistics
import time

from benchmarks import NotRun
from benchmarks.recorded import print_stale, record

RUNS = 30
PIXEL_BUDGETS = (12845056, 1003520, 602112, 313600)
# What the figures depend on: a change here since the recorded run makes them stale.
WATCHED = ("ontask/models", "ontask/serving", "benchmarks/bench_student_gpu.py")
TASK = "Fix the failing unit test in the payment service"
WINDOWS = [
    {"app": "Visual Studio Code", "title": "payment_service.py - Visual Studio Code", "focused": True},
    {"app": "Firefox", "title": "CI run #4411 failed - GitHub", "url": "https://github.com/acme/pay/actions"},
]


def _config_3b(tokenizer):
    from transformers import Qwen2_5_VLConfig

    ids = {
        t: tokenizer.convert_tokens_to_ids(t)
        for t in ("<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>", "<|im_end|>", "<|endoftext|>")
    }
    # Qwen2.5-VL-3B-Instruct's published dimensions.
    text = dict(
        vocab_size=151936,
        hidden_size=2048,
        intermediate_size=11008,
        num_hidden_layers=36,
        num_attention_heads=16,
        num_key_value_heads=2,
        max_position_embeddings=128000,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]},
        tie_word_embeddings=True,
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
    )
    vision = dict(
        depth=32,
        hidden_size=1280,
        intermediate_size=3420,
        num_heads=16,
        patch_size=14,
        spatial_merge_size=2,
        temporal_patch_size=2,
        window_size=112,
        out_hidden_size=2048,
        fullatt_block_indexes=[7, 15, 23, 31],
    )
    return Qwen2_5_VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
    )


def _screenshot():
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (1280, 800), (36, 40, 52))
    d = ImageDraw.Draw(img)
    d.rectangle((80, 60, 1200, 740), fill=(250, 250, 250))
    d.rectangle((80, 60, 1200, 90), fill=(225, 228, 232))
    d.text((100, 68), "payment_service.py - Visual Studio Code", fill=(20, 20, 20))
    for i in range(30):
        d.text((120, 110 + 20 * i), f"{i:>3}  def charge(card, amount):  # line {i}", fill=(30, 30, 30))
    return img


def run() -> NotRun | None:
    import torch

    if not torch.cuda.is_available():
        return print_stale("bench_student_gpu", WATCHED, "no CUDA GPU here")
    from transformers import Qwen2_5_VLForConditionalGeneration

    from ontask.models.tiny import TinySize, build_processor, build_tokenizer

    tokenizer = build_tokenizer()
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = Qwen2_5_VLForConditionalGeneration(_config_3b(tokenizer)).to(torch.bfloat16).eval()
    params = sum(p.numel() for p in model.parameters())
    gpu = torch.cuda.get_device_name()
    lines = [f"GPU: {gpu}, {params / 1e9:.2f} B parameters (Qwen2.5-VL-3B shape, random, bf16)"]
    # Qwen's default pixel budget keeps a 1280x800 screenshot at full resolution; the smaller
    # budgets are the serving knob (window titles travel as text beside the image).
    for max_pixels in PIXEL_BUDGETS:
        processor = build_processor(tokenizer, TinySize(max_pixels=max_pixels, min_pixels=3136))
        lines += measure(model, processor, _screenshot(), max_pixels, "cuda")
    table = "\n".join(lines)
    print(table)
    print(f"recorded in {record('bench_student_gpu', table, gpu)}")
    return None


def measure(model, processor, image, max_pixels: int, device: str) -> list[str]:
    """The table's lines for one pixel budget: the student's two answer logits against the
    baseline's generation, from the same encoded inputs."""
    import torch

    from ontask.models.answer import AnswerTokens, answer_logits, encode
    from ontask.models.classifier import answer_budget
    from ontask.verify import builtin_verifier_config

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    t0 = time.perf_counter()
    inputs = {k: v.to(device) for k, v in encode(processor, image, TASK, WINDOWS, builtin_verifier_config()).items()}
    prep_ms = (time.perf_counter() - t0) * 1000
    answers = AnswerTokens(processor, model)
    budget = answer_budget(processor.tokenizer)

    def timed(fn) -> list[float]:
        fn()
        sync()
        out = []
        for _ in range(RUNS):
            t = time.perf_counter()
            fn()
            sync()
            out.append((time.perf_counter() - t) * 1000)
        return sorted(out)

    def student(batch: dict) -> None:
        model.model.rope_deltas = None  # cached positions belong to the previous call
        answer_logits(model, batch, [answers.on, answers.off])

    def generate(tokens: int) -> None:
        model.model.rope_deltas = None
        model.generate(**inputs, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False)

    batch = {
        k: (
            v.repeat(8, 1)
            if k in ("input_ids", "attention_mask", "mm_token_type_ids", "pixel_values", "image_grid_thw")
            else v
        )
        for k, v in inputs.items()
    }
    with torch.inference_mode():
        one_pass = timed(lambda: student(inputs))
        answer = timed(lambda: generate(budget))
        long = timed(lambda: generate(16))
        batch_ms = timed(lambda: student(batch))

    def p(v, q):
        return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]

    def row(name: str, times: list[float]) -> str:
        return f"{name:<48} {statistics.median(times):>8.1f} {p(times, 0.99):>8.1f}"

    ids = inputs["input_ids"]
    return [
        "",
        f"max_pixels {max_pixels}: the same prompt on both sides, {ids.shape[1]} tokens "
        f"({int((ids == model.config.image_token_id).sum())} image tokens); preprocessing on the CPU {prep_ms:.0f} ms",
        f"{'system':<48} {'p50 ms':>8} {'p99 ms':>8}",
        row("ontask student: one forward pass", one_pass),
        row(f"prompt baseline: generates {budget} tokens", answer),
        row("prompt baseline: generates 16 tokens", long),
        f"{'ontask student: batch of 8, per request':<48} {statistics.median(batch_ms) / 8:>8.1f}",
    ]


if __name__ == "__main__":
    run()
