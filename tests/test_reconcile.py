"""The life of a classifier as a pure plan: each branch, without a cluster."""

import json

import pytest

from ontask.api import JudgeMode, TaskClassifierSpec, TaskClassifierStatus
from ontask.evaluation.gate import Decision, Evaluation, compare_slice, decide
from ontask.operator.reconcile import Observed, plan

SPEC = TaskClassifierSpec.model_validate({"data": {"source": "synthetic"}})
NO_JUDGE = TaskClassifierSpec.model_validate(
    {
        "data": {"source": "synthetic"},
        "judge": {"enabled": False},
        "training": {"rewardWeights": {"binary": 0.8, "judge": 0, "verifier": 0.2}},
    }
)


def conds(status):
    return {c.type: (c.status, c.reason) for c in status.conditions}


def test_a_new_classifier_deploys_the_judge_and_runs_the_data_job():
    p = plan(SPEC, TaskClassifierStatus(), Observed())
    assert p.ensure == ["judge", "data"] and p.status.phase == "Bootstrapping"
    assert conds(p.status)["JudgeServing"] == ("False", "Deploying")
    assert p.events == [("Normal", "Bootstrapping", "phase Pending -> Bootstrapping")]
    assert plan(NO_JUDGE, TaskClassifierStatus(), Observed()).ensure == ["data"]


def test_data_then_training_then_serving():
    s = TaskClassifierStatus(phase="Bootstrapping")
    p = plan(SPEC, s, Observed(data="Succeeded", judge_ready=True))
    assert "train" in p.ensure and p.status.phase == "Training"
    p = plan(SPEC, p.status, Observed(data="Succeeded", train="Succeeded", judge_ready=True))
    assert p.status.model_version == "v1" and "student" in p.ensure and p.status.phase == "Training"
    p = plan(
        SPEC,
        p.status,
        Observed(data="Succeeded", train="Succeeded", judge_ready=True, student_ready=True, student_version="v1"),
    )
    assert p.status.phase == "Serving" and conds(p.status)["Ready"] == ("True", "Serving")
    assert "train" not in p.ensure and "data" not in p.ensure


def test_a_failed_job_fails_the_classifier_with_its_message():
    p = plan(
        SPEC,
        TaskClassifierStatus(phase="Training"),
        Observed(data="Succeeded", train="Failed", messages={"train": "OOMKilled"}),
    )
    assert p.status.phase == "Failed" and conds(p.status)["Ready"] == ("False", "TrainingFailed")
    assert p.events[0][0] == "Warning" and "OOMKilled" in p.events[0][2]


def _serving():
    return TaskClassifierStatus(phase="Serving", model_version="v1")


def _evaluation(promote):
    family = compare_slice([True] * 9 + [False], [True] * 5 + [False] * 5)
    regression = compare_slice([True] * 8 + [False] * 2, [True] * 7 + [False] * 3)
    return Evaluation(
        candidate={},
        serving={},
        decision=Decision(
            promote=promote,
            family=family,
            regression=regression,
            min_gain=0.01,
            max_regression=0.02,
            reason="held-out corrections 0.9 vs 0.5",
        ),
    )


def test_a_forgetting_candidate_is_refused_and_the_status_and_events_say_why():
    marker = {"cycle": 1, "dataset": "c-feedback", "version": "v1"}
    served = dict(student_ready=True, student_version="v1", judge_ready=True)
    # It learned the family (5 of 5 held-out corrections) and forgot the rest (lost 6 rows).
    cand = {
        "holdout": {"correct": [True] * 5},
        "regression": {"correct": [True] * 14 + [False] * 6, "latency_ms": {"p50": 61.0, "p90": 80.0, "p99": 90.0}},
    }
    serv = {
        "holdout": {"correct": [False] * 5},
        "regression": {"correct": [True] * 20, "latency_ms": {"p50": 42.04, "p90": 50.0, "p99": 55.0}},
    }
    decision = decide(cand, serv, min_gain=0.01, max_regression=0.02)
    assert not decision.promote and "regression set loss 0.300 > maxRegression 0.020" in decision.reason
    evaluation = Evaluation(candidate=cand, serving=serv, decision=decision)
    p = plan(SPEC, _serving(), Observed(cycle_marker=marker, cycle_job="Succeeded", evaluation=evaluation, **served))
    assert p.status.model_version == "v1" and p.status.metrics.accuracy == 1.0
    assert p.status.metrics.p50_latency_ms == 42.0  # the version still serving, not the refused one
    reason, message = conds(p.status)["Trained"][1], next(c.message for c in p.status.conditions if c.type == "Trained")
    assert reason == "NotPromoted" and "maxRegression" in message
    assert any(e[1] == "KeptServing" and "maxRegression" in e[2] for e in p.events)


