"""Reward components, the hybrid, the human override, and verl's custom reward entry point."""

import importlib.util

import pytest

from ontask.rewards import Weights, hybrid_reward, parse_answer
from tests.conftest import REPO


@pytest.mark.parametrize(
    "text, label",
    [
        ("on-task", "on-task"),
        ("off-task\n", "off-task"),  # the end-of-answer token decodes to nothing or whitespace
        # Serving reads the label from the answers' first tokens; none of these begins with one.
        ("Off-task.", None),
        ("on task", None),
        ("OFF_TASK", None),
        ("The person is on-task", None),
        ("", None),
        ("maybe", None),
        ("on-task or off-task", None),
        ("ontask", None),
    ],
)
def test_parse_answer_accepts_exactly_what_serving_reads(text, label):
    assert parse_answer(text) == label


def test_hybrid_is_the_weighted_sum():
    w = Weights(0.3, 0.5, 0.2)
    r = hybrid_reward("on-task", "on-task", w, judge_p_on=0.8, verifier_p_on=0.6)
    assert (r.binary, r.judge, r.verifier) == (1.0, 0.8, 0.6)
    assert r.score == pytest.approx(0.3 * 1 + 0.5 * 0.8 + 0.2 * 0.6)
    wrong = hybrid_reward("off-task", "on-task", w, judge_p_on=0.8, verifier_p_on=0.6)
    assert wrong.score == pytest.approx(0.3 * 0 + 0.5 * 0.2 + 0.2 * 0.4)


def test_malformed_answer_gets_zero_and_is_counted():
    r = hybrid_reward("I think it is fine", "on-task", Weights.from_spec(), judge_p_on=0.9, verifier_p_on=0.9)
    assert r.score == 0.0 and r.malformed


def test_a_human_correction_overrides_everything():
    # The label and both scorers say on-task; the human said off-task: only agreeing with the human pays.
    r = hybrid_reward(
        "on-task", "on-task", Weights.from_spec(), judge_p_on=0.99, verifier_p_on=0.99, correction="off-task"
    )
    assert r.score == 0.0 and r.overridden
    assert hybrid_reward("off-task", "on-task", Weights.from_spec(), 0.99, 0.99, correction="off-task").score == 1.0


def _load_like_verl(path: str, name: str):
    """How verl loads `custom_reward_function.path` / `.name`."""
    spec = importlib.util.spec_from_file_location("custom_module", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def test_verl_entry_point_loads_by_file_path_and_returns_the_documented_dict():
    compute_score = _load_like_verl(str(REPO / "ontask" / "rewards" / "verl.py"), "compute_score")
    extra = {
        "task": "Fix the failing unit test in the payment service",
        "windows": '[{"app": "Visual Studio Code", "title": "payment_service.py - Visual Studio Code", '
        '"focused": true}]',
        "judge_p_on_task": 0.7,
    }
    out = compute_score(
        data_source="ontask/synthetic", solution_str="on-task", ground_truth="on-task", extra_info=extra
    )
    assert set(out) >= {"score", "binary", "judge", "verifier"}
    assert out["binary"] == 1.0 and out["judge"] == pytest.approx(0.7) and out["verifier"] > 0.5
    assert out["score"] == pytest.approx(0.3 * 1 + 0.5 * 0.7 + 0.2 * out["verifier"])
    # Without a judge probability the judge weight is spread over binary and verifier.
    no_judge = compute_score("ontask/synthetic", "off-task", "on-task", {"task": extra["task"]})
    assert no_judge["judge"] == 0.0 and no_judge["binary"] == 0.0
    # verl's batch manager calls with keyword lists per item; a plain call per item works too.
    assert compute_score("x", "garbage", "on-task")["score"] == 0.0


def test_verls_reward_scores_with_the_rules_file_its_config_names(tmp_path):
    """`ontask export verl` names its rules file in reward_kwargs, which verl passes to every call:
    a task word's synonym in that file turns the verifier's score; without it, the built-in rules."""
    import yaml

    from ontask.rewards.verl import compute_score
    from ontask.verify import builtin_verifier_config

    rules = yaml.safe_load(builtin_verifier_config().text)
    rules["synonyms"]["zorblat"] = ["frobnicator"]
    (tmp_path / "verifier_config.yaml").write_text(yaml.safe_dump(rules))
    extra = {"task": "Migrate the zorblat", "windows": [{"app": "Firefox", "title": "Frobnicator", "focused": True}]}
    builtin = compute_score("x", "on-task", "on-task", extra)["verifier"]
    own = compute_score("x", "on-task", "on-task", extra, verifier_config=str(tmp_path / "verifier_config.yaml"))
    assert builtin < 0.5 <= own["verifier"]


def test_the_judges_confidence_changes_the_training_signal():
    """Two rows, the same answers sampled, one judge 95% sure and one 55% sure: with the default
    advantage normalisation the sure one pushes harder; with each group's own std (plain GRPO),
    two answers leave only the sign, and the judge's confidence is lost."""
    import torch

    from ontask.api import TrainingSpec
    from ontask.trainers.grpo import group_advantages

    answers = ["on-task", "off-task", "on-task", "off-task"]
    w = Weights(0.3, 0.5, 0.2)
    rewards = torch.tensor(
        [hybrid_reward(a, "on-task", w, judge_p_on=p, verifier_p_on=0.6).score for p in (0.95, 0.55) for a in answers]
    )
    default = group_advantages(rewards, 4, TrainingSpec().advantage_norm).view(2, 4)
    assert default[0, 0] > 1.5 * default[1, 0] > 0
    per_group = group_advantages(rewards, 4, "group").view(2, 4)
    assert per_group[0].tolist() == pytest.approx(per_group[1].tolist(), abs=1e-4)  # eps in the std


def test_a_missing_scorer_shares_its_weight_out_the_same_way_everywhere():
    w = Weights(0.3, 0.5, 0.2)
    no_judge = hybrid_reward("on-task", "on-task", w, judge_p_on=None, verifier_p_on=0.5)
    assert no_judge.score == pytest.approx(0.6 * 1 + 0.4 * 0.5)
    compute_score = _load_like_verl(str(REPO / "ontask" / "rewards" / "verl.py"), "compute_score")
    extra = {"task": "Write the report", "reward_weights": {"binary": 0.3, "judge": 0.5, "verifier": 0.2}}
    assert compute_score("x", "on-task", "on-task", extra)["score"] == pytest.approx(no_judge.score)
