"""Qwen2.5-VL-3B-Instruct's published shape, written offline: its config.json, generation
config, image processor and chat template as the release ships them, with a locally trained
tokenizer that has the release's vocabulary size and special-token ids.

No hub can be reached here, so the real checkpoint cannot be downloaded; what sizing needs is its
shape, not its knowledge. `write_3b_files` writes the files a real checkpoint folder holds (no
weights: enough to build the model on torch's meta device), `build_random_3b` adds random bf16
weights with ``save_pretrained``. The folder then loads through the same `load_vlm`, processor,
classifier and trainer code as the real one (benchmarks/bench_3b_shape.py measures that).

The values below are the ones published in the Qwen/Qwen2.5-VL-3B-Instruct repository
(config.json in the transformers 4.x layout it was released in: text fields at the top level,
``rope_scaling`` with M-RoPE sections), written from the release, not fetched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Optional

import torch
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast, Qwen2_5_VLProcessor, Qwen2VLImageProcessor
from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

from ontask.models.tiny import _CORPUS, CHAT_TEMPLATE, SPECIAL_TOKENS, english_words

REPO_ID = "Qwen/Qwen2.5-VL-3B-Instruct"

# Ordinary BPE tokens of the released tokenizer; the added tokens follow from this id on.
REGULAR_TOKENS = 151_643
# Added tokens after the special ones, in the release's order (not special: they may appear in text).
EXTRA_ADDED_TOKENS = [
    "<tool_call>",
    "</tool_call>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
]
# The released ids: <|endoftext|> 151643 ... <|video_pad|> 151656, then the eight above.
TOKEN_IDS = {t: REGULAR_TOKENS + i for i, t in enumerate(SPECIAL_TOKENS + EXTRA_ADDED_TOKENS)}
TOKENIZER_LENGTH = REGULAR_TOKENS + len(SPECIAL_TOKENS) + len(EXTRA_ADDED_TOKENS)  # 151,665
VOCAB_SIZE = 151_936  # the embedding's rows: padded past the tokenizer, as released

CONFIG = {
    "architectures": ["Qwen2_5_VLForConditionalGeneration"],
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "vision_start_token_id": 151652,
    "vision_end_token_id": 151653,
    "vision_token_id": 151654,
    "image_token_id": 151655,
    "video_token_id": 151656,
    "hidden_act": "silu",
    "hidden_size": 2048,
    "initializer_range": 0.02,
    "intermediate_size": 11008,
    "max_position_embeddings": 128000,
    "max_window_layers": 70,
    "model_type": "qwen2_5_vl",
    "num_attention_heads": 16,
    "num_hidden_layers": 36,
    "num_key_value_heads": 2,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "sliding_window": 32768,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.41.2",
    "use_cache": True,
    "use_sliding_window": False,
    "vision_config": {
        "depth": 32,
        "hidden_act": "silu",
        "hidden_size": 1280,
        "intermediate_size": 3420,
        "num_heads": 16,
        "in_chans": 3,
        "out_hidden_size": 2048,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "spatial_patch_size": 14,
        "window_size": 112,
        "fullatt_block_indexes": [7, 15, 23, 31],
        "tokens_per_second": 2,
        "temporal_patch_size": 2,
    },
    "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
    "vocab_size": VOCAB_SIZE,
}

# Generation stops at either end token (the list is what AnswerTokens.stop reads); near-greedy
# sampling settings as released.
GENERATION_CONFIG = {
    "bos_token_id": 151643,
    "pad_token_id": 151643,
    "do_sample": True,
    "eos_token_id": [151645, 151643],
    "repetition_penalty": 1.05,
    "temperature": 0.1,
    "top_p": 0.001,
    "top_k": 1,
    "transformers_version": "4.37.0",
}

# The released preprocessor_config.json: CLIP's normalisation, 14-pixel patches merged 2x2 (one
# image token per 28x28 pixels), between 4 and 16,384 image tokens.
PREPROCESSOR = {
    "min_pixels": 3136,
    "max_pixels": 12845056,
    "patch_size": 14,
    "temporal_patch_size": 2,
    "merge_size": 2,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "image_processor_type": "Qwen2VLImageProcessor",
    "processor_class": "Qwen2_5_VLProcessor",
}


def build_qwen_tokenizer(words: Optional[Iterable[str]] = None, trained_vocab: int = 8192) -> PreTrainedTokenizerFast:
    """A byte-level BPE trained locally (the catalog's sentences and `words`, default the English
    word list) and padded with unreachable rows to the release's 151,643 ordinary tokens, so every
    special token has its released id and len(tokenizer) is the release's 151,665."""
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=trained_vocab, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    corpus = list(_CORPUS) * 20 + list(english_words() if words is None else words)
    bpe.train_from_iterator(corpus, trainer=trainer)
    state = json.loads(bpe.to_str())
    vocab = state["model"]["vocab"]
    # Rows no merge produces: the ids the real tokenizer's other BPE tokens hold.
    for i in range(len(vocab), REGULAR_TOKENS):
        vocab[f"<|unused_{i}|>"] = i
    padded = Tokenizer.from_str(json.dumps(state))
    padded.add_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    padded.add_tokens([AddedToken(t, special=False, normalized=False) for t in EXTRA_ADDED_TOKENS])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=padded,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        additional_special_tokens=SPECIAL_TOKENS[1:],
        model_max_length=131072,
        padding_side="left",
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_processor(tokenizer: PreTrainedTokenizerFast) -> Qwen2_5_VLProcessor:
    """Qwen2.5-VL's processor with the released image-processor settings around `tokenizer`."""
    settings = {k: v for k, v in PREPROCESSOR.items() if k not in ("image_processor_type", "processor_class")}
    image_processor = Qwen2VLImageProcessor(**settings)
    video_processor = Qwen2VLVideoProcessor(patch_size=14, merge_size=2, temporal_patch_size=2)
    return Qwen2_5_VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=CHAT_TEMPLATE,
    )


