"""The tiny Qwen2.5-VL: built offline, saved, reloaded from a folder and from the real S3,
and answering a screenshot + task through the real processor and chat template."""

import json
import uuid

import pytest
import torch
from PIL import Image, ImageDraw

from ontask.models.loading import CheckpointError, load_vlm
from ontask.models.tiny import parameter_count
from ontask.store import S3Store, upload_folder
from tests.conftest import REPO


@pytest.fixture(scope="module")
def tiny_dir(tiny_vlm):
    return tiny_vlm()


def _screenshot() -> Image.Image:
    img = Image.new("RGB", (1280, 800), (30, 30, 40))
    draw = ImageDraw.Draw(img)
    draw.rectangle((100, 80, 1100, 700), fill=(240, 240, 240))
    draw.text((110, 85), "main.py - Visual Studio Code", fill=(0, 0, 0))
    return img


def _logits(model, processor, task: str) -> torch.Tensor:
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": f"Task: {task}"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True)
    assert text.endswith("<|im_start|>assistant\n")
    inputs = processor(text=[text], images=[_screenshot()], return_tensors="pt")
    n_image_tokens = int((inputs["input_ids"] == model.config.image_token_id).sum())
    grid = inputs["image_grid_thw"][0]
    assert n_image_tokens == int(grid.prod()) // 4  # spatial merge 2x2
    with torch.no_grad():
        return model(**inputs).logits[0, -1]


def test_saved_folder_has_a_real_checkpoint_layout(tiny_dir):
    names = {p.name for p in tiny_dir.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "chat_template.jinja",
        "processor_config.json",
    } <= names
    config = json.loads((tiny_dir / "config.json").read_text())
    assert config["model_type"] == "qwen2_5_vl"
    assert config["architectures"] == ["Qwen2_5_VLForConditionalGeneration"]


def test_reloaded_from_folder_gives_logits_for_a_screenshot_and_task(tiny_dir):
    model, processor = load_vlm(str(tiny_dir))
    assert parameter_count(model) < 2_000_000
    logits = _logits(model, processor, "fix the failing unit test")
    assert logits.shape == (model.config.text_config.vocab_size,)
    assert torch.isfinite(logits).all()
    # Same weights, same input: deterministic.
    assert torch.equal(logits, _logits(model, processor, "fix the failing unit test"))


def test_reloaded_from_s3_equals_the_folder(tiny_dir, s3_config, tmp_path, monkeypatch):
    monkeypatch.setenv("ONTASK_MODEL_CACHE", str(tmp_path / "cache"))
    bucket = f"models-{uuid.uuid4().hex[:8]}"
    upload_folder(S3Store(s3_config, bucket), tiny_dir, "tiny/v0")
    from_s3, proc_s3 = load_vlm(f"s3://{bucket}/tiny/v0", s3=s3_config)
    from_dir, proc_dir = load_vlm(str(tiny_dir))
    assert torch.equal(_logits(from_s3, proc_s3, "answer tickets"), _logits(from_dir, proc_dir, "answer tickets"))


def test_a_hub_uri_loads_from_the_hub_cache_as_a_job_would_without_a_hub(tiny_dir, tmp_path):
    """hf://org/name[@revision] goes through huggingface_hub's own cache: here a cache laid out as
    the Hub client writes it, read with HF_HUB_OFFLINE=1 (no hub can be reached), in a fresh
    process as the training job runs."""
    import os
    import subprocess
    import sys

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hf" / "hub" / "models--tiny-org--tiny-vlm"
    (repo / "snapshots" / commit).mkdir(parents=True)
    for f in tiny_dir.iterdir():
        (repo / "snapshots" / commit / f.name).write_bytes(f.read_bytes())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    probe = (
        "import sys, torch\n"
        "from ontask.models.loading import CheckpointError, load_vlm\n"
        "model, _ = load_vlm(sys.argv[1])\n"
        "print(sum(float(p.detach().double().sum()) for p in model.parameters()))\n"
        "try:\n    load_vlm('hf://tiny-org/absent')\nexcept CheckpointError as e:\n    print(e)\n"
    )
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    # The latest cached revision, one pinned as users write it (@), and as KServe writes it (:).
    for uri in ("hf://tiny-org/tiny-vlm", f"hf://tiny-org/tiny-vlm@{commit}", f"hf://tiny-org/tiny-vlm:{commit}"):
        out = subprocess.run([sys.executable, "-c", probe, uri], capture_output=True, text=True, env=env, timeout=300)
        assert out.returncode == 0, out.stderr
        total, refused = out.stdout.strip().splitlines()[-2:]
        folder, _ = load_vlm(str(tiny_dir))
        assert float(total) == pytest.approx(sum(float(p.detach().double().sum()) for p in folder.parameters()))
        assert refused.startswith("cannot fetch tiny-org/absent from the Hub cache (HF_HUB_OFFLINE is set)")
    with pytest.raises(CheckpointError, match="expected hf://<org>/<name>"):
        load_vlm("hf://just-a-name")