def test_a_due_cycle_trains_a_candidate_and_promotes_it():
    marker = {"cycle": 1, "dataset": "c-feedback", "version": "v1"}
    served = dict(student_ready=True, student_version="v1", judge_ready=True)
    p = plan(SPEC, _serving(), Observed(cycle_marker=marker, cycle_job="Running", **served))
    assert "cycle" in p.ensure and p.status.phase == "Syncing" and p.status.candidate_version == "v2"
    p = plan(
        SPEC, p.status, Observed(cycle_marker=marker, cycle_job="Succeeded", evaluation=_evaluation(True), **served)
    )
    assert p.status.model_version == "v2" and p.status.cycle == 1 and p.status.candidate_version is None
    assert conds(p.status)["Trained"] == ("True", "Promoted") and p.status.metrics.edge_case_accuracy == 0.9
    assert any(e[1] == "Promoted" for e in p.events)


def test_a_failed_cycle_keeps_the_classifier_serving_and_says_why():
    marker = {"cycle": 1, "dataset": "c-feedback", "version": "v1"}
    served = dict(student_ready=True, student_version="v1", judge_ready=True)
    p = plan(
        SPEC, _serving(), Observed(cycle_marker=marker, cycle_job="Failed", messages={"cycle": "OOMKilled"}, **served)
    )
    assert p.status.phase == "Serving" and p.status.model_version == "v1" and p.status.candidate_version is None
    assert p.status.cycle == 1  # passed over: the next corrections make cycle 2
    assert conds(p.status)["Trained"][1] == "CycleFailed" and conds(p.status)["Ready"] == ("True", "Serving")
    assert ("Warning", "CycleFailed", "cycle 1: OOMKilled; kept v1") in p.events
    p = plan(SPEC, p.status, Observed(**served))
    assert p.status.phase == "Serving" and "cycle" not in p.ensure


def test_a_candidate_without_enough_gain_is_kept_out_with_the_reason():
    marker = {"cycle": 1, "dataset": "c-feedback", "version": "v1"}
    p = plan(
        SPEC,
        _serving(),
        Observed(
            cycle_marker=marker,
            cycle_job="Succeeded",
            evaluation=_evaluation(False),
            student_ready=True,
            student_version="v1",
            judge_ready=True,
        ),
    )
    assert p.status.model_version == "v1" and p.status.cycle == 1 and p.status.phase == "Serving"
    assert conds(p.status)["Trained"] == ("True", "NotPromoted")
    assert any(e[1] == "KeptServing" and "held-out corrections 0.9 vs 0.5" in e[2] for e in p.events)


def _canary_obs(canary, **kw):
    marker = {"cycle": 1, "dataset": "c-feedback", "version": "v1"}
    return Observed(
        cycle_marker=marker,
        cycle_job="Succeeded",
        evaluation=_evaluation(True),
        serverless=True,
        canary=canary,
        student_ready=True,
        student_version="v1",
        judge_ready=True,
        **kw,
    )


def test_in_serverless_mode_a_passing_candidate_goes_through_a_canary_first():
    p = plan(SPEC, _serving(), _canary_obs(None))
    assert "canary" in p.ensure and "student" not in p.ensure  # the canary patch owns the student
    assert p.status.model_version == "v1" and p.status.phase == "Syncing"
    assert conds(p.status)["Trained"] == ("False", "Canary")
    p = plan(SPEC, p.status, _canary_obs("Pending"))
    assert "canary" in p.ensure and p.status.model_version == "v1"
    assert p.recheck_after is None  # only the revision's readiness (an event) moves it on
    p = plan(SPEC, p.status, _canary_obs("Ready", now=1_000_000.0))  # ready: its canary window starts
    assert "canary" in p.ensure and p.status.model_version == "v1" and p.status.canary_since is not None
    assert p.recheck_after == 10 * 60  # no event ends the window: the operator looks again then
    p = plan(SPEC, p.status, _canary_obs("Ready", now=1_000_000.0 + 9 * 60))  # within canaryMinutes (10)
    assert "canary" in p.ensure and p.status.model_version == "v1" and p.recheck_after == 60
    p = plan(SPEC, p.status, _canary_obs("Ready", now=1_000_000.0 + 10 * 60))
    assert p.status.model_version == "v2" and p.status.cycle == 1 and "student" in p.ensure
    assert p.status.canary_since is None and p.status.candidate_version is None and p.recheck_after is None
    assert conds(p.status)["Trained"] == ("True", "Promoted")


