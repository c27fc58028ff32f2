"""The TaskClassifier models: defaults as DESIGN.md shows them, and validation."""

import pytest
from pydantic import ValidationError

from ontask.api import TaskClassifierSpec, TaskClassifierStatus

DESIGN_EXAMPLE = {
    "student": {"model": "Qwen/Qwen2.5-VL-3B-Instruct", "gpus": 1},
    "judge": {
        "model": "Qwen/Qwen2.5-VL-72B-Instruct",
        "runtime": "vllm",
        "gpus": 4,
        "mode": "preference",
        "cache": True,
    },
    "data": {
        "source": "s3://ontask/support-desk/screens/",
        "maxPromptLength": 256,
        "maxResponseLength": 16,
        "trainBatchSize": 32,
        "valBatchSize": 64,
    },
    "training": {
        "epochs": 10,
        "groupSize": 5,
        "entropyCoef": 0.01,
        "klCoef": 0.0,
        "rewardWeights": {"binary": 0.3, "judge": 0.5, "verifier": 0.2},
        "workers": 2,
        "saveEvery": 100,
        "evalEvery": 50,
    },
    "feedback": {
        "topic": "ontask.corrections",
        "bufferSize": 10000,
        "variantsPerCorrection": 10,
        "cycleEvery": 100,
        "syncSteps": 10,
    },
    "serving": {"minReplicas": 1, "maxReplicas": 4, "canaryPercent": 10, "promoteIfGain": 0.01},
    "storage": {"endpoint": "http://minio.ontask:9000", "bucket": "ontask", "secretRef": "minio-creds"},
}


def test_design_example_parses_and_round_trips():
    spec = TaskClassifierSpec.model_validate(DESIGN_EXAMPLE)
    assert spec.training.group_size == 5
    assert spec.judge.mode.value == "preference"
    assert TaskClassifierSpec.model_validate(spec.wire()) == spec


def test_defaults_are_the_design_values():
    spec = TaskClassifierSpec.model_validate({"data": {"source": "synthetic://100"}})
    wire = spec.wire()
    for section, values in DESIGN_EXAMPLE.items():
        if section in ("data", "storage"):
            continue
        for key, value in values.items():
            if (section, key) == ("feedback", "syncSteps"):  # moved: training.syncSteps
                assert wire["training"]["syncSteps"] == value and "syncSteps" not in wire["feedback"]
                continue
            assert wire[section][key] == value, (section, key)


def test_the_moved_sync_steps_is_still_read_and_says_it_is_deprecated():
    spec = TaskClassifierSpec.model_validate({"data": {"source": "synthetic"}, "feedback": {"syncSteps": 3}})
    assert spec.training.sync_steps == 3 and "deprecated" in spec.deprecations()[0]
    assert TaskClassifierSpec.model_validate({"data": {"source": "synthetic"}}).deprecations() == []
    with pytest.raises(ValidationError, match="contradicts training.syncSteps"):
        TaskClassifierSpec.model_validate(
            {"data": {"source": "synthetic"}, "feedback": {"syncSteps": 3}, "training": {"syncSteps": 4}}
        )


@pytest.mark.parametrize(
    "patch, field",
    [
        ({"training": {"rewardWeights": {"binary": -0.1, "judge": 0.9, "verifier": 0.2}}}, "binary"),
        ({"training": {"rewardWeights": {"binary": 0.5, "judge": 0.5, "verifier": 0.2}}}, "sum to 1"),
        ({"training": {"groupSize": 1}}, "groupSize"),
        ({"serving": {"minReplicas": 5, "maxReplicas": 2}}, "maxReplicas"),
        ({"student": {"model": "x", "colour": "red"}}, "colour"),
        ({"data": {}}, "source"),
        ({"judge": {"runtime": "tgi"}}, "runtime"),
    ],
)
def test_invalid_specs_are_refused_naming_the_field(patch, field):
    doc = {"data": {"source": "synthetic://10"}, **patch}
    with pytest.raises(ValidationError) as err:
        TaskClassifierSpec.model_validate(doc)
    assert field in str(err.value)


def test_weights_that_sum_to_one_in_decimal_are_accepted():
    spec = TaskClassifierSpec.model_validate(
        {"data": {"source": "s3://b/p"}, "training": {"rewardWeights": {"binary": 0.1, "judge": 0.7, "verifier": 0.2}}}
    )
    assert spec.training.reward_weights.judge == 0.7


def test_judge_disabled_with_judge_weight_is_inconsistent():
    spec = TaskClassifierSpec.model_validate({"data": {"source": "s3://b/p"}, "judge": {"enabled": False}})
    assert spec.consistency_problems() == ["judge.enabled is false but training.rewardWeights.judge > 0"]


def test_status_reads_what_the_api_server_stores():
    status = TaskClassifierStatus.model_validate(
        {
            "phase": "Serving",
            "modelVersion": "v3",
            "metrics": {"accuracy": 0.94, "p50LatencyMs": 41},
            "conditions": [{"type": "Ready", "status": "True", "reason": "Serving"}],
        }
    )
    assert status.metrics.p50_latency_ms == 41
    assert status.wire()["modelVersion"] == "v3"
    # A condition missing metav1.Condition's required fields is read, and written back whole.
    assert status.wire()["conditions"] == [
        {
            "type": "Ready",
            "status": "True",
            "lastTransitionTime": "1970-01-01T00:00:00Z",
            "reason": "Serving",
            "message": "",
        }
    ]


def test_an_unset_lora_rank_means_lora_for_the_3b_student_and_full_fine_tuning_for_a_tiny_one():
    # The 3B on one GPU cannot be fine-tuned whole (about 60 GB with Adam); a tiny CPU model can.
    t = TaskClassifierSpec.model_validate({"data": {"source": "synthetic"}}).training
    assert t.lora_rank is None
    assert t.lora_rank_for(3_754_622_976) == 16 and t.lora_rank_for(1_600_000) == 0
    explicit = TaskClassifierSpec.model_validate({"data": {"source": "s"}, "training": {"loraRank": 0}}).training
    assert explicit.lora_rank_for(3_754_622_976) == 0
