"""A tiny Qwen2.5-VL of the real architecture, built offline from a config.

No model hub can be reached here, so tests and the demo build a Qwen2.5-VL with random
weights, a byte-level BPE tokenizer trained locally with Qwen's special tokens, the real
image processor and Qwen's chat template, and save it with ``save_pretrained``. Everything
downstream (processor, chat template, logits of answer tokens, generation, checkpoint
loading) then takes the code path a real Qwen2.5-VL checkpoint takes.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    PreTrainedTokenizerFast,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2_5_VLProcessor,
    Qwen2VLImageProcessor,
)
from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

from ontask.labels import LABELS

# Qwen2.5-VL's special tokens, in Qwen's order, so their roles match the real tokenizer.
SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

# Qwen2-VL / Qwen2.5-VL's chat template (the one shipped in their tokenizer_config.json).
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Sentences the tokenizer is trained on: the vocabulary of tasks, apps, titles and answers.
_CORPUS = [
    "on-task off-task on task off task yes no",
    "Is the person on-task or off-task? Is the person off-task or on-task? Answer with one word.",
    "Task: fix the failing unit test in the payment service",
    "Task: answer customer tickets about refunds in the support desk",
    "Task: build the quarterly revenue report in the spreadsheet",
    "Task: write the blog post draft about onboarding",
    "Task: design the landing page mockup in the design tool",
    "Task: study chapter 4 of linear algebra for the exam",
    "Task: follow up with leads from the trade show in the CRM",
    "Task: screen candidates for the backend engineer role",
    "Windows: focused app title url browser editor terminal chat email spreadsheet document",
    "Windows:\n- [focused] - [background] (task words: none) (task words: Task:",
    "Task words in: the focused window. Task words in: a background window only. Task words in: no window.",
    "Visual Studio Code main.py Terminal bash pytest Firefox Chrome Slack Outlook Excel Word",
    "YouTube Netflix Twitter Reddit Facebook Instagram Amazon shop cart game Steam Solitaire",
    "https://github.com/org/repo/pull/42 https://docs.python.org/3/library/ https://www.youtube.com/watch",
    "Jira issue tracker Zendesk ticket Gmail inbox Google Docs Sheets Figma Notion Salesforce LinkedIn",
    "The quick brown fox jumps over the lazy dog. 0123456789 - _ . , : ; / ? ! ( ) [ ] { } @ # % & * + =",
]


@dataclass(frozen=True)
class TinySize:
    """Dimensions of a tiny Qwen2.5-VL (defaults: ~1.6 M parameters, 6.4 MB; two thirds of it the
    8,192-token embedding)."""

    hidden: int = 128
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2
    vision_hidden: int = 64
    vision_depth: int = 2
    vision_heads: int = 4
    vocab_target: int = 8192
    # The model's vocabulary when larger than the tokenizer's (rows no token reaches, as in Qwen's
    # own checkpoints: 151,936 rows for 151,665 tokens); makes the LM head cost what a real one does.
    padded_vocab: int = 0
    # Short prompts: fine-grained relative positions help more than Qwen's long-context base.
    rope_theta: float = 10000.0
    # A thumbnail (40 image tokens at 16:10) on a CPU; the window evidence carries the text.
    max_pixels: int = 224 * 140
    min_pixels: int = 56 * 56


# The answers open the assistant's turn without a leading space; repeated so that BPE gives
# each its own short token sequence (few sampled tokens per answer).
_ANSWERS = list(LABELS) * 20


# A broad English word list (Debian's `wamerican`, SCOWL, permissive licence; installed by
# scripts/system-deps.sh): a tokenizer trained only on the catalog shatters every word of a real
# title it has not seen into single bytes, and the student cannot tell one unseen title from another.
WORD_LIST = Path("/usr/share/dict/american-english")
# How often the catalog's own sentences count against the word list: its words are the ones the
# synthetic screens are made of, and each should stay one or two tokens.
_CORPUS_WEIGHT = 20


def english_words(path: Path = WORD_LIST) -> list[str]:
    """The word list without possessives, each word as listed, lower-case and capitalised (titles
    capitalise), as lines of space-separated words: the byte-level pre-tokenizer then learns each
    word with its leading space, as titles use it."""
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: install Debian's wamerican package "
            "(scripts/system-deps.sh does), or pass words= explicitly"
        )
    listed = {w.strip() for w in path.read_text(errors="replace").split() if "'" not in w}
    words = sorted(listed | {w.lower() for w in listed} | {w.capitalize() for w in listed})
    return [" ".join(words[i : i + 64]) for i in range(0, len(words), 64)]


@functools.lru_cache(maxsize=8)
def _train_bpe(corpus: tuple[str, ...], vocab_size: int, words: tuple[str, ...] | None) -> str:
    """The trained BPE as JSON; cached because a test session builds many tiny models alike."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    own = [*_CORPUS, *corpus] * _CORPUS_WEIGHT
    tok.train_from_iterator([*own, *_ANSWERS, *(english_words() if words is None else words)], trainer=trainer)
    return tok.to_str()


