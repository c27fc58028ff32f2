"""The written Qwen2.5-VL-3B-Instruct files load through the project's processor and answer code
with the published shapes; the model is built on torch's meta device (no 7.5 GB of weights)."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image
from transformers import AutoConfig, AutoProcessor, GenerationConfig, Qwen2_5_VLForConditionalGeneration

from ontask.images import fit_for, set_pixel_budget
from ontask.models.answer import AnswerTokens
from ontask.models.qwen3b import TOKEN_IDS, TOKENIZER_LENGTH, VOCAB_SIZE, write_3b_files
from ontask.prompt import chat_prompt, prompt_text
from ontask.verify import builtin_verifier_config


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    # words=(): the catalog alone trains the BPE, in a second instead of the word list's minute.
    return write_3b_files(tmp_path_factory.mktemp("qwen3b"), words=())


@pytest.fixture(scope="module")
def meta_model(folder):
    config = AutoConfig.from_pretrained(folder)
    with torch.device("meta"):
        return Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=torch.bfloat16)


def test_folder_has_the_release_layout(folder):
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "generation_config.json", "preprocessor_config.json", "chat_template.json"} <= names
    assert "processor_config.json" not in names  # the release has none: the loader must cope
    # The released layout: text fields at the top level, M-RoPE in rope_scaling.
    raw = json.loads((folder / "config.json").read_text())
    assert raw["rope_scaling"] == {"type": "mrope", "mrope_section": [16, 24, 24]} and "text_config" not in raw


def test_config_has_the_published_shapes(folder):
    c = AutoConfig.from_pretrained(folder)
    t, v = c.text_config, c.vision_config
    assert (t.hidden_size, t.intermediate_size, t.num_hidden_layers) == (2048, 11008, 36)
    assert (t.num_attention_heads, t.num_key_value_heads, t.vocab_size) == (16, 2, VOCAB_SIZE)
    assert t.rope_parameters["mrope_section"] == [16, 24, 24] and t.rope_parameters["rope_theta"] == 1e6
    assert (v.depth, v.hidden_size, v.intermediate_size, v.num_heads) == (32, 1280, 3420, 16)
    assert (v.out_hidden_size, v.window_size, v.fullatt_block_indexes) == (2048, 112, [7, 15, 23, 31])
    assert c.tie_word_embeddings and c.image_token_id == 151655 and c.video_token_id == 151656


def test_meta_model_has_the_published_size(meta_model):
    params = sum(p.numel() for p in meta_model.parameters())  # tied embedding counted once
    assert 3.70e9 < params < 3.80e9, params
    assert meta_model.lm_head.weight is meta_model.model.language_model.embed_tokens.weight
    assert meta_model.dtype == torch.bfloat16


def test_tokenizer_and_generation_config_have_the_release_ids(folder, meta_model):
    processor = AutoProcessor.from_pretrained(folder)
    tok = processor.tokenizer
    assert len(tok) == TOKENIZER_LENGTH == 151665
    assert {t: tok.convert_tokens_to_ids(t) for t in TOKEN_IDS} == TOKEN_IDS
    assert (tok.eos_token, tok.pad_token) == ("<|im_end|>", "<|endoftext|>")
    gen = GenerationConfig.from_pretrained(folder)
    assert gen.eos_token_id == [151645, 151643] and gen.pad_token_id == 151643
    # The answer code stops at either released end token and ends an answer with <|im_end|>
    # (from_pretrained, as load_vlm calls it, reads generation_config.json into the model).
    meta_model.generation_config = gen
    answers = AnswerTokens(processor, meta_model)
    assert answers.stop == [151645, 151643] and answers.eos == 151645


def test_processor_gives_720_image_tokens_for_full_hd_at_the_serving_budget(folder):
    processor = AutoProcessor.from_pretrained(folder)
    ip = processor.image_processor
    assert (ip.size["shortest_edge"], ip.size["longest_edge"]) == (3136, 12845056)
    assert (ip.patch_size, ip.merge_size, ip.temporal_patch_size) == (14, 2, 2)
    set_pixel_budget(ip, 602_112)  # spec.serving.modelMaxPixels' documented value
    image = fit_for(Image.new("RGB", (1920, 1080), (40, 40, 50)), ip)
    text = chat_prompt(processor, prompt_text("fix the failing unit test", None, builtin_verifier_config()))
    inputs = processor(text=[text], images=[image], return_tensors="pt")
    image_tokens = int((inputs["input_ids"] == TOKEN_IDS["<|image_pad|>"]).sum())
    assert inputs["image_grid_thw"].tolist() == [[1, 40, 72]] and image_tokens == 40 * 72 // 4 == 720
