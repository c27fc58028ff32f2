"""LoRA for students too large to fine-tune whole (the 3B on one GPU): adapters injected in
place with peft, so the model keeps its class (and Qwen2.5-VL's position state), and saved
checkpoints stay plain Qwen2.5-VL folders that KServe and `load_vlm` read as they are."""

from __future__ import annotations

import torch
from peft import LoraConfig, inject_adapter_in_model
from peft.tuners.lora import LoraLayer

# The language model's attention projections; the vision tower's (qkv, proj) stay frozen.
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]


def add_lora(model: torch.nn.Module, rank: int, alpha: int | None = None) -> torch.nn.Module:
    """Inject LoRA adapters of this rank; everything else is frozen. The adapters are fp32 even
    over a bf16 base: they are what the optimizer updates, and bf16 would round small updates away."""
    config = LoraConfig(r=rank, lora_alpha=alpha or 2 * rank, lora_dropout=0.0, target_modules=TARGETS)
    inject_adapter_in_model(config, model)
    for name, p in model.named_parameters():
        p.requires_grad = "lora_" in name
        if p.requires_grad and p.dtype != torch.float32:
            p.data = p.data.float()
    return model


def has_lora(model: torch.nn.Module) -> bool:
    return any(isinstance(m, LoraLayer) for m in model.modules())


def _plain(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's state dict with LoRA parameters dropped and `.base_layer.` folded away; a
    tied output head is left out, as save_pretrained leaves it out."""
    out = {
        k.replace(".base_layer.", "."): v.detach().clone() for k, v in model.state_dict().items() if "lora_" not in k
    }
    config = getattr(model, "config", None)
    tied = getattr(config, "tie_word_embeddings", False) or getattr(
        getattr(config, "text_config", None), "tie_word_embeddings", False
    )
    if tied:
        out.pop("lm_head.weight", None)
    return out


def base_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The weights without the adapters' contribution (to checkpoint a run that will resume)."""
    return _plain(model)


def merged_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The weights with the adapters merged in (what gets served); the model is left unmerged."""
    layers = [m for m in model.modules() if isinstance(m, LoraLayer)]
    for m in layers:
        m.merge()
    try:
        return _plain(model)
    finally:
        for m in layers:
            m.unmerge()


def adapter_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items() if "lora_" in k}
