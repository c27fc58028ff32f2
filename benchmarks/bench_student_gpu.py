"""Student prediction latency on a GPU for the real Qwen2.5-VL-3B architecture (random weights,
bf16): ONE forward pass for the label vs the "prompt engineering" baseline that generates the
label as text (<= 16 tokens), same weights, same 1280x800 screenshot, same prompt.

On a machine without CUDA it says so and measures nothing. Run alone with
`python -m benchmarks bench_student_gpu`; standalone on a GPU node with
`python benchmarks/bench_student_gpu.py` (needs torch, torchvision, transformers, tokenizers, pillow).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

RUNS = 30
PIXEL_BUDGETS = (12845056, 1003520, 602112, 313600)


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


def run() -> None:
    import torch

    if not torch.cuda.is_available():
        print("no CUDA GPU here: nothing measured (run on a GPU node)")
        return
    from transformers import Qwen2_5_VLForConditionalGeneration

    here = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(here))
    from ontask.models.tiny import TinySize, build_processor, build_tokenizer

    tokenizer = build_tokenizer()
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = Qwen2_5_VLForConditionalGeneration(_config_3b(tokenizer)).to(torch.bfloat16).eval()
    params = sum(p.numel() for p in model.parameters())
    task = "Fix the failing unit test in the payment service"
    windows = "- [focused] Visual Studio Code: payment_service.py - Visual Studio Code"
    text = f"Task: {task}\nWindows:\n{windows}\nIs the person on-task or off-task? Answer on-task or off-task."
    long_instructions = (
        "You are a productivity assistant. Look carefully at the screenshot, the open windows, "
        "their titles and URLs, and decide whether the person works on the task. "
    ) * 6
    msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]
    base_msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": long_instructions + text}]}]
    image = _screenshot()
    print(f"GPU: {torch.cuda.get_device_name()}, {params / 1e9:.2f} B parameters (Qwen2.5-VL-3B shape, random, bf16)")
    # Qwen's default pixel budget keeps a 1280x800 screenshot at full resolution; the smaller
    # budgets are the serving knob (window titles travel as text beside the image).
    for max_pixels in PIXEL_BUDGETS:
        processor = build_processor(tokenizer, TinySize(max_pixels=max_pixels, min_pixels=3136))
        _measure(torch, model, processor, image, msgs, base_msgs, max_pixels)


def _measure(torch, model, processor, image, msgs, base_msgs, max_pixels) -> None:
    def prep(messages):
        prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
        return processor(text=[prompt], images=[image], return_tensors="pt").to("cuda")

    t0 = time.perf_counter()
    inputs = prep(msgs)
    prep_ms = (time.perf_counter() - t0) * 1000
    base_inputs = prep(base_msgs)

    def timed(fn) -> list[float]:
        fn()
        torch.cuda.synchronize()
        out = []
        for _ in range(RUNS):
            t = time.perf_counter()
            fn()
            torch.cuda.synchronize()
            out.append((time.perf_counter() - t) * 1000)
        return sorted(out)

    with torch.no_grad():
        one_pass = timed(lambda: model(**inputs))
        generate = timed(lambda: model.generate(**base_inputs, max_new_tokens=16, min_new_tokens=16, do_sample=False))
        batch = {
            k: (
                v.repeat(8, 1)
                if k in ("input_ids", "attention_mask", "mm_token_type_ids", "pixel_values", "image_grid_thw")
                else v
            )
            for k, v in inputs.items()
        }
        batch_ms = timed(lambda: model(**batch))

    def p(v, q):
        return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]

    print(
        f"\nmax_pixels {max_pixels}: prompt {inputs['input_ids'].shape[1]} tokens "
        f"({int((inputs['input_ids'] == model.config.image_token_id).sum())}"
        f" image tokens); preprocessing on the CPU {prep_ms:.0f} ms"
    )
    print(f"{'system':<44} {'p50 ms':>8} {'p99 ms':>8}")
    print(f"{'ontask student: one forward pass':<44} {statistics.median(one_pass):>8.1f} {p(one_pass, 0.99):>8.1f}")
    print(
        f"{'prompt baseline: long prompt + 16 tokens':<44} {statistics.median(generate):>8.1f} "
        f"{p(generate, 0.99):>8.1f}"
    )
    print(f"{'ontask student: batch of 8, per request':<44} {statistics.median(batch_ms) / 8:>8.1f}")


if __name__ == "__main__":
    run()
