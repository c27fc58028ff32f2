"""A sync cycle's promotion gate as it runs, once per cycle, in the cycle's training job (`ontask
train --compare-with`, whether the job is a cluster's PyTorchJob or embedded mode's local
process): the candidate and the serving model evaluated on the same rows as served, the decision
(ontask.evaluation.gate.decide, pure), and the evaluation stored beside the candidate. The
operator's reconcile plan reads it back and promotes the candidate or keeps serving."""

from __future__ import annotations

from typing import Optional

from ontask.api import ServingSpec
from ontask.evaluation.gate import Evaluation, decide, write_evaluation
from ontask.store import Store
from ontask.store_paths import classifier_prefix


def gate_candidate(
    store: Store,
    classifier: str,
    dataset: str,
    dataset_version: Optional[str],
    candidate_uri: str,
    candidate_version: str,
    serving_uri: str,
    serving: ServingSpec,
) -> Evaluation:
    """Evaluate the candidate and the serving model on the cycle dataset's gate slices (its
    held-out corrections and the classifier's regression set), decide by `serving`'s rules, and
    write the evaluation under the candidate's version. Returns it."""
    from ontask.evaluation.evaluate import evaluate, gate_sets

    version, sets = gate_sets(store, dataset, dataset_version)
    px = serving.model_max_pixels  # as served, whatever budget an older version was saved with
    candidate = {**evaluate(candidate_uri, sets, max_pixels=px), "dataset": dataset, "version": version}
    served = {**evaluate(serving_uri, sets, max_pixels=px), "dataset": dataset, "version": version}
    decision = decide(candidate, served, serving.promote_if_gain, serving.max_regression)
    evaluation = Evaluation(candidate=candidate, serving=served, decision=decision)
    write_evaluation(store, classifier_prefix(classifier), candidate_version, evaluation)
    return evaluation
