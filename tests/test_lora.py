"""LoRA for the student: only adapters train, the served checkpoint is a plain Qwen2.5-VL with
the adapters merged in, and a LoRA run resumes exactly from its checkpoint."""

import json
import subprocess
import sys

import torch
from safetensors.torch import load_file

from ontask.data import generate, write_version
from ontask.data.generate import example_at
from ontask.models.answer import encode
from ontask.models.loading import load_vlm
from ontask.store import LocalStore
from ontask.trainers.lora import add_lora, merged_state_dict
from ontask.verify import builtin_verifier_config
from tests.conftest import REPO


def test_merged_checkpoint_answers_like_the_adapted_model(tiny_vlm):
    tiny = str(tiny_vlm(4))
    model, processor = load_vlm(tiny)
    add_lora(model, 4)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.5)  # make the adapters matter
    ex = example_at(0, 1)
    inputs = encode(processor, ex.image, ex.task, ex.windows, builtin_verifier_config())
    with torch.no_grad():
        adapted = model(**inputs).logits
    plain, _ = load_vlm(tiny)
    result = plain.load_state_dict(merged_state_dict(model), strict=False)
    assert result.unexpected_keys == [] and set(result.missing_keys) <= {"lm_head.weight"}  # tied to embeddings
    with torch.no_grad():
        merged = plain(**inputs).logits
        base = load_vlm(tiny)[0](**inputs).logits
    assert torch.allclose(adapted, merged, atol=1e-4)
    assert not torch.allclose(adapted, base, atol=1e-3)


CONFIG = (
    "apiVersion: ontask.dev/v1alpha1\nkind: TaskClassifier\nmetadata: {name: lora}\nspec:\n"
    "  data: {source: synthetic, trainBatchSize: 2, maxResponseLength: 4}\n"
    "  judge: {enabled: false}\n"
    "  training: {epochs: 1, groupSize: 2, learningRate: 0.01, evalEvery: 1000, saveEvery: 3, loraRank: 4,\n"
    "             rewardWeights: {binary: 0.8, judge: 0.0, verifier: 0.2}, syncSteps: 2}\n"
)


def _train(tmp_path, store, *extra):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "ontask.cli",
            "train",
            "--config",
            str(tmp_path / "lora.yaml"),
            "--store",
            str(store),
            "--classifier",
            "lora",
            "--dataset",
            "screens",
            "--base-model",
            str(tmp_path / "base"),
            "--warm-start-steps",
            "2",
            *extra,
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )


def test_lora_run_serves_a_plain_checkpoint_and_resumes_exactly(tmp_path, tiny_vlm):
    tiny_vlm(5, copy_to=tmp_path / "base")
    (tmp_path / "lora.yaml").write_text(CONFIG)
    for name in ("straight", "interrupted"):
        write_version(LocalStore(tmp_path / name), "screens", list(generate(10, seed=9)), "ontask/synthetic", {})
    assert _train(tmp_path, tmp_path / "straight").returncode == 0
    first = _train(tmp_path, tmp_path / "interrupted", "--stop-at-step", "4")
    assert first.returncode == 0, first.stderr[-2000:]
    second = _train(tmp_path, tmp_path / "interrupted")
    assert second.returncode == 0, second.stderr[-2000:]
    path = "classifiers/lora/models/v1/model.safetensors"
    a, b = load_file(str(tmp_path / "straight" / path)), load_file(str(tmp_path / "interrupted" / path))
    base = load_file(str(tmp_path / "base" / "model.safetensors"))
    assert set(a) == set(base)  # plain Qwen2.5-VL keys: no adapter or base_layer names
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-5
    changed = [k for k in a if not torch.equal(a[k], base[k])]
    assert changed and all("self_attn" in k for k in changed)  # only the adapted projections moved
    metrics = [
        json.loads(ln)
        for ln in (tmp_path / "interrupted" / "classifiers/lora/metrics/v1.jsonl").read_text().splitlines()
    ]
    assert any(m["phase"] == "resume" and m["step"] == 3 for m in metrics)


def test_rollout_copy_of_a_lora_model_shares_the_frozen_base(tiny_vlm):
    """The rollout policy and KL reference hold the adapters only: the base weights are the
    model's own (a 3B student would otherwise hold its 7.5 GB twice), and training the model's
    adapters leaves the copy's alone."""
    from ontask.trainers.trainer import frozen_copy

    model, _ = load_vlm(str(tiny_vlm(4)))
    add_lora(model, 4)
    copy = frozen_copy(model)
    ours, theirs = dict(model.named_parameters()), dict(copy.named_parameters())
    assert ours.keys() == theirs.keys()
    for name, p in ours.items():
        assert (p.data_ptr() == theirs[name].data_ptr()) == (not p.requires_grad), name
    before = {n: p.detach().clone() for n, p in theirs.items() if "lora_" in n}
    with torch.no_grad():
        for n, p in ours.items():
            if "lora_" in n:
                p.add_(1.0)
    assert all(torch.equal(theirs[n], v) for n, v in before.items())
    assert not copy.training
