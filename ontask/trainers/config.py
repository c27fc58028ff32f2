"""The training loop's settings (`TrainConfig`), each defaulting to the spec's, and `train_config`:
the one place they are derived from a TaskClassifier spec."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from ontask.api import DataSpec, TaskClassifierSpec, TrainingSpec
from ontask.rewards.components import Weights
from ontask.trainers.curriculum import Curriculum


def _spec_default(model, name: str):
    return model.model_fields[name].default


@dataclass
class TrainConfig:
    """The loop's settings. `train_config` (below) derives them from a spec; the defaults here
    are the spec's, so a loop built by hand trains as a default classifier does."""

    group_size: int = _spec_default(TrainingSpec, "group_size")
    learning_rate: float = _spec_default(TrainingSpec, "learning_rate")
    entropy_coef: float = _spec_default(TrainingSpec, "entropy_coef")
    kl_coef: float = _spec_default(TrainingSpec, "kl_coef")
    weights: Weights = field(default_factory=Weights.from_spec)
    sync_steps: int = _spec_default(TrainingSpec, "sync_steps")
    max_response_length: int = _spec_default(DataSpec, "max_response_length")
    prompts_per_step: int = _spec_default(DataSpec, "train_batch_size")
    val_batch_size: int = _spec_default(DataSpec, "val_batch_size")
    warm_start_steps: int = _spec_default(TrainingSpec, "warm_start_steps")
    grpo_steps: int = 100  # the spec says epochs; train_config turns them into steps
    eval_every: int = _spec_default(TrainingSpec, "eval_every")
    save_every: int = _spec_default(TrainingSpec, "save_every")
    max_minutes: Optional[float] = None
    temperature: float = 1.0  # sampling and scoring alike
    advantage_norm: str = _spec_default(TrainingSpec, "advantage_norm")
    seed: int = 0
    curriculum: Curriculum = _spec_default(TrainingSpec, "curriculum")


def config_dict(cfg: TrainConfig) -> dict[str, Any]:
    """The settings as plain values, for the metrics line that opens a run."""
    d = asdict(cfg)
    d["weights"] = asdict(cfg.weights)
    return d


def train_config(
    spec: TaskClassifierSpec,
    n_train: int,
    warm_start_steps: Optional[int] = None,
    max_minutes: Optional[float] = None,
    cycle: bool = False,
    supervised_only: bool = False,
) -> TrainConfig:
    """The loop's settings from the spec, in this one place: GRPO steps cover `epochs` passes over
    the data; a sync cycle trains at feedback.learningRateScale times the learning rate, after
    feedback.cycleWarmStartSteps supervised steps (training.warmStartSteps for a first
    training). `warm_start_steps` overrides the spec's. `supervised_only` turns the GRPO steps
    into as many more supervised ones: the control arm that says what GRPO adds."""
    if warm_start_steps is None:
        warm_start_steps = spec.feedback.cycle_warm_start_steps if cycle else spec.training.warm_start_steps
    t = spec.training
    lr = t.learning_rate * (spec.feedback.learning_rate_scale if cycle else 1.0)
    per_step = min(spec.data.train_batch_size, max(1, n_train))
    steps = max(1, t.epochs * n_train // per_step)
    if supervised_only:
        warm_start_steps, steps = warm_start_steps + steps, 0
    return TrainConfig(
        group_size=t.group_size,
        learning_rate=lr,
        entropy_coef=t.entropy_coef,
        kl_coef=t.kl_coef,
        weights=Weights.from_spec(t.reward_weights),
        sync_steps=t.sync_steps,
        advantage_norm=t.advantage_norm,
        max_response_length=spec.data.max_response_length,
        prompts_per_step=per_step,
        val_batch_size=spec.data.val_batch_size,
        warm_start_steps=warm_start_steps,
        grpo_steps=steps,
        eval_every=t.eval_every,
        save_every=t.save_every,
        max_minutes=max_minutes,
        curriculum=t.curriculum,
    )
