"""Each component reads its environment in one settings object, once, and what it reads is what
it uses."""

from pathlib import Path

import pytest

from ontask.agent.settings import AgentSettings
from ontask.feedback.settings import LOCAL_BOOTSTRAP, KafkaSettings
from ontask.operator.settings import OperatorSettings
from ontask.serving.settings import ServingSettings


def test_every_operator_replica_gets_its_own_peering_priority_unless_the_chart_sets_one():
    a = OperatorSettings.from_env({"POD_NAME": "ontask-operator-7d9f-abcde"})
    b = OperatorSettings.from_env({"POD_NAME": "ontask-operator-7d9f-fghij"})
    assert a.replica_priority() != b.replica_priority()  # kopf freezes replicas that share one
    assert a.replica_priority() == OperatorSettings.from_env({"POD_NAME": a.pod_name}).replica_priority()
    pinned = OperatorSettings.from_env({"ONTASK_PEERING_PRIORITY": "42", "ONTASK_PEERING_LIFETIME": "5"})
    assert (pinned.replica_priority(), pinned.peering_lifetime, pinned.peering_name) == (42, 5, "ontask")


def test_the_operator_s_store_is_a_bucket_s_root():
    # Screenshot references are confined against ontask's areas at the bucket's root.
    assert OperatorSettings.from_env({"ONTASK_STORE": "s3://team/"}).store == "s3://team/"
    with pytest.raises(ValueError, match="give a bucket's root, s3://BUCKET, not a prefix in it"):
        OperatorSettings.from_env({"ONTASK_STORE": "s3://team/ontask"})


def test_a_command_s_bootstrap_flag_wins_over_the_environment_which_wins_over_the_local_broker():
    kafka = KafkaSettings.from_env({"ONTASK_KAFKA_BOOTSTRAP": "kafka.feedback:9092"})
    assert kafka.brokers("broker-1:9092", LOCAL_BOOTSTRAP) == "broker-1:9092"
    assert kafka.brokers(None, LOCAL_BOOTSTRAP) == "kafka.feedback:9092"
    assert KafkaSettings.from_env({}).brokers(None, LOCAL_BOOTSTRAP) == LOCAL_BOOTSTRAP
    secure = KafkaSettings.from_env(
        {"ONTASK_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "ONTASK_KAFKA_SASL_MECHANISM": "PLAIN"}
        | {"ONTASK_KAFKA_USERNAME": "u", "ONTASK_KAFKA_PASSWORD": "p"}
    )
    assert secure.security.client_kwargs()["security_protocol"] == "SASL_SSL"
    assert OperatorSettings.from_env({"ONTASK_KAFKA_BOOTSTRAP": "k:9092"}).kafka_bootstrap == "k:9092"


def test_the_agent_keeps_its_last_answer_in_the_user_s_state_folder_and_never_prints_its_token():
    settings = AgentSettings.from_env({"XDG_STATE_HOME": "/home/ada/.state", "ONTASK_PREDICT_TOKEN": "s3cret"})
    assert settings.state_dir() == Path("/home/ada/.state/ontask-agent")
    assert settings.token() == "s3cret" and "s3cret" not in repr(settings)
    assert AgentSettings.from_env({}).predictor == "http://127.0.0.1:8080"
    with pytest.raises(ValueError, match=r"ONTASK_PREDICTOR: 'http://\[::1' is not an http\(s\) URL"):
        AgentSettings.from_env({"ONTASK_PREDICTOR": "http://[::1"})


def test_the_agent_never_captures_password_managers_unless_its_list_is_replaced():
    from ontask.agent.capture import DEFAULT_NEVER_CAPTURE

    assert AgentSettings.from_env({}).never_capture_rules() == list(DEFAULT_NEVER_CAPTURE)
    added = AgentSettings.from_env({"ONTASK_ALSO_NEVER_CAPTURE": "signal, title:payroll"})
    assert added.never_capture_rules() == [*DEFAULT_NEVER_CAPTURE, "signal", "title:payroll"]
    replaced = AgentSettings.from_env({"ONTASK_NEVER_CAPTURE": "signal", "ONTASK_ALSO_NEVER_CAPTURE": "gimp"})
    assert replaced.never_capture_rules() == ["signal", "gimp"]
    assert AgentSettings.from_env({"ONTASK_NEVER_CAPTURE": "none"}).never_capture_rules() == []


def test_a_predictor_reads_its_token_from_the_variable_its_command_line_names():
    env = {"ONTASK_PREDICT_TOKEN": "default-token", "MY_TOKEN": "mine", "ONTASK_S3_BUCKET": "shots"}
    assert ServingSettings.from_env(env).bearer_token() == "default-token"
    assert ServingSettings.from_env(env, token_env="MY_TOKEN").bearer_token() == "mine"
    assert ServingSettings.from_env({}).bearer_token() is None
    assert ServingSettings.from_env(env).image_bucket == "shots"
