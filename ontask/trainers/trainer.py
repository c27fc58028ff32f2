"""The GRPO training loop for the Qwen2.5-VL student (single process; the distributed launch
wraps it). Semi-online: rollouts come from a snapshot of the trained weights that is re-synced
every `sync_steps` optimizer steps, and the importance ratio corrects for the lag.

GRPO's failure mode on a tiny model is handled, not hoped away: groups whose samples all agree
carry no gradient and are dropped (DAPO's dynamic sampling), the entropy bonus keeps both
answers alive, and an optional supervised warm start on the labels (reported as such in the
metrics) teaches the answer format before the policy gradient takes over.
"""

from __future__ import annotations

import contextlib
import copy
import math
import random
import time
import zlib
from typing import Any, Callable, Optional

import torch

from ontask.labels import ON, label_of
from ontask.models.answer import AnswerTokens, p_on_task
from ontask.models.hybrid import mix
from ontask.trainers.config import TrainConfig
from ontask.trainers.curriculum import draw_batch, is_hard
from ontask.trainers.grpo import group_advantages, groups_with_signal, grpo_objective
from ontask.trainers.rollout import (
    answer_logprobs,
    collate_with_answers,
    completion_logprobs,
    model_device,
    sample_group,
)
from ontask.trainers.rows import Encoded, row_reward


def accuracy(model, rows: list[Encoded], answers: AnswerTokens, batch_size: int = 1) -> float:
    """Held-out accuracy from the two answers' first-token logits (as served), `batch_size` rows
    per left-padded forward pass (spec.data.valBatchSize)."""
    was = model.training
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(rows), max(1, batch_size)):
            chunk = rows[i : i + max(1, batch_size)]
            batch, _, _ = collate_with_answers(
                [r.inputs for r in chunk], [[] for _ in chunk], answers.pad, device=model_device(model)
            )
            model.model.rope_deltas = None
            with mixed_precision(model):
                last = model(**batch, logits_to_keep=1).logits[:, -1].float()
            p_on = torch.softmax(torch.stack([last[:, answers.on], last[:, answers.off]], 1), 1)[:, 0]
            correct += sum(label_of(q) == r.label for q, r in zip(p_on.tolist(), chunk))
    model.train(was)
    return correct / max(1, len(rows))


def mixed_precision(model) -> contextlib.AbstractContextManager:
    """bf16 compute for a model on a GPU (its weights, the optimizer's master copy, stay fp32);
    fp32 on the CPU, where bf16 matmuls are slower."""
    device = model_device(model)
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def frozen_copy(model) -> torch.nn.Module:
    """An eval-mode copy for sampling or as the KL reference; in bf16 on a GPU (it only runs
    forward passes under bf16 autocast anyway), which halves what it holds.

    Weights that do not train (a LoRA run's base) are shared with the model, not copied: they
    never change, so the copy differs from the model only in the adapters. For the 3B student
    that is 7.5 GB (bf16) the rollout policy does not hold twice (benchmarks/bench_3b_shape).
    A frozen weight is shared only where it already has the copy's dtype: converting the copy
    would otherwise convert the model's own weight in place."""
    cuda = model_device(model).type == "cuda"
    shared = {id(p): p for p in model.parameters() if not p.requires_grad and (not cuda or p.dtype == torch.bfloat16)}
    out = copy.deepcopy(model, memo=shared).eval()
    return out.to(torch.bfloat16) if cuda else out


def sft_loss_sum(model, rows: list[Encoded], answers: AnswerTokens) -> torch.Tensor:
    """Sum over rows of the cross-entropy of each row's target answer (token-mean negative
    log-likelihood), all rows in one padded forward pass (the caller divides by the global batch
    size). A row with a soft target (target_p_on) is scored against both answers, weighted by it:
    distillation from the model that gave it."""
    if not rows:
        return torch.zeros((), device=model_device(model))
    soft = [r for r in rows if r.target_p_on is not None]

    def label_share(r: Encoded) -> float:  # the target's weight on the row's own label
        return 1.0 if r.target_p_on is None else r.target_p_on if r.label == ON else 1.0 - r.target_p_on

    # Each row's label, then the other answer of each soft row, in one batch.
    prompts = [r.inputs for r in rows] + [r.inputs for r in soft]
    targets = [answers.on_ids if r.label == ON else answers.off_ids for r in rows]
    targets += [answers.off_ids if r.label == ON else answers.on_ids for r in soft]
    weights = [label_share(r) for r in rows] + [1.0 - label_share(r) for r in soft]
    with mixed_precision(model):
        logp, mask = answer_logprobs(model, prompts, targets, answers.pad)
    nll = -(logp.sum(1) / mask.sum(1))
    return (nll * torch.tensor(weights, device=nll.device, dtype=nll.dtype)).sum()