def test_a_failed_canary_rolls_back_and_says_why():
    obs = _canary_obs("Failed", messages={"canary": "RevisionFailed: image pull"})
    p = plan(SPEC, _serving(), obs)
    assert p.status.model_version == "v1" and p.status.cycle == 1 and "student" in p.ensure and "canary" not in p.ensure
    assert conds(p.status)["Trained"][1] == "NotPromoted"
    kind, reason, message = next(e for e in p.events if e[1] == "CanaryRolledBack")
    assert kind == "Warning" and "image pull" in message and "rolled back to v1" in message


def test_the_canary_manifest_splits_traffic_and_the_rollout_clears_it():
    from ontask.operator.context import Context
    from ontask.operator.manifests import inference_service

    ctx = Context("c", "ns", "uid", SPEC, kserve_mode="Serverless")
    canary = inference_service(ctx, "student", "s3://b/models/v2", "v2", canary_percent=10)
    assert canary["spec"]["predictor"]["canaryTrafficPercent"] == 10
    assert canary["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Serverless"
    full = inference_service(ctx, "student", "s3://b/models/v2", "v2")
    assert (
        "canaryTrafficPercent" in full["spec"]["predictor"]
        and full["spec"]["predictor"]["canaryTrafficPercent"] is None
    )
    raw = inference_service(Context("c", "ns", "uid", SPEC), "student", "s3://b/models/v2", "v2")
    assert "canaryTrafficPercent" not in raw["spec"]["predictor"]


def test_a_cycle_job_fine_tunes_at_the_cycle_rate_and_the_first_training_does_not():
    from ontask.operator.context import Context
    from ontask.operator.manifests import training_job
    from ontask.trainers.config import train_config

    def args(job):
        return job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]["args"]

    ctx = Context("c", "ns", "uid", SPEC)
    first = training_job(ctx, "c", "v1", "v1", "Qwen/x")
    cycle = training_job(ctx, "c-feedback", "v3", "v2-candidate", "s3://b/models/v1", cycle=3)
    assert "--cycle" in args(cycle) and "--cycle" not in args(first)
    spec = SPEC.model_copy(deep=True)
    spec.feedback.learning_rate_scale = 0.25
    assert train_config(spec, 100, cycle=True).learning_rate == spec.training.learning_rate * 0.25
    assert train_config(spec, 100).learning_rate == spec.training.learning_rate


def test_the_data_job_reads_its_labelling_settings_from_the_classifier_s_spec(monkeypatch, tmp_path):
    import argparse

    from ontask.data.cli import add_arguments, resolve_settings
    from ontask.operator.context import Context
    from ontask.operator.manifests import data_job

    spec = SPEC.model_copy(deep=True)
    spec.data.source = "s3://bucket/shots/"
    spec.data.other_task_twins = False
    spec.data.min_label_confidence = 0.8
    spec.judge.mode, spec.judge.cache = JudgeMode.pointwise, False
    [container] = data_job(Context("c", "ns", "uid", spec), "c")["spec"]["template"]["spec"]["containers"]
    # The Job's command line, run with the Job's environment: the settings are the spec's.
    for e in container["env"]:
        monkeypatch.setenv(e["name"], e["value"])
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = resolve_settings(parser.parse_args(container["args"][1:]))
    assert (args.other_task_twins, args.min_confidence, args.judge_weight) == (False, 0.8, 0.5)
    assert (args.judge_mode, args.judge_cache) == ("pointwise", False)
    # A person's command line without --config gets the spec's defaults; a flag overrides one.
    args = resolve_settings(parser.parse_args(["prepare", str(tmp_path), "--name", "d", "--no-other-task-twins"]))
    assert (args.other_task_twins, args.min_confidence) == (False, 0.6)


def test_a_deprecated_field_is_a_status_warning_and_one_event():
    spec = TaskClassifierSpec.model_validate({"data": {"source": "synthetic"}, "feedback": {"syncSteps": 3}})
    first = plan(spec, TaskClassifierStatus(), Observed())
    assert first.status.warnings == spec.deprecations()
    assert [e[1] for e in first.events if e[0] == "Warning"] == ["DeprecatedField"]
    again = plan(spec, first.status, Observed())
    assert again.status.warnings == spec.deprecations() and not any(e[1] == "DeprecatedField" for e in again.events)


