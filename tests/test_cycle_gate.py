"""The collector writes a cycle's data only when the operator decided the previous cycle (one
cycle in flight, as the operator trains them), and the first only once the classifier's own
dataset, which cycles replay, exists."""

import json
from dataclasses import replace

from ontask.api import FeedbackSpec
from ontask.data import generate, write_version
from ontask.data.dataset import read_version, row_meta
from ontask.evaluation.evaluate import gate_sets
from ontask.evaluation.gate import is_regression_row
from ontask.feedback.buffer import Entry
from ontask.feedback.cycle import assemble_cycle, correction_split, next_cycle_open, write_decision
from ontask.feedback.evidence import encode_evidence
from ontask.store import LocalStore


def test_the_next_cycle_opens_once_the_previous_is_decided(tmp_path):
    store = LocalStore(tmp_path)
    prefix = "classifiers/focus"
    assert not next_cycle_open(store, prefix, 0, "focus")  # no dataset to replay yet
    write_version(store, "focus", list(generate(4, seed=1)), "ontask/synthetic", {})
    assert next_cycle_open(store, prefix, 0, "focus")
    assert not next_cycle_open(store, prefix, 1, "focus")  # cycle 1's data written, not decided
    write_decision(store, prefix, 1, "NotPromoted")
    write_decision(store, prefix, 1, "NotPromoted")  # again after a crash: harmless
    assert next_cycle_open(store, prefix, 1, "focus") and not next_cycle_open(store, prefix, 2, "focus")


def test_the_collector_deployment_and_embedded_mode_share_one_trigger(tmp_path):
    """Both run ontask.feedback.loop's trigger: due by the spec, and, where an operator trains
    the cycles, only once it decided the previous one; by hand (no operator) as soon as due."""
    from ontask.feedback.collector import Collector
    from ontask.feedback.loop import CycleTrigger
    from ontask.feedback.state import CycleProgress

    store = LocalStore(tmp_path)
    collector = Collector("focus", FeedbackSpec(cycle_every=5), store, "unused:9092")
    operated, by_hand = CycleTrigger("focus"), CycleTrigger("focus", operator_decides=False)
    try:
        collector.state.cycle = CycleProgress(new=4, first_new_at=collector.clock())  # waited no time
        assert not by_hand.fires(collector)  # 4 of cycleEvery 5
        collector.state.cycle.new = 5
        assert by_hand.fires(collector) and not operated.fires(collector)  # no dataset to replay yet
        write_version(store, "focus", list(generate(4, seed=1)), "ontask/synthetic", {})
        assert operated.fires(collector)
        collector.state.cycle = CycleProgress(number=1, new=5, first_new_at=collector.clock())
        assert not operated.fires(collector)  # cycle 1 not decided
        write_decision(store, "classifiers/focus", 1, "Promoted")
        assert operated.fires(collector)
    finally:
        collector.close()


def _entries(store, n: int) -> list[Entry]:
    from ontask.images import encode_png

    out = []
    for k, ex in enumerate(generate(n, seed=7)):
        key = f"feedback/shot-{k}.png"
        store.put_bytes(key, encode_png(ex.image), "image/png")
        store.put_bytes(f"feedback/windows-{k}.json", encode_evidence(ex.windows))
        out.append(
            Entry(f"corr-{k}", f"c{k}", f"h{k}", key, ex.task, ex.label, "user", 0.0, f"feedback/windows-{k}.json")
        )
    return out