def _write_published_json(out: Path) -> None:
    # Written after save_pretrained, which writes these files in its own (5.x) layout: the loader
    # must read the released files as they are. The release has no processor_config.json (the
    # image processor's settings are in preprocessor_config.json) and its chat template is in
    # chat_template.json.
    (out / "config.json").write_text(json.dumps(CONFIG, indent=2))
    (out / "generation_config.json").write_text(json.dumps(GENERATION_CONFIG, indent=2))
    (out / "preprocessor_config.json").write_text(json.dumps(PREPROCESSOR, indent=2))
    (out / "chat_template.json").write_text(json.dumps({"chat_template": CHAT_TEMPLATE}, indent=2))
    for name in ("processor_config.json", "chat_template.jinja", "video_preprocessor_config.json"):
        (out / name).unlink(missing_ok=True)


def write_3b_files(out_dir: str | Path, words: Optional[Iterable[str]] = None) -> Path:
    """The released files of a Qwen2.5-VL-3B-Instruct folder, without weights: config, generation
    config, processor, tokenizer and chat template."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    build_processor(build_qwen_tokenizer(words)).save_pretrained(out)
    _write_published_json(out)
    return out


def build_random_3b(out_dir: str | Path, seed: int = 0, words: Optional[Iterable[str]] = None) -> Path:
    """A Qwen2.5-VL-3B-Instruct folder with random bf16 weights (about 7.5 GB on disk): built in
    bf16 from the start, so this process never holds an fp32 copy (15 GB)."""
    from transformers import AutoConfig, GenerationConfig, Qwen2_5_VLForConditionalGeneration

    out = write_3b_files(out_dir, words)
    config = AutoConfig.from_pretrained(out)
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=torch.bfloat16)
    released = {k: v for k, v in GENERATION_CONFIG.items() if k != "transformers_version"}
    model.generation_config = GenerationConfig(**released)
    model.save_pretrained(out)
    _write_published_json(out)
    (out / "ontask-model.json").write_text(
        json.dumps({"builder": "ontask.models.qwen3b", "shape": REPO_ID, "seed": seed}, indent=1)
    )
    return out