def anchor_replayed_rows(model, rows: list[Encoded], answers: AnswerTokens, weight: float) -> int:
    """Give each replayed row a soft target: `weight` of the model's own P(on-task) (the serving
    version a cycle starts from), the rest its label. Supervised steps then keep the model's
    answers on earlier data where they were (learning without forgetting) while the corrections
    move it. Returns the number of rows anchored."""
    was = model.training
    model.eval()
    n = 0
    for r in rows:
        if r.replayed and weight > 0:
            label = 1.0 if r.label == ON else 0.0
            r.target_p_on = mix(p_on_task(model, r.inputs, answers), label, weight)
            n += 1
    model.train(was)
    return n


class Trainer:
    """Warm start (optional) then GRPO, with a rollout snapshot re-synced every sync_steps."""

    def __init__(
        self,
        model,
        processor,
        train_rows: list[Encoded],
        val_rows: list[Encoded],
        cfg: TrainConfig,
        log: Callable[[dict], None] = lambda m: None,
        tokenizer_decode: Optional[Callable] = None,
        on_checkpoint: Optional[Callable[["Trainer"], None]] = None,
        reward_fn: Optional[Callable[[str, Encoded], float]] = None,
    ):
        self.model, self.processor, self.cfg = model, processor, cfg
        self.train_rows, self.val_rows, self.log = train_rows, val_rows, log
        self.answers = AnswerTokens(processor, model)
        self.optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.learning_rate)
        self.rng = random.Random(cfg.seed)
        dist = torch.distributed.is_available() and torch.distributed.is_initialized()
        self.rank = torch.distributed.get_rank() if dist else 0
        self.world = torch.distributed.get_world_size() if dist else 1
        self.step = 0
        self.rollout_model = None
        self.rollout_synced_at: list[int] = []
        self.device = model_device(model)
        # The KL anchor is the policy GRPO starts from (taken after the warm start, in train()),
        # not the weights before it; it is checkpointed, so a resumed run keeps the same one.
        self.reference = None
        self.decode = tokenizer_decode or (lambda ids: processor.tokenizer.decode(ids, skip_special_tokens=True))
        self.started = time.monotonic()
        self.history: list[dict[str, Any]] = []
        self.on_checkpoint = on_checkpoint
        self.reward_fn = reward_fn  # replaces the hybrid reward when given (custom rewards, benchmarks)
        self.hard = [is_hard(r.label, r.verifier_p_on, r.hard) for r in train_rows]

    def val_accuracy(self) -> float:
        return accuracy(self.model, self.val_rows, self.answers, self.cfg.val_batch_size)

    # -- semi-online policy snapshot ---------------------------------------------------------------
    def maybe_sync(self) -> None:
        """Copy the trained weights into the rollout policy every sync_steps optimizer steps."""
        if self.rollout_model is None:
            self.rollout_model = frozen_copy(self.model)
            self.rollout_synced_at.append(self.step)
        elif self.step % self.cfg.sync_steps == 0 and self.rollout_synced_at[-1] != self.step:
            self.rollout_model.load_state_dict(self.model.state_dict())
            self.rollout_synced_at.append(self.step)

    def out_of_time(self) -> bool:
        return self.cfg.max_minutes is not None and (time.monotonic() - self.started) / 60 > self.cfg.max_minutes

    # -- phases ----------------------------------------------------------------------------------
    # -- data parallelism (torchrun / PyTorchJob) ------------------------------------------------
    def _global_batch(self) -> list[Encoded]:
        """The step's prompts, in the curriculum's order: the same draw on every rank (same
        seed), then each rank takes its share, so N processes see exactly the prompts one
        process would."""
        progress = self.step / max(1, self.total_steps() - 1)
        return draw_batch(
            self.train_rows, self.hard, self.cfg.prompts_per_step, self.cfg.curriculum, progress, self.rng
        )

    def _local(self, batch: list) -> list:
        return batch[self.rank :: self.world]

    def _allreduce(self, values: list[float]) -> list[float]:
        if self.world == 1:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=self.device)  # NCCL reduces GPU tensors only
        torch.distributed.all_reduce(t)
        return t.tolist()

    def _sync_gradients(self) -> None:
        """Sum gradients over ranks, as DDP's all-reduce does. DDP's own hooks are not used
        because ranks run different numbers of backward passes (groups without signal are
        skipped), which DDP's bucketed hooks cannot follow."""
        if self.world == 1:
            return
        for p in self.model.parameters():
            if not p.requires_grad:
                continue
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            torch.distributed.all_reduce(p.grad)

    def _generator_for(self, row: Encoded) -> torch.Generator:
        # Keyed by (seed, step, prompt): the samples of a prompt do not depend on which rank draws them.
        return torch.Generator().manual_seed(zlib.crc32(f"{self.cfg.seed}:{self.step}:{row.id}".encode()))

    # -- phases ----------------------------------------------------------------------------------
    def warm_start(self, until: int) -> None:
        """Supervised steps on the labels up to step `until` (reported with phase=warm-start)."""
        self.model.train()
        while self.step < until:
            if self.out_of_time():
                return
            batch = self._global_batch()
            local = self._local(batch)
            loss = sft_loss_sum(self.model, local, self.answers) / len(batch)
            if loss.requires_grad:  # a rank without rows this step still joins the all-reduce
                loss.backward()
            self._sync_gradients()
            self.optimizer.step()
            self.optimizer.zero_grad()
            self.step += 1
            [total_loss] = self._allreduce([float(loss.detach())])
            metrics = {"phase": "warm-start", "step": self.step, "sft_loss": total_loss}
            if self.cfg.eval_every and self.step % self.cfg.eval_every == 0:
                metrics["val_accuracy"] = self.val_accuracy()
            self.emit(metrics)
            self._maybe_checkpoint()

    def _rollouts(self, batch: list[Encoded]) -> tuple[list[tuple], torch.Tensor, dict[str, float]]:
        """Sample each prompt's group from the rollout policy and score it: the groups, their
        rewards (group-major) and this rank's sums of the reward parts."""
        cfg = self.cfg
        groups, rewards_all = [], []
        sums = dict.fromkeys(("reward_binary", "reward_judge", "reward_verifier", "malformed"), 0.0)
        for row in batch:
            with mixed_precision(self.rollout_model):
                completions, logp_old, mask = sample_group(
                    self.rollout_model,
                    row.inputs,
                    cfg.group_size,
                    cfg.max_response_length,
                    self.answers.stop,
                    self.answers.pad,
                    temperature=cfg.temperature,
                    suppress_token_ids=self.answers.suppress,
                    generator=self._generator_for(row),
                )
            rewards = []
            for c, m in zip(completions, mask):
                text = self.decode(c[m.bool()].tolist())
                r = row_reward(text, row, cfg.weights)
                rewards.append(self.reward_fn(text, row) if self.reward_fn else r.score)
                sums["malformed"] += r.malformed
                for part in ("binary", "judge", "verifier"):
                    sums[f"reward_{part}"] += getattr(r, part)
            groups.append((row, completions, logp_old, mask))
            rewards_all.append(torch.tensor(rewards))
        return groups, (torch.cat(rewards_all) if rewards_all else torch.zeros(0)), sums

    def _update(self, groups: list[tuple], advantages: torch.Tensor, signal: torch.Tensor) -> dict[str, float]:
        """One optimizer step on the groups with signal, each weighted by its share of the step's
        tokens on all ranks (a token mean); returns this rank's token-weighted objective metrics
        (empty when no rank had a group with signal)."""
        cfg = self.cfg
        self.model.train()
        [total_tokens] = self._allreduce([sum(float(g[3].sum()) for n, g in enumerate(groups) if signal[n])])
        if not total_tokens:
            return {}
        acc = dict.fromkeys(self._objective_keys(), 0.0)
        for n, (row, completions, logp_old, mask) in enumerate(groups):
            if not signal[n]:
                continue  # dynamic sampling: a group that all agrees teaches nothing
            with mixed_precision(self.model):
                logp, logits = completion_logprobs(
                    self.model,
                    row.inputs,
                    completions,
                    mask,
                    with_logits=True,
                    suppress_token_ids=self.answers.suppress,
                    temperature=cfg.temperature,
                )
                logp_ref = None
                if self.reference is not None:
                    with torch.no_grad():
                        logp_ref, _ = completion_logprobs(
                            self.reference,
                            row.inputs,
                            completions,
                            mask,
                            suppress_token_ids=self.answers.suppress,
                            temperature=cfg.temperature,
                        )
            loss, m = grpo_objective(
                logp,
                logp_old,
                advantages[n],
                mask,
                logits=logits,
                entropy_coef=cfg.entropy_coef,
                logp_ref=logp_ref,
                kl_coef=cfg.kl_coef,
            )
            share = float(mask.sum()) / total_tokens
            (loss * share).backward()
            for k in acc:
                acc[k] += m[k] * share
        self._sync_gradients()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.optimizer.zero_grad()
        return acc

    def _objective_keys(self) -> list[str]:
        # A fixed list: every rank must all-reduce the same vector, signal or not.
        return ["policy_loss", "clip_fraction", "ratio", "entropy"] + (["kl"] if self.cfg.kl_coef > 0 else [])

    def _allreduce_named(self, values: dict[str, float]) -> dict[str, float]:
        keys = sorted(values)
        return dict(zip(keys, self._allreduce([values[k] for k in keys])))

    def _advantages(self, rewards: torch.Tensor) -> torch.Tensor:
        """Group-centred rewards divided as spec.training.advantageNorm says; `batch` takes its one
        deviation over the groups with signal on all ranks, so N workers train as one process does."""
        g, norm = self.cfg.group_size, self.cfg.advantage_norm
        if norm != "batch" or self.world == 1:
            return group_advantages(rewards, g, norm=norm)
        centred = group_advantages(rewards, g, norm="none").view(-1, g)
        live = centred[centred.abs().sum(dim=1) > 0]
        n, total, squares = self._allreduce([float(live.numel()), float(live.sum()), float((live**2).sum())])
        if not n:
            return centred.view(-1)
        std = math.sqrt(max(squares / n - (total / n) ** 2, 0.0))
        return centred.view(-1) / (std + 1e-6)

    def grpo_step(self) -> dict[str, Any]:
        """One optimizer step of GRPO over prompts_per_step prompts (split across ranks)."""
        cfg = self.cfg
        self.maybe_sync()
        t0 = time.perf_counter()
        global_batch = self._global_batch()
        groups, rewards, parts = self._rollouts(self._local(global_batch))
        signal = groups_with_signal(rewards, cfg.group_size)
        objective = self._update(groups, self._advantages(rewards).view(-1, cfg.group_size), signal)
        self.step += 1
        elapsed = time.perf_counter() - t0
        totals = self._allreduce_named(
            {
                **parts,
                **{k: objective.get(k, 0.0) for k in self._objective_keys()},
                "reward": float(rewards.sum()),
                "samples": float(len(rewards)),
                "groups_with_signal": float(signal.sum()),
                "groups": float(len(signal)),
            }
        )
        n_samples = max(1.0, totals["samples"])
        return {
            "phase": "grpo",
            "step": self.step,
            **{k: totals[k] / n_samples for k in ("reward", *parts)},
            "groups_with_signal": totals["groups_with_signal"] / max(1.0, totals["groups"]),
            "samples_per_s": n_samples / elapsed,
            "rollout_synced_at": self.rollout_synced_at[-1],
            "hard_share": sum(is_hard(r.label, r.verifier_p_on, r.hard) for r in global_batch) / len(global_batch),
            # Objective metrics exist only for a step that updated (some rank had a group with signal).
            **({k: totals[k] for k in self._objective_keys()} if totals["groups_with_signal"] else {}),
        }

    def emit(self, metrics: dict[str, Any]) -> None:
        self.history.append(metrics)
        self.log(metrics)

    # -- checkpoints and resume -----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything besides the model weights that a resumed run needs to continue the same run."""
        return {
            "step": self.step,
            "optimizer": self.optimizer.state_dict(),
            "rng": self.rng.getstate(),
            "rollout_synced_at": list(self.rollout_synced_at),
            "rollout": self.rollout_model.state_dict() if self.rollout_model is not None else None,
            "reference": self.reference.state_dict() if self.reference is not None else None,
            # Soft targets came from the model the run started from, which a resumed run no longer has.
            "soft_targets": {r.id: r.target_p_on for r in self.train_rows if r.target_p_on is not None},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.setstate(state["rng"])
        self.rollout_synced_at = list(state["rollout_synced_at"])
        if state.get("rollout") is not None:
            self.rollout_model = frozen_copy(self.model)
            self.rollout_model.load_state_dict(state["rollout"])
        soft = state.get("soft_targets") or {}
        for r in self.train_rows:
            r.target_p_on = soft.get(r.id)
        if state.get("reference") is not None:
            self.reference = frozen_copy(self.model)
            self.reference.load_state_dict(state["reference"])

    def _maybe_checkpoint(self) -> None:
        if self.on_checkpoint and self.cfg.save_every and self.step % self.cfg.save_every == 0:
            self.on_checkpoint(self)

    def total_steps(self) -> int:
        return self.cfg.warm_start_steps + self.cfg.grpo_steps

    def train(self, stop_at: Optional[int] = None) -> list[dict[str, Any]]:
        """Warm start, then GRPO steps until done (or stop_at steps, or out of time); a trainer
        whose state was loaded continues where it stopped. Returns every metrics dict."""
        end = min(self.total_steps(), stop_at) if stop_at is not None else self.total_steps()
        if self.step == 0:
            self.emit({"phase": "start", "step": 0, "val_accuracy": self.val_accuracy()})
        self.warm_start(min(self.cfg.warm_start_steps, end))
        if self.cfg.kl_coef > 0 and self.reference is None and self.step < end:
            self.reference = frozen_copy(self.model)
        while self.step < end and not self.out_of_time():
            m = self.grpo_step()
            if self.cfg.eval_every and self.step % self.cfg.eval_every == 0:
                m["val_accuracy"] = self.val_accuracy()
            self.emit(m)
            self._maybe_checkpoint()
        self.emit({"phase": "end", "step": self.step, "val_accuracy": self.val_accuracy()})
        return self.history