def test_a_cycle_holds_out_whole_corrections_and_the_gate_never_sees_a_trained_row(tmp_path):
    store = LocalStore(tmp_path)
    write_version(store, "focus", list(generate(40, seed=1)), "ontask/synthetic", {})
    spec = FeedbackSpec(variants_per_correction=3, replay_ratio=0.5, holdout_fraction=0.2)
    manifest = assemble_cycle(store, "focus", 1, _entries(store, 30), spec, replay_dataset="focus")
    ds = read_version(store, manifest["name"], manifest["version"])
    by_split: dict[str, set[str]] = {}
    for r in ds.rows:
        meta = row_meta(r)
        correction = meta.get("correction") or meta.get("parent")  # a variant names its parent row
        if correction is not None and not str(correction).startswith("fb-"):
            correction = f"fb-{correction}"
        by_split.setdefault(r["extra_info"]["split"], set()).add(correction)
    by_split["train"].discard(None)  # replayed rows
    by_split["val"].discard(None)  # calibration rows
    assert by_split["holdout"] and by_split["val"] and by_split["train"]
    assert not by_split["holdout"] & by_split["train"] and not by_split["val"] & by_split["train"]
    assert manifest["made_by"]["corrections_by_split"]["holdout"] == len(by_split["holdout"])

    version, sets = gate_sets(store, manifest["name"], manifest["version"])
    trained_images = {r["extra_info"]["image_sha256"] for r in ds.split("train")}
    gated = [r for r in ds.rows if r["extra_info"]["split"] == "holdout"]
    assert len(sets["holdout"]) == len([r for r in gated if r["extra_info"]["hard_kind"] == "correction"])
    assert not {r["extra_info"]["image_sha256"] for r in gated} & trained_images
    # The regression set is part of the classifier's own validation split, which no cycle trains
    # on; the other part calibrates the candidate's hybrid, so it is not scored either.
    own_val = read_version(store, "focus").split("val")
    regression = {r["extra_info"]["id"] for r in own_val if is_regression_row(r["extra_info"]["id"])}
    assert len(sets["regression"]) == len(regression) > 0
    replayed = {r["extra_info"]["id"].removeprefix("replay-") for r in ds.split("train")}
    calibration = {
        r["extra_info"]["id"].removeprefix("calibration-")
        for r in ds.split("val")
        if r["extra_info"]["reason"] == "calibration"
    }
    assert not replayed & regression and not calibration & regression
    assert calibration == {r["extra_info"]["id"] for r in own_val} - regression


def test_reviewed_corrections_held_out_once_join_every_later_cycle_s_regression_set(tmp_path):
    store = LocalStore(tmp_path)
    write_version(store, "focus", list(generate(40, seed=1)), "ontask/synthetic", {})
    spec = FeedbackSpec(variants_per_correction=1, replay_ratio=0.0, holdout_fraction=0.3)
    entries = _entries(store, 24)
    reviewed = [replace(e, source="reviewer") for e in entries[:12]]
    first = assemble_cycle(store, "focus", 1, reviewed + entries[12:], spec, replay_dataset="focus")
    _, sets_1 = gate_sets(store, first["name"], first["version"])
    held_reviewed = [e for e in reviewed if correction_split(e.id, 0.3) == "holdout"]
    held_user = [e for e in entries[12:] if correction_split(e.id, 0.3) == "holdout"]
    assert held_reviewed and held_user

    second = assemble_cycle(store, "focus", 2, _entries(store, 24)[:2], spec, replay_dataset="focus")
    _, sets_2 = gate_sets(store, second["name"], second["version"])
    # The regression set grows by cycle 1's held-out reviewed corrections (not their variants, not
    # the users' corrections), and cycle 1's own gate did not count them as regression rows.
    assert len(sets_2["regression"]) == len(sets_1["regression"]) + len(held_reviewed)
    added = sets_2["regression"][len(sets_1["regression"]) :]
    assert sorted(x.task for x in added) == sorted(e.task for e in held_reviewed)


def test_the_same_correction_lands_in_the_same_split_in_every_cycle():
    splits = [correction_split(f"c-{i}", 0.2) for i in range(200)]
    assert splits == [correction_split(f"c-{i}", 0.2) for i in range(200)]
    assert 0.1 < splits.count("holdout") / 200 < 0.3 and 0.1 < splits.count("val") / 200 < 0.3


FORGETTING_SPEC = """apiVersion: ontask.dev/v1alpha1
kind: TaskClassifier
metadata: {name: focus}
spec:
  data: {source: synthetic, trainBatchSize: 8, maxResponseLength: 4}
  judge: {enabled: false}
  training: {epochs: 1, groupSize: 2, learningRate: 0.01, evalEvery: 1000, saveEvery: 100000,
             rewardWeights: {binary: 1.0, judge: 0.0, verifier: 0.0}}
  feedback: {variantsPerCorrection: 1, replayRatio: 0.0, learningRateScale: 1.0, holdoutFraction: 0.3}
  serving: {promoteIfGain: 0.0, maxRegression: 0.02}
"""


