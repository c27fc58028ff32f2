"""Rollouts for GRPO that use the shape of the task: the screenshot and the prompt are encoded
ONCE per group (one prefill), the KV cache is repeated for the group's samples, and answers
are sampled token by token until the end-of-answer token. Also the teacher-forced log-probs
of sampled answers under the trained policy (the quantity GRPO differentiates)."""

from __future__ import annotations

from typing import Optional, Sequence

import torch

# Logit of a suppressed token: its probability underflows to exactly 0, while -inf would turn
# the entropy's gradient into NaN (0 * inf).
SUPPRESSED = -1e4


def model_device(model) -> torch.device:
    """Where the model's weights are: every batch goes there (rows stay on the CPU until then)."""
    return next(model.parameters()).device


def on_device(inputs: dict, device: torch.device) -> dict:
    """A processor output (or batch) with its tensors on `device`."""
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}


def _decode_positions(past_len: int, step: int, rope_deltas: torch.Tensor, n: int) -> torch.Tensor:
    # Qwen2.5-VL's M-RoPE: after the image, text positions continue at index + rope_delta on
    # all three axes (temporal, height, width).
    pos = torch.full((3, n, 1), past_len + step, dtype=torch.long, device=rope_deltas.device)
    return pos + rope_deltas.view(1, -1, 1).repeat_interleave(n // rope_deltas.shape[0], dim=1)


@torch.no_grad()
def sample_group(
    model,
    inputs: dict,
    group_size: int,
    max_new_tokens: int,
    eos_token_id: int | Sequence[int],
    pad_token_id: int,
    temperature: float = 1.0,
    suppress_token_ids: Sequence[int] = (),
    generator: Optional[torch.Generator] = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sample group_size answers for ONE prompt (inputs of batch size 1) with a single prefill,
    each ending at the first of `eos_token_id` (one id or several). Returns (completions,
    logp_old, mask), each [G, T]."""
    if inputs["input_ids"].shape[0] != 1:
        raise ValueError("sample_group takes one prompt; batch prompts by calling it per prompt")
    out = model(**on_device(inputs, model_device(model)), use_cache=True, logits_to_keep=1)
    cache = out.past_key_values
    past_len = inputs["input_ids"].shape[1]
    rope_deltas = model.model.rope_deltas
    cache.batch_repeat_interleave(group_size)
    logits = out.logits[:, -1, :].float().repeat(group_size, 1)
    tokens, logps = [], []
    stop = torch.as_tensor(
        [eos_token_id] if isinstance(eos_token_id, int) else list(eos_token_id), device=logits.device
    )
    done = torch.zeros(group_size, dtype=torch.bool, device=logits.device)
    suppress = list(suppress_token_ids)
    for step in range(max_new_tokens):
        if suppress:
            logits[:, suppress] = SUPPRESSED
        logp_all = torch.log_softmax(logits / temperature, dim=-1)
        # Drawn on the CPU with the caller's CPU generator, so the samples of a seed are the same
        # on any device (and a CUDA tensor cannot take a CPU generator).
        tok = torch.multinomial(logp_all.exp().cpu(), 1, generator=generator).squeeze(1).to(logits.device)
        tok = torch.where(done, torch.full_like(tok, pad_token_id), tok)
        tokens.append(tok)
        logps.append(logp_all.gather(1, tok[:, None]).squeeze(1))
        done = done | torch.isin(tok, stop)
        if bool(done.all()) or step == max_new_tokens - 1:
            break
        pos = _decode_positions(past_len, step, rope_deltas, group_size)
        out = model(input_ids=tok[:, None], past_key_values=cache, position_ids=pos, use_cache=True)
        logits = out.logits[:, -1, :].float()
    completions = torch.stack(tokens, dim=1)
    logp_old = torch.stack(logps, dim=1)
    # Real tokens: everything up to and including the first end-of-answer token.
    is_eos = torch.isin(completions, stop)
    after_eos = (is_eos.cumsum(1) - is_eos.long()) > 0
    mask = (~after_eos).long()
    return completions, logp_old * mask, mask


def completion_logprobs(
    model,
    inputs: dict,
    completions: torch.Tensor,
    mask: torch.Tensor,
    with_logits: bool = False,
    suppress_token_ids: Sequence[int] = (),
    temperature: float = 1.0,
) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Teacher-forced log-probs [G, T] of G completions of ONE prompt under `model` (with grad
    when the caller allows it), at the sampler's temperature, so the importance ratio compares
    the distribution the answers were drawn from. The prompt is repeated G times in one batch."""
    g, t = completions.shape
    # All G answers have length T (padding past the end-of-answer token is masked by the
    # caller), so the collated batch is the prompt repeated G times, unpadded.
    batch, _, _ = collate_with_answers([inputs] * g, completions.tolist(), 0, device=completions.device)
    model.model.rope_deltas = None  # recompute positions for this full sequence
    # The LM head only where answers are scored: over a real vocabulary, the head on every prompt
    # position would be most of the pass and of its activations.
    logits = model(**batch, logits_to_keep=t + 1).logits[:, :-1, :].float() / temperature
    if suppress_token_ids:
        # The same distribution the sampler drew from (suppressed tokens renormalised away).
        keep = torch.ones(logits.shape[-1], dtype=torch.bool, device=logits.device)
        keep[list(suppress_token_ids)] = False
        logits = logits.masked_fill(~keep, SUPPRESSED)
    logp = torch.log_softmax(logits, dim=-1).gather(2, completions[..., None]).squeeze(-1)
    return logp * mask, (logits if with_logits else None)


def collate_with_answers(
    rows: Sequence[dict], answers: Sequence[Sequence[int]], pad_token_id: int, device: Optional[torch.device] = None
) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """One padded batch of several prompts (each of batch size 1, each with its own image), each
    followed by its answer tokens, left-padded so every row ends at the last position (as the
    serving batch does). mm_token_type_ids is extended with zeros over the answers, else
    positions silently fall back to 1-D. Returns (batch, targets [B, A], mask [B, A]): the answer tokens and
    which of them are real, aligned to the last A positions; all on `device` (default: the rows')."""
    dev = device if device is not None else rows[0]["input_ids"].device
    seqs = [
        torch.cat([r["input_ids"][0].to(dev), torch.as_tensor(a, dtype=torch.long, device=dev)])
        for r, a in zip(rows, answers)
    ]
    length, a_max = max(len(s) for s in seqs), max(len(a) for a in answers)
    b = len(rows)
    ids = torch.full((b, length), pad_token_id, dtype=torch.long, device=dev)
    attn = torch.zeros((b, length), dtype=torch.long, device=dev)
    has_types = all("mm_token_type_ids" in r for r in rows)
    types = torch.zeros((b, length), dtype=torch.long, device=dev)
    targets = torch.full((b, a_max), pad_token_id, dtype=torch.long, device=dev)
    mask = torch.zeros((b, a_max), dtype=torch.long, device=dev)
    for i, (r, s, a) in enumerate(zip(rows, seqs, answers)):
        ids[i, length - len(s) :] = s
        attn[i, length - len(s) :] = 1
        if has_types:
            n = r["mm_token_type_ids"].shape[1]
            types[i, length - len(s) : length - len(s) + n] = r["mm_token_type_ids"][0].to(dev)
        # Answers are right-aligned at the end of each row; shorter ones are masked on the left.
        targets[i, a_max - len(a) :] = torch.as_tensor(a, dtype=torch.long, device=dev)
        mask[i, a_max - len(a) :] = 1
    batch = {
        "input_ids": ids,
        "attention_mask": attn,
        "pixel_values": torch.cat([r["pixel_values"] for r in rows]).to(dev),
        "image_grid_thw": torch.cat([r["image_grid_thw"] for r in rows]).to(dev),
    }
    if has_types:
        batch["mm_token_type_ids"] = types
    return batch, targets, mask


def answer_logprobs(
    model, rows: Sequence[dict], answers: Sequence[Sequence[int]], pad_token_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher-forced log-probs [B, A] of one answer per prompt, all prompts in ONE padded
    forward pass (the supervised warm start's batch). Returns (logp * mask, mask)."""
    batch, targets, mask = collate_with_answers(rows, answers, pad_token_id, device=model_device(model))
    a = targets.shape[1]
    model.model.rope_deltas = None
    logits = model(**batch, logits_to_keep=a + 1).logits[:, :-1, :].float()
    logp = torch.log_softmax(logits, dim=-1).gather(2, targets[..., None]).squeeze(-1)
    return logp * mask, mask
