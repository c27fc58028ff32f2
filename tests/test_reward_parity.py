"""The reward a row gets in ontask's trainer is the reward verl's entry point gives the same row
exported: the judge's probability, the verifier, a person's correction, the weights."""

import pytest

from ontask.api import TaskClassifierSpec
from ontask.data.dataset import Example, read_version, write_version
from ontask.data.generate import example_at
from ontask.models.loading import load_vlm
from ontask.rewards.verl import compute_score
from ontask.store import LocalStore
from ontask.trainers.config import train_config
from ontask.trainers.rows import load_rows, row_reward
from ontask.verify import builtin_verifier_config


def test_the_trainer_and_the_verl_reward_agree_row_by_row(tmp_path, tiny_vlm):
    store = LocalStore(tmp_path / "store")
    base = [example_at(11, i) for i in range(6)]
    rows = [
        Example(**{**vars(base[0]), "label_source": "judge", "judge_p_on": 0.93, "split": "train"}),
        Example(**{**vars(base[1]), "label_source": "judge", "judge_p_on": 0.58, "split": "train"}),
        Example(**{**vars(base[2]), "label_source": "user", "split": "train"}),  # a person's correction
        Example(**{**vars(base[3]), "label_source": "verifier", "windows": [], "split": "train"}),
    ]
    write_version(store, "parity", rows, "ontask/parity", {})
    _, processor = load_vlm(str(tiny_vlm(3)))
    loaded = load_rows(store, "parity", None, processor, builtin_verifier_config(), verifier_scores=True)
    assert [r.judge_p_on for r in loaded.train] == [0.93, 0.58, None, None]
    assert loaded.train[2].correction == rows[2].label
    spec = TaskClassifierSpec.model_validate({"data": {"source": "synthetic"}})
    weights = train_config(spec, len(loaded.train)).weights
    stored = {r["extra_info"]["id"]: r for r in read_version(store, "parity").rows}
    extra_weights = spec.training.reward_weights.model_dump()
    seen = set()
    for row in loaded.train:
        r = stored[row.id]
        for text in ("on-task", "off-task", "on-task, I think"):
            ours = row_reward(text, row, weights).score
            theirs = compute_score(
                r["data_source"],
                text,
                r["reward_model"]["ground_truth"],
                {**r["extra_info"], "reward_weights": extra_weights},
            )["score"]
            assert ours == pytest.approx(theirs, abs=1e-12), (row.id, text)
            seen.add(round(ours, 6))
    assert len(seen) > 4  # the rows' rewards differ: the judge's confidence and the correction count