def build_tokenizer(
    corpus: Iterable[str] = (), vocab_size: int = 8192, words: Iterable[str] | None = None
) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer with Qwen's special tokens and chat template, trained locally on
    the catalog (`corpus`, weighted) and a broad English word list (`words`, default WORD_LIST)."""
    trained = _train_bpe(tuple(corpus), vocab_size, None if words is None else tuple(words))
    fast = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(trained),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        additional_special_tokens=SPECIAL_TOKENS[1:],
        model_max_length=32768,
        padding_side="left",
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_processor(tokenizer: PreTrainedTokenizerFast, size: TinySize = TinySize()) -> Qwen2_5_VLProcessor:
    """Qwen2.5-VL's real processor around the local tokenizer."""
    image_processor = Qwen2VLImageProcessor(
        patch_size=14, merge_size=2, temporal_patch_size=2, min_pixels=size.min_pixels, max_pixels=size.max_pixels
    )
    video_processor = Qwen2VLVideoProcessor(patch_size=14, merge_size=2, temporal_patch_size=2)
    return Qwen2_5_VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=CHAT_TEMPLATE,
    )


def build_config(tokenizer: PreTrainedTokenizerFast, size: TinySize = TinySize()) -> Qwen2_5_VLConfig:
    """A Qwen2.5-VL config whose token ids match the tokenizer."""
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    head_dim = size.hidden // size.heads
    # M-RoPE splits head_dim/2 rotary frequencies into (temporal, height, width) sections.
    half = head_dim // 2
    mrope = [half // 4, (half - half // 4) // 2, half - half // 4 - (half - half // 4) // 2]
    text = dict(
        vocab_size=max(len(tokenizer), size.padded_vocab),
        hidden_size=size.hidden,
        intermediate_size=size.hidden * 2,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        num_key_value_heads=size.kv_heads,
        max_position_embeddings=4096,
        rope_parameters={"rope_type": "default", "rope_theta": size.rope_theta, "mrope_section": mrope},
        tie_word_embeddings=True,
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
    )
    vision = dict(
        depth=size.vision_depth,
        hidden_size=size.vision_hidden,
        intermediate_size=size.vision_hidden * 2,
        num_heads=size.vision_heads,
        patch_size=14,
        spatial_merge_size=2,
        temporal_patch_size=2,
        window_size=112,
        out_hidden_size=size.hidden,
        fullatt_block_indexes=[size.vision_depth - 1],
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


def build_tiny_vlm(out_dir: str | Path, size: TinySize = TinySize(), seed: int = 0, corpus: Iterable[str] = ()) -> Path:
    """Build, and save with save_pretrained, a tiny random Qwen2.5-VL with its processor.

    The folder has the layout of a real checkpoint (config.json, model.safetensors,
    tokenizer and processor files), so the same loader reads both.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    tokenizer = build_tokenizer(corpus, size.vocab_target)
    processor = build_processor(tokenizer, size)
    config = build_config(tokenizer, size)
    model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = config.pad_token_id
    model.save_pretrained(out)
    processor.save_pretrained(out)
    (out / "ontask-model.json").write_text(
        json.dumps({"builder": "ontask.models.tiny", "seed": seed, "size": size.__dict__}, indent=1)
    )
    return out


NO_BASELINE = (
    "no prompt-engineering comparison: the judge is a tiny random model from ontask.models.tiny "
    "(CPU demo), and such a model says nothing about prompting a real VLM; configure a real judge "
    "checkpoint (e.g. Qwen2.5-VL-72B-Instruct on a GPU) for that row"
)


def is_tiny_factory_model(uri: str) -> bool:
    """Whether a model folder was made by `build_tiny_vlm` (random weights, no real knowledge)."""
    try:
        return json.loads((Path(uri) / "ontask-model.json").read_text()).get("builder") == "ontask.models.tiny"
    except (OSError, ValueError):
        return False


def parameter_count(model: torch.nn.Module) -> int:
    """Number of parameters (tied weights counted once)."""
    return sum(p.numel() for p in model.parameters())