def test_installation_settings_come_from_the_charts_environment_typed():
    from pydantic import ValidationError

    from ontask.operator.kube_children import context_for
    from ontask.operator.settings import OperatorSettings

    env = {
        "ONTASK_IMAGE": "registry.local/ontask:1",
        "ONTASK_KSERVE_MODE": "Serverless",
        "ONTASK_S3_SECRET": "",
        "ONTASK_CHILD_S3_ENDPOINT": "http://s3.local:9000",
        "ONTASK_CHILD_WARM_START_STEPS": "400",
    }
    ctx = context_for({"name": "c", "namespace": "ns", "uid": "u"}, SPEC, OperatorSettings.from_env(env))
    assert (ctx.image, ctx.kserve_mode, ctx.s3_secret, ctx.store_uri) == (
        "registry.local/ontask:1",
        "Serverless",
        None,
        "s3://ontask/namespaces/ns",  # the namespace's folder of the store (ontask.store_paths)
    )
    # Only the S3 endpoint reaches the children: behaviour is set in the spec, not smuggled by env.
    assert ctx.env == {"S3_ENDPOINT": "http://s3.local:9000"}
    with pytest.raises(ValidationError, match="kserve_mode"):
        OperatorSettings.from_env({"ONTASK_KSERVE_MODE": "Knative-ish"})
    # The chart's kserve.prometheusScraping: KServe's annotation on every predictor.
    from ontask.operator.manifests import inference_service

    scraped = context_for(
        {"name": "c", "namespace": "ns", "uid": "u"},
        SPEC,
        OperatorSettings.from_env({"ONTASK_PROMETHEUS_SCRAPING": "true"}),
    )
    annotations = inference_service(scraped, "student", "s3://b/m/v1", "v1")["metadata"]["annotations"]
    assert annotations["serving.kserve.io/enable-prometheus-scraping"] == "true"
    assert (
        "serving.kserve.io/enable-prometheus-scraping"
        not in inference_service(ctx, "student", "s3://b/m/v1", "v1")["metadata"]["annotations"]
    )


def test_a_predictor_gets_the_spec_whole_and_reads_its_settings_from_it(monkeypatch):
    import argparse
    import json

    from ontask.operator.context import Context
    from ontask.operator.manifests import inference_service
    from ontask.serving.server import add_arguments, resolve_settings

    spec = TaskClassifierSpec.model_validate(
        {
            "data": {"source": "synthetic"},
            "serving": {"judgeBelowConfidence": 0.6, "maxQueuedRequests": 7},
            "feedback": {"topic": "team-a.corrections"},
        }
    )
    isvc = inference_service(Context("c", "ns", "uid", spec), "student", "s3://b/models/v2", "v2")
    container = isvc["spec"]["predictor"]["containers"][0]
    args, env = container["args"], {e["name"]: e.get("value") for e in container["env"]}
    assert args[args.index("--spec") + 1] == "env:ONTASK_CLASSIFIER_SPEC"
    assert not any(a in args for a in ("--judge-below", "--max-queued-requests", "--feedback-topic"))
    monkeypatch.setenv("ONTASK_CLASSIFIER_SPEC", env["ONTASK_CLASSIFIER_SPEC"])
    assert json.loads(env["ONTASK_CLASSIFIER_SPEC"]) == spec.wire()
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    served = resolve_settings(parser.parse_args(["student", *args[2:]]))
    assert (served.judge_below, served.max_queued_requests, served.feedback_topic) == (0.6, 7, "team-a.corrections")
    assert served.max_image_bytes == spec.serving.max_image_bytes
    # A flag given by hand overrides the spec's setting; without a spec, the spec's defaults hold.
    override = resolve_settings(parser.parse_args(["student", *args[2:], "--max-queued-requests", "3"]))
    assert override.max_queued_requests == 3
    # With a judge topic, the judge's corrections go there.
    judged = spec.model_copy(update={"feedback": spec.feedback.model_copy(update={"judge_topic": "team-a.judge"})})
    monkeypatch.setenv("ONTASK_CLASSIFIER_SPEC", json.dumps(judged.wire()))
    assert resolve_settings(parser.parse_args(["student", *args[2:]])).feedback_topic == "team-a.judge"
    bare = resolve_settings(parser.parse_args(["student", "--model-uri", "/m"]))
    assert bare.max_queued_requests == TaskClassifierSpec.model_fields["serving"].default_factory().max_queued_requests


