"""GRPO's pure functions, checked against values computed by hand."""

import math

import pytest
import torch

from ontask.trainers.grpo import (
    entropy,
    group_advantages,
    groups_with_signal,
    grpo_objective,
    kl_low_var,
    masked_mean,
    policy_loss,
)


def test_group_advantages_by_hand():
    r = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.5, 0.5, 0.5, 0.5])
    adv = group_advantages(r, 4)
    std = math.sqrt(((0.5**2) * 4) / 3)  # unbiased std of [1,0,0,1]
    assert adv[:4].tolist() == pytest.approx([0.5 / std, -0.5 / std, -0.5 / std, 0.5 / std], rel=1e-5)
    assert adv[4:].tolist() == [0.0] * 4  # no signal, no gradient
    assert group_advantages(r, 4, norm="none")[:4].tolist() == [0.5, -0.5, -0.5, 0.5]  # Dr. GRPO
    assert groups_with_signal(r, 4).tolist() == [True, False]
    with pytest.raises(ValueError):
        group_advantages(torch.ones(5), 2)


def test_token_mean_weighs_every_token_the_same():
    x = torch.tensor([[1.0, 1.0, 1.0], [4.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    assert masked_mean(x, mask).item() == pytest.approx(7 / 4)


def test_policy_loss_clips_and_counts():
    logp_old = torch.zeros(2, 2)
    logp = torch.log(torch.tensor([[1.5, 1.0], [0.5, 1.0]]))
    adv = torch.tensor([1.0, -1.0])
    mask = torch.ones(2, 2)
    out = policy_loss(logp, logp_old, adv, mask, clip_low=0.2)
    # token losses: -1*min(1.5,1.2)=-1.2, -1, max(0.5,0.8)*1=0.8, 1  -> mean 0.15
    assert out.loss.item() == pytest.approx((-1.2 - 1.0 + 0.8 + 1.0) / 4)
    assert out.clip_fraction.item() == pytest.approx(0.5)


def test_dual_clip_bounds_negative_advantages():
    out = policy_loss(
        torch.log(torch.tensor([[10.0]])), torch.zeros(1, 1), torch.tensor([-1.0]), torch.ones(1, 1), dual_clip=3.0
    )
    assert out.loss.item() == pytest.approx(3.0)


def test_on_policy_gradient_is_the_reinforce_gradient():
    logits = torch.tensor([0.3, -0.2], requires_grad=True)
    logp_all = torch.log_softmax(logits, -1)
    logp = logp_all[0].view(1, 1)
    loss = policy_loss(logp, logp.detach(), torch.tensor([2.0]), torch.ones(1, 1)).loss
    loss.backward()
    expected = -2.0 * (torch.tensor([1.0, 0.0]) - torch.softmax(logits.detach(), -1))
    assert logits.grad.tolist() == pytest.approx(expected.tolist(), rel=1e-5)


def test_entropy_and_kl():
    uniform = torch.zeros(1, 1, 4)
    assert entropy(uniform, torch.ones(1, 1)).item() == pytest.approx(math.log(4))
    lp = torch.log(torch.tensor([[0.5]]))
    assert kl_low_var(lp, lp, torch.ones(1, 1)).item() == pytest.approx(0.0)
    ref = torch.log(torch.tensor([[0.25]]))
    d = math.log(0.25) - math.log(0.5)
    assert kl_low_var(lp, ref, torch.ones(1, 1)).item() == pytest.approx(math.exp(d) - d - 1)


def test_objective_adds_entropy_bonus_and_kl():
    logits = torch.zeros(1, 1, 2)
    lp = torch.log_softmax(logits, -1)[..., 0]
    loss0, m0 = grpo_objective(lp, lp, torch.tensor([0.0]), torch.ones(1, 1), logits=logits)
    loss1, _ = grpo_objective(lp, lp, torch.tensor([0.0]), torch.ones(1, 1), logits=logits, entropy_coef=0.1)
    assert loss1.item() == pytest.approx(loss0.item() - 0.1 * math.log(2))
    assert m0["entropy"] == pytest.approx(math.log(2)) and m0["clip_fraction"] == 0.0
    _, m2 = grpo_objective(lp, lp, torch.tensor([1.0]), torch.ones(1, 1), logp_ref=lp - 0.1, kl_coef=0.01)
    assert m2["kl"] > 0


def test_entropy_gradient_is_finite_with_suppressed_tokens():
    from ontask.trainers.rollout import SUPPRESSED

    logits = torch.tensor([[[1.0, 0.5, SUPPRESSED]]], requires_grad=True)
    entropy(logits, torch.ones(1, 1)).backward()
    assert torch.isfinite(logits.grad).all()
