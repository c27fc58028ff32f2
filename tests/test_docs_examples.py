"""The examples in docstrings run and give what they show."""

import doctest
import importlib

import pytest

MODULES = [
    "ontask.agent.capture",
    "ontask.verify.titlebars",
    "ontask.evaluation.compare",
    "ontask.evaluation.hybrid",
    "ontask.verify.ocr",
    "ontask.trainers.reporting",
    "ontask.trainers.curriculum",
    "ontask.labels",
    "ontask.store_paths",
    "ontask.operator.child_state",
    "ontask.operator.child_errors",
    "ontask.evaluation.gate",
    "ontask.operator.pods",
    "ontask.trainers.grpo",
    "ontask.rewards.components",
    "ontask.feedback.cycle",
    "ontask.models.loading",
    "ontask.trainers.run",
    "ontask.realscreens.repaint",
    "ontask.verify.config",
    "ontask.models.hybrid",
    "ontask.api.training",
    "ontask.agent.client",
    "ontask.cli_inputs",
    "ontask.feedback.signatures",
]


@pytest.mark.parametrize("name", MODULES)
def test_the_documented_examples_run(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
