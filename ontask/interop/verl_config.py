"""The verl plan's training config read as a TaskClassifier spec, and `load_spec`: a spec from
whichever file `ontask train --config` is handed (a TaskClassifier, a bare spec, or the plan's config).

The plan that ontask grew from gives verl users ``config/task_classifier_grpo.yaml`` with
``judge_config.yaml`` and ``verifier_config.yaml`` beside it. This module maps every key of
those files onto the spec (the table is :data:`KEYS`, printed in docs/verl.md), and refuses a file
with any key it cannot honour, naming each one: a setting is never dropped without a word.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import yaml
from pydantic import ValidationError

from ontask.api import TaskClassifier, TaskClassifierSpec, read_spec_document
from ontask.verify import VerifierConfig, read_verifier_config

JUDGE_FILE = "judge_config.yaml"
VERIFIER_FILE = "verifier_config.yaml"


class VerlConfigError(ValueError):
    """The file cannot be honoured as written; the message names every offending key."""


def _only(*allowed: Any) -> Callable[[Any], None]:
    """A key whose only supported values are what ontask always does; it sets nothing."""

    def check(value: Any) -> None:
        if value not in allowed:
            raise VerlConfigError(f"supported values: {', '.join(map(repr, allowed))}")

    return check


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise VerlConfigError("expected true or false")
    return value


def _same(value: Any) -> Any:
    return value  # the spec's own validation checks the type and range


def _one_file(value: Any) -> str:
    if isinstance(value, list):
        if len(value) != 1:
            raise VerlConfigError("ontask trains from one dataset: give one path or s3:// prefix")
        value = value[0]
    return str(value)


# verl key -> (spec path, how the value converts; None: the key only checks its value).
KEYS: dict[str, tuple[Optional[str], Callable[[Any], Any]]] = {
    "model.path": ("student.model", _same),
    "model.device_map": (None, _only("auto")),
    "actor_rollout_ref.model.path": ("student.model", _same),
    "actor_rollout_ref.model.lora_rank": ("training.loraRank", _same),
    "actor_rollout_ref.rollout.n": ("training.groupSize", _same),
    "actor_rollout_ref.actor.optim.lr": ("training.learningRate", _same),
    "actor_rollout_ref.actor.entropy_coeff": ("training.entropyCoef", _same),
    "actor_rollout_ref.actor.kl_loss_coef": ("training.klCoef", _same),
    "data.train_files": ("data.source", _one_file),
    "data.max_prompt_length": ("data.maxPromptLength", _same),
    "data.max_response_length": ("data.maxResponseLength", _same),
    "data.train_batch_size": ("data.trainBatchSize", _same),
    "data.val_batch_size": ("data.valBatchSize", _same),
    "judge.enable": ("judge.enabled", _bool),
    "judge.model_path": ("judge.model", _same),
    "judge.verification_mode": ("judge.mode", _same),
    "judge.cache_judgments": ("judge.cache", _bool),
    "judge.runtime": ("judge.runtime", _same),
    "judge.gpus": ("judge.gpus", _same),
    "judge.tensor_parallel_size": ("judge.gpus", _same),
    "trainer.total_epochs": ("training.epochs", _same),
    "trainer.save_freq": ("training.saveEvery", _same),
    "trainer.eval_freq": ("training.evalEvery", _same),
    "trainer.test_freq": ("training.evalEvery", _same),
    "trainer.n_gpus_per_node": ("student.gpus", _same),
    "trainer.nnodes": ("training.workers", _same),
    "trainer.semi_online_learning.enable": (None, _bool),  # false: on-policy (below)
    "trainer.semi_online_learning.sync_steps": ("training.syncSteps", _same),
    "trainer.semi_online_learning.feedback_buffer_size": ("feedback.bufferSize", _same),
    "trainer.semi_online_learning.synthetic_variants_per_feedback": ("feedback.variantsPerCorrection", _same),
    "trainer.semi_online_learning.update_frequency": ("feedback.cycleEvery", _same),
    "algorithm.adv_estimator": (None, _only("grpo")),
    "algorithm.reward_type": (None, _only("hybrid")),
    "algorithm.reward_weights.binary_classification": ("training.rewardWeights.binary", _same),
    "algorithm.reward_weights.vlm_judge": ("training.rewardWeights.judge", _same),
    "algorithm.reward_weights.visual_verifier": ("training.rewardWeights.verifier", _same),
    "algorithm.entropy_bonus_coef": ("training.entropyCoef", _same),
}

# What each key means where the mapping alone does not say it (docs/verl.md's table).
NOTES = {
    "model.device_map": "only `auto`: ontask places the model itself (the GPU when there is one)",
    "trainer.semi_online_learning.enable": "`false` trains on-policy (`training.syncSteps: 1`); corrections are still "
    "collected from `feedback.topic`",
    "algorithm.adv_estimator": "only `grpo`",
    "algorithm.reward_type": "only `hybrid` (binary + judge + verifier, weighted)",
    "data.train_files": "one path or `s3://` prefix (a one-item list is accepted)",
}


@dataclass
class VerlTraining:
    """What a verl config folder amounts to: the spec, the verifier rules beside it (None: the
    built-in ones) and the files read."""

    spec: TaskClassifierSpec
    verifier_config: Optional[VerifierConfig] = None
    files: list[Path] = field(default_factory=list)


def looks_like_verl(doc: Any) -> bool:
    """A verl config, not a TaskClassifier or a bare spec (which have student/data/training)."""
    return (
        isinstance(doc, dict)
        and "kind" not in doc
        and "spec" not in doc
        and bool({"trainer", "algorithm", "actor_rollout_ref"} & set(doc) or isinstance(doc.get("model"), dict))
    )


def _leaves(doc: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted path -> value for every leaf; null leaves count as unset (Hydra's `null`)."""
    if isinstance(doc, dict) and doc:
        out: dict[str, Any] = {}
        for k, v in doc.items():
            out.update(_leaves(v, f"{prefix}{k}."))
        return out
    return {} if doc is None or doc == {} else {prefix[:-1]: doc}


