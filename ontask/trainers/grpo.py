"""GRPO as pure functions over tensors: group-normalised advantages, the clipped policy
objective with importance ratios (for the semi-online lag), token-mean aggregation, the
entropy bonus and the KL term to a frozen reference. No I/O, no model: unit-testable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Token-mean: the mean of x over positions where mask is 1 (all tokens of the batch
    weigh the same, whatever their sequence's length)."""
    mask = mask.to(x.dtype)
    return (x * mask).sum() / mask.sum().clamp_min(1.0)


def group_advantages(rewards: torch.Tensor, group_size: int, norm: str = "group", eps: float = 1e-6) -> torch.Tensor:
    """r - group mean, for rewards laid out group after group, divided by a standard deviation:
    `group` (GRPO: each group's own), `batch` (one for all the groups), or `none` (Dr. GRPO).
    A group whose rewards are all equal gets 0.

    With two possible answers, a group's own std leaves only the sign of R(right) - R(wrong):
    a judge 95% sure and one 55% sure train alike. `batch` and `none` keep that difference,
    `batch` at GRPO's overall scale.

    >>> r = torch.tensor([1.0, 0.0, 1.0, 0.0, 0.6, 0.4, 0.6, 0.4])
    >>> [round(a, 3) for a in group_advantages(r, 4, "group").view(2, 4)[:, 0].tolist()]  # both alike
    [0.866, 0.866]
    >>> a = group_advantages(r, 4, "batch").view(2, 4)[:, 0]
    >>> round(float(a[0] / a[1]), 3)  # the sure group pushes five times harder
    5.0
    """
    if rewards.numel() % group_size:
        raise ValueError(f"{rewards.numel()} rewards do not split into groups of {group_size}")
    r = rewards.view(-1, group_size).float()
    centred = r - r.mean(dim=1, keepdim=True)
    if norm == "group":
        centred = centred / (r.std(dim=1, unbiased=True, keepdim=True) + eps)
    elif norm == "batch":
        # Over the groups with signal only: groups that all agree would shrink it step by step.
        live = centred[centred.abs().sum(dim=1) > 0]
        if live.numel():
            centred = centred / (live.std(unbiased=False) + eps)
    elif norm != "none":
        raise ValueError(f"advantage norm {norm!r}: use group, batch or none")
    return centred.view(-1)


def groups_with_signal(rewards: torch.Tensor, group_size: int, tol: float = 1e-8) -> torch.Tensor:
    """A boolean per group: whether its rewards differ (a group that all agrees carries no
    gradient; DAPO's dynamic sampling drops or resamples it)."""
    r = rewards.view(-1, group_size)
    return (r.max(dim=1).values - r.min(dim=1).values) > tol


@dataclass
class PolicyLossOutput:
    loss: torch.Tensor
    clip_fraction: torch.Tensor
    ratio_mean: torch.Tensor


def policy_loss(
    logp: torch.Tensor,
    logp_old: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_low: float = 0.2,
    clip_high: Optional[float] = None,
    dual_clip: Optional[float] = 3.0,
) -> PolicyLossOutput:
    """PPO's clipped surrogate with per-token importance ratios exp(logp - logp_old), token-mean
    aggregated. logp/logp_old/mask: [N, T]; advantages: [N] (one per sampled answer). A dual
    clip bounds the loss of negative-advantage tokens whose ratio exploded."""
    clip_high = clip_low if clip_high is None else clip_high
    adv = advantages.unsqueeze(-1).to(device=logp.device, dtype=logp.dtype)
    ratio = torch.exp(logp - logp_old)
    unclipped = -adv * ratio
    clipped = -adv * torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high)
    loss = torch.maximum(unclipped, clipped)
    if dual_clip is not None:
        loss = torch.where(adv < 0, torch.minimum(loss, -adv * dual_clip), loss)
    clip_frac = masked_mean(((ratio < 1.0 - clip_low) | (ratio > 1.0 + clip_high)).float(), mask)
    return PolicyLossOutput(masked_mean(loss, mask), clip_frac.detach(), masked_mean(ratio, mask).detach())


def entropy(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Token-mean entropy of the policy's next-token distributions (logits [N, T, V])."""
    # Written as -(p * log p) over log_softmax, not entr(p): entr's gradient at p = 0 is
    # infinite, and suppressed tokens do have p = 0 (their logits must be finite, see rollout).
    logp = torch.log_softmax(logits.float(), dim=-1)
    ent = -(logp.exp() * logp).sum(-1)
    return masked_mean(ent, mask)


def kl_low_var(logp: torch.Tensor, logp_ref: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Token-mean k3 estimator of KL(policy || reference): exp(d) - d - 1 with d = ref - logp
    (non-negative, low variance; verl's low_var_kl)."""
    d = (logp_ref - logp).clamp(-20, 20)
    return masked_mean(torch.exp(d) - d - 1.0, mask)


def grpo_objective(
    logp: torch.Tensor,
    logp_old: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    logits: Optional[torch.Tensor] = None,
    entropy_coef: float = 0.0,
    logp_ref: Optional[torch.Tensor] = None,
    kl_coef: float = 0.0,
    clip_low: float = 0.2,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss to minimise: policy loss - entropy_coef * entropy + kl_coef * KL; with metrics."""
    out = policy_loss(logp, logp_old, advantages, mask, clip_low=clip_low)
    loss = out.loss
    metrics = {
        "policy_loss": float(out.loss.detach()),
        "clip_fraction": float(out.clip_fraction),
        "ratio": float(out.ratio_mean),
    }
    if logits is not None:
        ent = entropy(logits, mask)
        metrics["entropy"] = float(ent.detach())
        if entropy_coef:
            loss = loss - entropy_coef * ent
    if logp_ref is not None:
        kl = kl_low_var(logp, logp_ref, mask)
        metrics["kl"] = float(kl.detach())
        if kl_coef:
            loss = loss + kl_coef * kl
    return loss, metrics