def test_predictors_get_the_installation_s_kafka_security_and_its_ca():
    """A student predictor publishes the judge's corrections: it gets the protocol, the mechanism,
    the credentials by Secret reference (never by value) and the brokers' CA mounted read-only;
    the judge, which publishes nothing, gets no CA."""
    from ontask.operator.kube_children import context_for
    from ontask.operator.manifests import inference_service
    from ontask.operator.settings import OperatorSettings

    settings = OperatorSettings.from_env(
        {
            "ONTASK_KAFKA_BOOTSTRAP": "kafka:9093",
            "ONTASK_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "ONTASK_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "ONTASK_KAFKA_SECRET": "kafka-user",
            "ONTASK_KAFKA_CA_SECRET": "kafka-ca",
        }
    )
    ctx = context_for({"name": "c", "namespace": "ns", "uid": "u"}, SPEC, settings)
    student = inference_service(ctx, "student", "s3://b/models/v1", "v1")["spec"]["predictor"]
    env = {e["name"]: e for e in student["containers"][0]["env"]}
    assert env["ONTASK_KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
    assert env["ONTASK_KAFKA_SASL_MECHANISM"]["value"] == "SCRAM-SHA-512"
    assert env["ONTASK_KAFKA_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "kafka-user", "key": "password"}
    assert "value" not in env["ONTASK_KAFKA_PASSWORD"]
    assert env["ONTASK_KAFKA_CA_FILE"]["value"] == "/etc/ontask/kafka-ca/ca.crt"
    assert student["volumes"] == [{"name": "kafka-ca", "secret": {"secretName": "kafka-ca"}}]
    assert student["containers"][0]["volumeMounts"][0]["readOnly"] is True
    judge = inference_service(ctx, "judge", "s3://b/judge", "judge")["spec"]["predictor"]
    assert "volumes" not in judge or not judge["volumes"]


def test_a_renamed_deployment_mode_is_no_difference_and_ready_waits_for_the_rollout(monkeypatch):
    """KServe's webhook rewrites RawDeployment as Standard: the operator must not patch it back
    (it would, on every event, forever). In Standard mode KServe's Ready follows its predictor
    Deployment's Available, which the old pods keep during a rollout (and its
    status.observedGeneration is the Deployment's): a new version is served once that
    Deployment has rolled it out. tests/test_kserve_controller.py shows both with KServe's
    real controller."""
    from kubernetes import client as k8s

    from ontask.operator import kube_children
    from ontask.operator.context import Context
    from ontask.operator.kube_children import ChildIndexes, KubeChildren
    from ontask.operator.manifests import inference_service

    monkeypatch.setattr(kube_children, "api_client", lambda: k8s.ApiClient())
    ctx = Context("c", "ns", "uid", SPEC)
    wanted = inference_service(ctx, "student", "s3://b/models/v1", "v1")
    served = json.loads(json.dumps(wanted))
    served["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] = "Standard"  # the webhook's rewrite
    served["metadata"]["generation"] = 3
    served["status"] = {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}
    isvcs = {("ns", "c-student"): [served]}
    deployments: dict = {}
    kube = KubeChildren(ctx, ChildIndexes({}, {}, isvcs, deployments))
    patches = []
    monkeypatch.setattr(kube.custom, "patch_namespaced_custom_object", lambda *a, **k: patches.append(a))
    kube.create("student", wanted, "v1")
    assert patches == []
    assert kube.server_state("c-student") == (True, "v1")  # no Deployment (Knative mode): Ready decides
    rollout = {
        "metadata": {"generation": 2},
        "spec": {"replicas": 1, "template": {"metadata": {"annotations": {"ontask.dev/model-version": "v1"}}}},
        "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 1, "availableReplicas": 1},
    }
    deployments[("ns", "c-student-predictor")] = [rollout]
    assert kube.server_state("c-student") == (False, "v1")  # Ready, but an old pod still serves
    rollout["status"]["replicas"] = 1
    assert kube.server_state("c-student") == (True, "v1")
    served["status"]["conditions"][0]["status"] = "False"
    assert kube.server_state("c-student") == (False, "v1")
    wanted["metadata"]["annotations"]["ontask.dev/model-version"] = "v2"  # a real change is patched
    kube.create("student", wanted, "v2")
    assert len(patches) == 1


def test_child_names_leave_room_for_what_kserve_and_the_training_operator_derive():
    from ontask.operator.names import NAME_LIMITS, child_name, name_problems

    long = "a-very-long-classifier-name-for-the-customer-support-team-x"  # 59 characters
    for role, limit in NAME_LIMITS.items():
        name = child_name(long, role, cycle=123 if role == "cycle" else None)
        assert len(name) <= limit and name_problems(name) == [], (role, name)
        # Knative's longest derived Service, and a PyTorchJob's worker pods, stay DNS labels.
        derived = f"{name}-predictor-00001-private" if role in ("judge", "student") else f"{name}-worker-1023"
        assert role == "data" or len(derived) <= 63, derived
    assert child_name(long, "student") != child_name(long + "y", "student")  # hashed, not just cut
    assert child_name("support", "student") == "support-student"  # short names are kept as they are
    assert name_problems("support-desk") == []
    assert "DNS-1035" in name_problems("team.a")[0] and name_problems("1team")


def test_a_classifier_whose_name_cannot_name_its_children_fails_with_the_reason():
    from ontask.operator.handlers import _validate
    from ontask.operator.settings import OperatorSettings

    status, problems = _validate(
        SPEC.model_dump(by_alias=True), {}, 1, {"namespace": "default", "name": "team.a"}, OperatorSettings()
    )
    assert status["phase"] == "Failed" and "DNS-1035" in problems[0]
    assert (
        _validate(
            SPEC.model_dump(by_alias=True), {}, 1, {"namespace": "default", "name": "team-a"}, OperatorSettings()
        )[1]
        == []
    )


def test_customer_screenshots_wait_for_the_judge_service_which_labels_them():
    """The data Job asks the judge the cluster serves; it starts once that judge is ready."""
    from ontask.operator.context import Context
    from ontask.operator.manifests import data_job

    spec = SPEC.model_copy(deep=True)
    spec.data.source = "s3://bucket/shots/"
    waiting = plan(spec, TaskClassifierStatus(), Observed(judge_ready=False))
    assert waiting.ensure == ["judge"] and conds(waiting.status)["Ready"][1] == "Bootstrapping"
    assert "waiting for the judge" in next(c.message for c in waiting.status.conditions if c.type == "Ready")
    assert plan(spec, TaskClassifierStatus(), Observed(judge_ready=True)).ensure == ["judge", "data"]
    # A data Job already running goes on even if its judge restarts.
    assert "data" in plan(spec, TaskClassifierStatus(), Observed(data="Running", judge_ready=False)).ensure

    args = data_job(Context("c", "ns", "uid", spec), "c")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--judge-url") + 1] == "http://c-judge-predictor.ns"
    assert args[args.index("--judge-runtime") + 1] == "vllm" and "--judge" not in args  # never loaded in the Job
    assert args[-2:] == ["--config", "env:ONTASK_CLASSIFIER_SPEC"]  # the judge's mode and cache: the spec's


def test_a_shared_judge_is_used_and_waited_for_but_never_created():
    from ontask.operator.context import Context
    from ontask.operator.manifests import inference_service

    spec = TaskClassifierSpec.model_validate(
        {"data": {"source": "s3://bucket/shots/"}, "judge": {"ref": "platform-judge", "runtime": "vllm"}}
    )
    p = plan(spec, TaskClassifierStatus(), Observed(judge_ready=None))
    assert p.ensure == [] and conds(p.status)["JudgeServing"] == ("False", "Waiting")
    p = plan(spec, TaskClassifierStatus(), Observed(judge_ready=True))
    assert p.ensure == ["data"] and "platform-judge" in next(
        c.message for c in p.status.conditions if c.type == "JudgeServing"
    )
    ctx = Context("c", "ns", "uid", spec, kafka_bootstrap="kafka:9092")
    args = inference_service(ctx, "student", "s3://b/models/v1", "v1")["spec"]["predictor"]["containers"][0]["args"]
    assert args[args.index("--judge-url") + 1] == "http://platform-judge-predictor.ns"
    assert (args[args.index("--judge-runtime") + 1], args[args.index("--judge-model") + 1]) == (
        "vllm",
        "platform-judge",
    )


def test_a_vllm_judge_runs_on_kserves_huggingface_runtime_tensor_parallel():
    from ontask.operator.context import Context
    from ontask.operator.manifests import vllm_judge_service
    from ontask.operator.pods import model_storage_uri

    spec = TaskClassifierSpec.model_validate({"data": {"source": "synthetic"}, "judge": {"gpus": 4}})
    isvc = vllm_judge_service(Context("c", "ns", "uid", spec))
    model = isvc["spec"]["predictor"]["model"]
    assert model["modelFormat"] == {"name": "huggingface"}
    assert model["storageUri"] == "hf://Qwen/Qwen2.5-VL-72B-Instruct"
    assert {"--backend=vllm", "--tensor-parallel-size=4", "--model_name=judge"} <= set(model["args"])
    assert model["resources"]["limits"]["nvidia.com/gpu"] == "4"
    assert {"name": "devshm", "mountPath": "/dev/shm"} in model["volumeMounts"]
    assert isvc["spec"]["predictor"]["volumes"] == [{"name": "devshm", "emptyDir": {"medium": "Memory"}}]
    assert model_storage_uri("pvc://models/judge") == "pvc://models/judge"


def test_a_store_that_does_not_answer_is_said_and_looked_at_again_and_decides_nothing():
    served = dict(student_ready=True, student_version="v1", judge_ready=True)
    status = _serving()
    status.feedback.received = 12
    p = plan(SPEC, status, Observed(store_error="s3://ontask: AccessDenied", **served))
    assert conds(p.status)["FeedbackConnected"][:2] == ("False", "StoreUnavailable")
    assert "AccessDenied" in next(c.message for c in p.status.conditions if c.type == "FeedbackConnected")
    assert p.status.feedback.received == 12 and p.status.phase == "Serving" and "cycle" not in p.ensure
    assert p.recheck_after is not None and p.recheck_after <= 30
    p = plan(SPEC, p.status, Observed(feedback={"buffered": 13}, **served))
    assert conds(p.status)["FeedbackConnected"][:2] == ("True", "Consuming") and p.recheck_after is None


def _refused(role: str, kind: str, api_version: str, status: int, message: str):
    from ontask.operator.child_errors import child_error

    return child_error(
        role, {"kind": kind, "apiVersion": api_version, "metadata": {"name": f"c-{role}"}}, status, message
    )


def test_a_missing_training_crd_is_said_in_the_status_and_once_as_an_event():
    from ontask.operator.reconcile import CHILD_RETRY_SECONDS, with_child_errors

    before = TaskClassifierStatus(phase="Bootstrapping")
    decided = plan(SPEC, before, Observed(data="Succeeded", judge_ready=True))
    missing = _refused(
        "train", "PyTorchJob", "kubeflow.org/v1", 404, "the server could not find the requested resource"
    )
    p = with_child_errors(decided, before, [missing])
    trained = next(c for c in p.status.conditions if c.type == "Trained")
    ready = next(c for c in p.status.conditions if c.type == "Ready")
    assert (trained.status, trained.reason) == ("False", "CRDMissing") == (ready.status, ready.reason)
    assert "PyTorchJob (kubeflow.org/v1)" in trained.message and "Kubeflow training operator" in trained.message
    assert ("Warning", "CRDMissing", trained.message) in p.events
    # Nothing sends an event when the CRD is installed: the classifier looks again on its own.
    assert p.recheck_after == CHILD_RETRY_SECONDS
    # The next pass finds it still missing: the same status, and no second event.
    again = with_child_errors(plan(SPEC, p.status, Observed(data="Succeeded", judge_ready=True)), p.status, [missing])
    assert again.status == p.status
    assert not [e for e in again.events if e[0] == "Warning"]
    # Once the job could be created, the plan's own words come back.
    fixed = with_child_errors(plan(SPEC, p.status, Observed(data="Succeeded", judge_ready=True)), p.status, [])
    assert conds(fixed.status)["Trained"] == ("False", "Training") and fixed.recheck_after is None


def test_a_missing_serving_crd_says_so_on_the_judge_and_ready():
    from ontask.operator.reconcile import with_child_errors

    missing = _refused("judge", "InferenceService", "serving.kserve.io/v1beta1", 404, "not found")
    p = with_child_errors(plan(SPEC, TaskClassifierStatus(), Observed()), TaskClassifierStatus(), [missing])
    assert conds(p.status)["JudgeServing"] == ("False", "CRDMissing")
    assert conds(p.status)["Ready"] == ("False", "CRDMissing")
    assert "KServe" in next(c.message for c in p.status.conditions if c.type == "Ready")
    assert p.status.phase == "Bootstrapping"  # what it is trying to do; the conditions say why it cannot


def test_a_refused_cycle_job_keeps_a_serving_classifier_ready_and_says_why_on_trained():
    from ontask.operator.reconcile import with_child_errors

    marker = {"cycle": 1, "dataset": "c-feedback", "version": "v1"}
    obs = Observed(judge_ready=True, student_ready=True, student_version="v1", cycle_marker=marker)
    decided = plan(SPEC, _serving(), obs)
    assert "cycle" in decided.ensure
    quota = _refused(
        "cycle", "PyTorchJob", "kubeflow.org/v1", 403, 'pytorchjobs.kubeflow.org "c-cycle" is forbidden: exceeded quota'
    )
    p = with_child_errors(decided, _serving(), [quota])
    assert conds(p.status)["Ready"] == ("True", "Serving")
    trained = next(c for c in p.status.conditions if c.type == "Trained")
    assert (trained.status, trained.reason) == ("False", "Forbidden")
    assert "c-cycle: the API server answered 403" in trained.message and "exceeded quota" in trained.message


def test_an_unreachable_store_is_said_once_in_the_same_words_each_pass():
    from ontask.operator.handlers import _store_unreachable
    from ontask.operator.reconcile import CHILD_RETRY_SECONDS

    def failure(address):
        return OSError(f"<urllib3.connection.HTTPConnection object at {address}>: Failed to resolve 'minio.ontask'")

    status, events, recheck = _store_unreachable(TaskClassifierStatus(), {}, "s3://ontask", failure("0x7f01"))
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "StoreUnavailable")
    assert "s3://ontask" in ready["message"] and "Failed to resolve 'minio.ontask'" in ready["message"]
    assert events == [("Warning", "StoreUnavailable", ready["message"])] and recheck == CHILD_RETRY_SECONDS
    # The next pass fails the same way (another connection object): nothing to write, no event.
    again = _store_unreachable(TaskClassifierStatus.model_validate(status), status, "s3://ontask", failure("0x7f99"))
    assert again[:2] == (None, [])


def test_conditions_are_shaped_as_kubernetes_metav1_conditions():
    """type, status, observedGeneration, lastTransitionTime, a CamelCase reason and a message, as
    kubectl wait and kstatus read them; the transition time moves only when the status does."""
    import re

    status = TaskClassifierStatus(phase="Bootstrapping", observed_generation=7)
    p = plan(SPEC, status, Observed(judge_ready=False))
    wire = p.status.wire()["conditions"]
    assert {c["type"] for c in wire} >= {"JudgeServing", "Ready"}
    for c in wire:
        assert set(c) == {"type", "status", "observedGeneration", "lastTransitionTime", "reason", "message"}, c
        assert c["observedGeneration"] == 7 and c["message"]
        assert re.fullmatch(r"[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?", c["reason"]), c["reason"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", c["lastTransitionTime"])
    # A new generation of the spec: every condition says it was decided from it; the judge's
    # status did not change, so neither does its transition time.
    judge_before = next(c for c in p.status.conditions if c.type == "JudgeServing")
    p.status.observed_generation = 8
    again = plan(SPEC, p.status, Observed(judge_ready=False))
    judge = next(c for c in again.status.conditions if c.type == "JudgeServing")
    assert judge.observed_generation == 8 and judge.last_transition_time == judge_before.last_transition_time
    ready = plan(SPEC, again.status, Observed(judge_ready=True))
    assert next(c for c in ready.status.conditions if c.type == "JudgeServing").reason == "Ready"


def test_the_crd_says_what_metav1_condition_requires():
    from ontask.api import Condition
    from ontask.api.crd import schema_of

    schema = schema_of(Condition)
    assert set(schema["required"]) >= {"type", "status", "lastTransitionTime", "reason"}
    assert schema["properties"]["reason"]["pattern"] == r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
    assert schema["properties"]["observedGeneration"]["minimum"] == 0


def test_decided_cycles_past_keep_cycle_jobs_are_pruned_and_running_ones_never():
    keep2 = TaskClassifierSpec.model_validate({"data": {"source": "synthetic"}, "feedback": {"keepCycleJobs": 2}})
    marker = {"cycle": 5, "dataset": "c-feedback", "version": "v5"}
    served = dict(student_ready=True, student_version="v1", judge_ready=True)
    status = TaskClassifierStatus(phase="Serving", model_version="v1", cycle=4)
    # Cycle 5 running: cycles 1 and 2 are decided and out of the window (3, 4 kept), 5 untouched;
    # none left the window in this pass (a backend with an index sweeps leftovers up to 2).
    running = plan(keep2, status, Observed(cycle_marker=marker, cycle_job="Running", **served))
    assert running.prune_through == 2 and running.prune_cycles == []
    # Cycle 5 decided in this pass: cycle 3 leaves the window, by name.
    decided = plan(
        keep2, status, Observed(cycle_marker=marker, cycle_job="Succeeded", evaluation=_evaluation(False), **served)
    )
    assert decided.status.cycle == 5 and decided.prune_cycles == [3] and decided.prune_through == 3
    # The default keeps the last three; nothing goes before then.
    assert TaskClassifierSpec.model_validate({"data": {"source": "synthetic"}}).feedback.keep_cycle_jobs == 3
    assert (
        plan(SPEC, TaskClassifierStatus(phase="Serving", model_version="v1", cycle=3), Observed(**served)).prune_through
        == 0
    )