def test_broken_checkpoints_are_refused_with_the_reason(tiny_dir, tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_vlm(str(tmp_path / "nowhere"))
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in tiny_dir.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="model.safetensors is corrupt"):
        load_vlm(str(broken))
    (broken / "config.json").unlink()
    with pytest.raises(CheckpointError, match="config.json is missing"):
        load_vlm(str(broken))


def test_the_prompt_baseline_generates_what_a_real_model_s_answer_takes(tiny_dir):
    """A random tiny model never emits the end token: the baseline is stopped where a real
    instruction-tuned model would stop (the longer label and the end token), not at an arbitrary
    16 tokens, and it says which label the text names. It is asked what the judge and the
    student are asked, nothing added: the same tokens go into the model as the student's."""
    from ontask.images import fit_for
    from ontask.labels import OFF, ON
    from ontask.models.classifier import PromptBaseline, StudentClassifier, answer_budget, parse_label_text
    from ontask.verify import builtin_verifier_config

    baseline = PromptBaseline.load(str(tiny_dir), builtin_verifier_config())
    tok = baseline.processor.tokenizer
    longest = max(len(tok(label, add_special_tokens=False)["input_ids"]) for label in (ON, OFF))
    assert baseline.max_new_tokens == answer_budget(tok) == longest + 1 < 16
    calls = []
    generate = baseline.model.generate
    baseline.model.generate = lambda **kw: calls.append(kw) or generate(**kw)
    task, windows = "fix the failing unit test", [{"app": "Code", "title": "main.py", "focused": True}]
    [p] = baseline.p_on_task([_screenshot()], [task], [windows])
    assert calls[0]["max_new_tokens"] == longest + 1 and p in (0.0, 0.5, 1.0)
    student = StudentClassifier(baseline.model, baseline.processor, builtin_verifier_config())
    image = fit_for(_screenshot(), baseline.processor.image_processor)
    students = baseline.processor(text=student.prompts([task], [windows]), images=[image], return_tensors="pt")
    assert torch.equal(calls[0]["input_ids"], students["input_ids"])
    assert PromptBaseline.load(str(tiny_dir), builtin_verifier_config(), max_new_tokens=16).max_new_tokens == 16
    assert [parse_label_text(t) for t in (f"{ON}.", f"It is {OFF}", "no idea", f"{OFF}, not {ON}")] == [
        1.0,
        0.0,
        0.5,
        0.0,
    ]


def test_the_students_two_answer_logits_are_the_full_heads(tiny_dir):
    """Serving computes only the two answers' rows of the LM head: the same numbers as the whole
    head at the last position, for every row of a left-padded batch."""
    from ontask.models.answer import answer_logits
    from ontask.models.classifier import StudentClassifier

    student = StudentClassifier.load(str(tiny_dir))
    ids = [student.answers.on, student.answers.off]
    tasks = ["fix the failing unit test", "write the quarterly report for the board of directors"]
    prompts = student.prompts(tasks, [None, [{"app": "Code", "title": "main.py", "focused": True}]])
    inputs = student.processor(text=prompts, images=[_screenshot()] * 2, padding=True, return_tensors="pt")
    assert inputs["attention_mask"][0, 0] == 0  # the shorter prompt is padded on the left
    with torch.no_grad():
        student.model.model.rope_deltas = None
        full = student.model(**inputs).logits[:, -1][:, ids]
        student.model.model.rope_deltas = None
        pair = answer_logits(student.model, inputs, ids)
    assert torch.allclose(pair, full, atol=1e-5)
