"""The TaskClassifier's GRPO settings (spec.training) and its hybrid reward's weights."""

from __future__ import annotations

from typing import ClassVar, Literal, Optional

from pydantic import Field, model_validator

from ontask.api.wire import Model

# Sum-to-one is checked with a tolerance: YAML authors write 0.3/0.5/0.2, which is not
# exactly 1.0 in binary floating point.
WEIGHT_SUM_TOLERANCE = 1e-6


class RewardWeights(Model):
    """Weights of the hybrid reward; non-negative and summing to 1."""

    # The same rule for the API server, so a bad CR is refused before any component reads it.
    cel_rules: ClassVar[list[dict[str, str]]] = [
        {
            "rule": f"self.binary + self.judge + self.verifier >= {1 - WEIGHT_SUM_TOLERANCE!r} && "
            f"self.binary + self.judge + self.verifier <= {1 + WEIGHT_SUM_TOLERANCE!r}",
            "message": "rewardWeights must sum to 1 (binary + judge + verifier)",
        }
    ]

    binary: float = Field(0.3, ge=0.0, le=1.0, description="Weight of binary correctness against the label.")
    judge: float = Field(0.5, ge=0.0, le=1.0, description="Weight of the judge's probability of the sampled answer.")
    verifier: float = Field(0.2, ge=0.0, le=1.0, description="Weight of the rule-based visual verifier's score.")

    @model_validator(mode="after")
    def _sum_to_one(self) -> "RewardWeights":
        total = self.binary + self.judge + self.verifier
        if abs(total - 1.0) > WEIGHT_SUM_TOLERANCE:
            raise ValueError(f"rewardWeights must sum to 1 (binary + judge + verifier = {total:g})")
        return self


# How training orders its prompts (ontask.trainers.curriculum draws the batches).
Curriculum = Literal["none", "easy-first"]


# Full fine-tuning holds about 18 bytes a parameter on the device (fp32 weights, gradients and
# Adam's two moments, a bf16 rollout copy) before activations: 1B parameters fill a 24 GB GPU, the
# 3B student needs about 60 GB. From this size up, an unset training.loraRank means LoRA
# (benchmarks/bench_3b_shape measures the 3B's LoRA step).
AUTO_LORA_MIN_PARAMS = 1_000_000_000
AUTO_LORA_RANK = 16


class TrainingSpec(Model):
    """GRPO settings."""

    epochs: int = Field(10, ge=1, le=10000, description="Passes over the dataset.")
    group_size: int = Field(5, ge=2, le=256, description="Answers sampled per prompt (GRPO group, n).")
    learning_rate: float = Field(1e-6, gt=0.0, le=1.0, description="Optimizer learning rate.")
    entropy_coef: float = Field(0.01, ge=0.0, le=10.0, description="Entropy bonus against collapse onto one label.")
    kl_coef: float = Field(
        0.0, ge=0.0, le=10.0, description="KL penalty to the frozen reference model (0: no reference)."
    )
    lora_rank: Optional[int] = Field(
        None,
        ge=0,
        le=1024,
        description="0: full fine-tuning; above 0: LoRA adapters of this rank on "
        "the language model's attention (for students too large to fine-tune whole); unset: rank "
        f"{AUTO_LORA_RANK} for a student of {AUTO_LORA_MIN_PARAMS // 10**9}B parameters or more (the 3B "
        "student on one GPU: fully fine-tuned it needs about 60 GB), full fine-tuning below.",
    )
    reward_weights: RewardWeights = Field(default_factory=RewardWeights, description="Hybrid reward weights.")
    advantage_norm: Literal["batch", "group", "none"] = Field(
        "batch",
        description="What GRPO divides a group's centred rewards by: batch, one standard deviation for the step's "
        "groups, so a sure judge pushes harder than an unsure one; group, each group's own (with two answers only "
        "the sign of the reward gap survives it, and the judge's confidence is lost); none (Dr. GRPO).",
    )
    workers: int = Field(2, ge=1, le=1024, description="Training processes (PyTorchJob Master + Workers).")
    save_every: int = Field(100, ge=1, description="Optimizer steps between checkpoints.")
    eval_every: int = Field(50, ge=1, description="Optimizer steps between evaluations.")
    warm_start_steps: int = Field(
        0,
        ge=0,
        le=1_000_000,
        description="Supervised steps on the labels before GRPO in the first training "
        "(they mostly teach a fresh model the answer format).",
    )
    sync_steps: int = Field(
        10, ge=1, description="Optimizer steps between re-syncs of the rollout policy (1: on-policy)."
    )
    curriculum: Curriculum = Field(
        "none",
        description="none: prompts drawn uniformly; easy-first: rows that the verifier's rules already "
        "answer with confidence first, the share of the others (rules wrong or unsure; without window evidence, "
        "rows flagged hard) rising from 0 to their own share at half the run. Metrics report it as hard_share.",
    )

    def lora_rank_for(self, params: int) -> int:
        """The LoRA rank a student of `params` parameters trains with: loraRank where it is set,
        else AUTO_LORA_RANK from AUTO_LORA_MIN_PARAMS parameters up and full fine-tuning (0) below.

        >>> TrainingSpec().lora_rank_for(3_754_622_976), TrainingSpec().lora_rank_for(1_600_000)
        (16, 0)
        >>> TrainingSpec(lora_rank=0).lora_rank_for(3_754_622_976)
        0
        """
        if self.lora_rank is not None:
            return self.lora_rank
        return AUTO_LORA_RANK if params >= AUTO_LORA_MIN_PARAMS else 0
