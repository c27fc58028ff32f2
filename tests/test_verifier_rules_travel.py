"""A model's verifier rules travel with it: a student trained with rules of its own is served and
evaluated with those rules, and a model trained from it (a sync cycle) keeps them."""

import asyncio
import base64

import pytest
import yaml
from PIL import Image

from ontask.api import TaskClassifierSpec
from ontask.data import write_version
from ontask.data.dataset import Example
from ontask.images import encode_png
from ontask.labels import OFF, ON
from ontask.store import LocalStore
from ontask.store_paths import classifier_prefix, model_key
from ontask.verify import VerifierConfig, builtin_verifier_config, model_verifier_config, score_windows

TASK = "Migrate the zorblat"
# A page the built-in rules know nothing of: without a synonym for the task's word, the verifier
# reads it as off-task.
FROBNICATOR = [{"app": "Firefox", "title": "Frobnicator console", "url": "https://frob.example/", "focused": True}]
VIDEO = [{"app": "Firefox", "title": "Funny cats - YouTube", "url": "https://youtube.com/watch?v=1", "focused": True}]


def _rules() -> VerifierConfig:
    """The built-in rules and one synonym: a frobnicator is the zorblat's tool."""
    doc = yaml.safe_load(builtin_verifier_config().text)
    doc["synonyms"]["zorblat"] = ["frobnicator"]
    return VerifierConfig.from_yaml(yaml.safe_dump(doc))


def _examples() -> list[Example]:
    out = []
    for i in range(12):
        on = i % 2 == 0
        out.append(
            Example(
                id=f"row-{i}",
                image=Image.new("RGB", (320, 200), (20 * i, 90, 160 if on else 40)),
                task=TASK,
                label=ON if on else OFF,
                label_source="manifest",
                windows=FROBNICATOR if on else VIDEO,
                split="val" if i >= 8 else "train",
            )
        )
    return out


SPEC = TaskClassifierSpec.model_validate(
    {
        "data": {"source": "synthetic", "trainBatchSize": 4, "maxResponseLength": 4},
        "judge": {"enabled": False},
        "training": {"epochs": 1, "groupSize": 2, "rewardWeights": {"binary": 0.8, "judge": 0.0, "verifier": 0.2}},
    }
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_vlm):
    """A store with the dataset and v1, trained with the custom rules."""
    from ontask.trainers.run import run_training

    store = LocalStore(tmp_path_factory.mktemp("rules") / "store")
    write_version(store, "zorblat", _examples(), "ontask/synthetic", {})
    summary = run_training(
        SPEC, store, "rules", "zorblat", str(tiny_vlm(4)), warm_start_steps=1, verifier_config=_rules()
    )
    return store, summary


def test_the_custom_rules_change_the_verifiers_verdict():
    # What the test below rests on: the built-in rules say off-task where the model's say on-task.
    assert score_windows(TASK, FROBNICATOR, builtin_verifier_config())[0] < 0.5
    assert score_windows(TASK, FROBNICATOR, _rules())[0] >= 0.5


def test_the_rules_a_model_was_trained_with_are_written_beside_it(trained):
    store, summary = trained
    folder = store.root / model_key(classifier_prefix("rules"), summary["version"])
    assert model_verifier_config(folder).synonyms["zorblat"] == ["frobnicator"]
    # Fitted on validation rows its verifier (with those rules) gets all right: the verifier answers.
    assert summary["hybrid"]["accuracy"]["verifier"] == 1.0 and summary["hybrid"]["student_weight"] == 0.0


def test_the_predictor_asks_and_answers_with_the_models_rules(trained):
    from ontask.serving.predictor import StudentPredictor

    _, summary = trained
    predictor = StudentPredictor("student", summary["model_uri"], summary["version"], "rules")
    predictor.load()
    [prompt] = predictor.student.prompts([TASK], [FROBNICATOR])
    assert "Frobnicator console <https://frob.example/> (task words: zorblat)" in prompt
    image = base64.b64encode(encode_png(Image.new("RGB", (320, 200)))).decode()
    body = {"instances": [{"image": image, "task": TASK, "windows": FROBNICATOR}]}
    [answer] = asyncio.run(predictor.predict(body))["predictions"]
    assert answer["label"] == ON
    assert answer["pOnTask"] == pytest.approx(score_windows(TASK, FROBNICATOR, _rules())[0], abs=1e-6)


def test_evaluation_and_comparison_score_with_the_models_rules(trained):
    from ontask.evaluation.compare import compare
    from ontask.evaluation.evaluate import evaluate, evaluation_sets

    store, summary = trained
    _, sets = evaluation_sets(store, "zorblat")
    assert [x.label for x in sets["val"]] == [ON, OFF, ON, OFF]
    evaluation = evaluate(summary["model_uri"], sets)
    assert evaluation["answers"] == "hybrid (student weight 0.0)"
    assert evaluation["val"]["accuracy"] == 1.0  # the built-in rules would get the on-task half wrong
    results = compare(sets, {"v1": summary["model_uri"]}, hybrid_of="v1")
    assert results["verifier alone"]["val"]["accuracy"] == 1.0
    assert results["v1 + verifier (hybrid)"]["val"]["accuracy"] == 1.0


def test_a_model_trained_from_it_without_rules_of_its_own_keeps_them(trained):
    """A sync cycle starts from the serving model and names no rules: the candidate keeps the
    serving model's, not the built-in ones."""
    from ontask.trainers.run import run_training

    store, summary = trained
    write_version(store, "zorblat-cycle", _examples(), "ontask/feedback", {})
    cycle = run_training(SPEC, store, "rules", "zorblat-cycle", summary["model_uri"], warm_start_steps=1, cycle=True)
    folder = store.root / model_key(classifier_prefix("rules"), cycle["version"])
    assert cycle["version"] == "v2" and model_verifier_config(folder).synonyms["zorblat"] == ["frobnicator"]