def test_a_cycle_that_forgets_is_refused_by_the_gate_with_the_reason(tmp_path, tiny_vlm):
    """The serving model answers its own screens right; a cycle of corrections that all say the
    opposite, at a high rate with nothing replayed, forgets the rest: the job's gate refuses it
    and says why, with both slices recorded."""
    import subprocess
    import sys

    from ontask.evaluation.gate import read_evaluation
    from ontask.interop.verl_config import load_spec
    from ontask.trainers.run import run_training
    from tests.conftest import REPO

    store = LocalStore(tmp_path / "store")
    (tmp_path / "tc.yaml").write_text(FORGETTING_SPEC)
    spec, _ = load_spec(tmp_path / "tc.yaml")
    # The classifier's own screens are all off-task (its regression set is their val split).
    own = [replace(x, label="off-task") for x in generate(32, seed=4)]  # 5 regression rows
    write_version(store, "focus", own, "ontask/synthetic", {})
    base = tiny_vlm(5)
    v1 = run_training(spec, store, "focus", "focus", str(base), warm_start_steps=20, model_version="v1")
    corrections = _entries(store, 12)
    for e in corrections:
        e.label = "on-task"
    assemble_cycle(store, "focus", 1, corrections, spec.feedback, replay_dataset="focus")
    out = subprocess.run(
        [sys.executable, "-m", "ontask.cli", "train", "--config", str(tmp_path / "tc.yaml")]
        + ["--store", str(tmp_path / "store"), "--classifier", "focus", "--dataset", "focus-feedback"]
        + ["--base-model", v1["model_uri"], "--cycle", "--warm-start-steps", "20", "--model-version", "v2"]
        + ["--compare-with", v1["model_uri"]],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    decision = read_evaluation(store, "classifiers/focus", "v2").decision
    assert decision.regression is not None and decision.regression.serving_accuracy == 1.0
    assert decision.regression.losses > 0 and decision.family is not None and decision.family.n > 0
    assert not decision.promote and "maxRegression" in decision.reason, decision.reason
    assert "keep the serving version" in out.stdout and "maxRegression" in out.stdout


def test_an_evaluation_an_earlier_ontask_wrote_is_read_as_a_refusal_not_an_error(tmp_path):
    from ontask.evaluation.gate import read_evaluation
    from ontask.store_paths import evaluation_key

    store = LocalStore(tmp_path)
    old = {
        "candidate": {"val": {"accuracy": 0.9, "n": 10}},
        "serving": {"val": {"accuracy": 0.8, "n": 10}},
        "decision": {"promote": True, "gain": 0.1, "candidate_accuracy": 0.9, "serving_accuracy": 0.8,
                     "min_gain": 0.01, "reason": "accuracy 0.900 vs 0.800"},
    }  # fmt: skip
    store.put_bytes(evaluation_key("classifiers/focus", "v2"), json.dumps(old).encode(), "application/json")
    evaluation = read_evaluation(store, "classifiers/focus", "v2")
    assert not evaluation.decision.promote and "format this gate does not read" in evaluation.decision.reason


def test_a_cycle_replays_the_corrected_tasks_rows_of_the_other_label(tmp_path):
    """Half of a cycle's replay (feedback.contrastShare) is the corrected tasks' screens of the
    other label: a lesson "this screen is on-task" comes with the same tasks' off-task screens."""
    store = LocalStore(tmp_path)
    write_version(store, "focus", list(generate(200, seed=1)), "ontask/synthetic", {})
    entries = [e for e in _entries(store, 40) if e.label == "on-task"][:6]
    spec = FeedbackSpec(variants_per_correction=1, replay_ratio=2.0, holdout_fraction=0.05, contrast_share=0.5)
    manifest = assemble_cycle(store, "focus", 1, entries, spec, replay_dataset="focus")
    ds = read_version(store, manifest["name"], manifest["version"])
    trained = [r for r in ds.split("train") if r["extra_info"]["reason"] != "replay"]
    tasks = {r["extra_info"]["task"] for r in trained if r["extra_info"]["hard_kind"] == "correction"}
    replayed = [r for r in ds.split("train") if r["extra_info"]["reason"] == "replay"]
    contrasts = [
        r for r in replayed if r["extra_info"]["task"] in tasks and r["reward_model"]["ground_truth"] == "off-task"
    ]
    assert len(replayed) == round(2.0 * len(trained))
    assert len(contrasts) >= len(replayed) // 2
    # Without it, the replay is a sample of all training rows, where such rows are few.
    plain = assemble_cycle(
        store, "focus", 2, entries, spec.model_copy(update={"contrast_share": 0.0}), replay_dataset="focus"
    )
    again = read_version(store, plain["name"], plain["version"]).split("train")
    few = [
        r
        for r in again
        if r["extra_info"]["reason"] == "replay"
        and r["extra_info"]["task"] in tasks
        and r["reward_model"]["ground_truth"] == "off-task"
    ]
    assert len(few) < len(contrasts) // 2