def _set(tree: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for p in parents:
        tree = tree.setdefault(p, {})
    tree[last] = value


def spec_from_verl(
    doc: dict[str, Any], judge_doc: Optional[dict[str, Any]] = None, source: str = "synthetic"
) -> TaskClassifierSpec:
    """The spec that the plan's config and its judge file say. Raises VerlConfigError naming
    every unsupported key, bad value or conflict at once, by its verl name."""
    leaves = _leaves(doc)
    judge_leaves = {f"judge.{k}": v for k, v in _leaves((judge_doc or {}).get("judge", judge_doc or {})).items()}
    problems: list[str] = []
    for k in sorted(set(leaves) & set(judge_leaves)):
        if leaves[k] != judge_leaves[k]:
            problems.append(f"{k}: {leaves[k]!r} here but {judge_leaves[k]!r} in {JUDGE_FILE}")
    merged = {**judge_leaves, **leaves}
    spec: dict[str, Any] = {"data": {"source": source}}
    set_by: dict[str, str] = {}
    for key, value in merged.items():
        if key not in KEYS:
            problems.append(f"{key}: not supported by ontask (see the verl mapping in docs/verl.md)")
            continue
        target, convert = KEYS[key]
        try:
            converted = convert(value)
        except (VerlConfigError, TypeError, ValueError) as e:
            problems.append(f"{key}: {value!r}: {e}")
            continue
        if target is None:
            continue
        if target in set_by and _spec_value(spec, target) != converted:
            problems.append(f"{key}: {value!r} contradicts {set_by[target]} (both set {target})")
            continue
        set_by[target] = key
        _set(spec, target, converted)
    if merged.get("trainer.semi_online_learning.enable") is False:
        if "trainer.semi_online_learning.sync_steps" in merged:
            problems.append("trainer.semi_online_learning.sync_steps: set while semi_online_learning is disabled")
        _set(spec, "training.syncSteps", 1)
    try:
        validated = TaskClassifierSpec.model_validate(spec)
    except ValidationError as e:
        for err in e.errors():
            target = ".".join(str(p) for p in err["loc"])
            where = set_by.get(target)
            problems.append(f"{where}: {merged[where]!r}: {err['msg']}" if where else f"spec.{target}: {err['msg']}")
    if not problems:
        return validated
    raise VerlConfigError("the verl config cannot be honoured as written:\n  " + "\n  ".join(problems))


def _spec_value(tree: dict[str, Any], path: str) -> Any:
    for p in path.split("."):
        tree = tree[p]
    return tree


def _yaml(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text()) or {}
    if not isinstance(doc, dict):
        raise VerlConfigError(f"{path}: expected a mapping at the top level, got {type(doc).__name__}")
    return doc


def read_verl_config(path: str | Path, source: str = "synthetic") -> VerlTraining:
    """The plan's ``task_classifier_grpo.yaml`` with ``judge_config.yaml`` and
    ``verifier_config.yaml`` from the same folder when they are there."""
    path = Path(path)
    files = [path]
    judge_doc = None
    if (path.parent / JUDGE_FILE).is_file():
        judge_doc = _yaml(path.parent / JUDGE_FILE)
        files.append(path.parent / JUDGE_FILE)
    spec = spec_from_verl(_yaml(path), judge_doc, source)
    verifier = None
    if (path.parent / VERIFIER_FILE).is_file():
        verifier = read_verifier_config(path.parent / VERIFIER_FILE)
        if verifier.errors:
            raise VerlConfigError(f"{path.parent / VERIFIER_FILE}: " + "; ".join(verifier.errors))
        files.append(path.parent / VERIFIER_FILE)
    return VerlTraining(spec, verifier, files)


def load_spec(path: str | Path) -> tuple[TaskClassifierSpec, Optional[VerifierConfig]]:
    """The spec of a TaskClassifier manifest, of a bare spec mapping, or of the verl plan's
    `task_classifier_grpo.yaml` (then also the verifier rules of the `verifier_config.yaml`
    beside it; None: the built-in rules). `env:NAME` reads a spec from an environment variable
    (how the operator hands it to a PyTorchJob)."""
    doc = read_spec_document(str(path))
    if looks_like_verl(doc):
        training = read_verl_config(path)
        return training.spec, training.verifier_config
    return TaskClassifierSpec.model_validate(doc.get("spec", doc)), None


def task_classifier_yaml(training: VerlTraining, name: str) -> str:
    """The TaskClassifier to `kubectl apply`, as YAML."""
    tc = TaskClassifier(metadata={"name": name}, spec=training.spec)
    return yaml.safe_dump(tc.wire(), sort_keys=False)


def mapping_markdown() -> str:
    """docs/verl.md's table: each verl key, the spec field it sets, and what else to know."""
    lines = ["| verl key | TaskClassifier field | note |", "|---|---|---|"]
    for key, (target, _) in KEYS.items():
        lines.append(f"| `{key}` | {f'`spec.{target}`' if target else '-'} | {NOTES.get(key, '')} |")
    return "\n".join(lines)
