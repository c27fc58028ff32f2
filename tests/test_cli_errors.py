"""The `ontask` command as a user meets it: its version, and bad input answered in one line that
names the input and what to do, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import ontask
from tests.conftest import REPO


def ontask_cli(
    *args: str, timeout: float = 300, cwd: Path = REPO, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ontask.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", **(env or {})},
    )


def one_line(out: subprocess.CompletedProcess[str]) -> str:
    """The one line the command printed on stderr (failing when it printed a traceback or more)."""
    assert "Traceback" not in out.stderr, out.stderr
    [line] = out.stderr.strip().splitlines()
    return line


def test_version():
    out = ontask_cli("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"ontask {ontask.__version__}"


def test_the_agent_never_sends_its_token_over_plain_http_to_another_machine():
    token = {"ONTASK_PREDICT_TOKEN": "s3cret"}
    out = ontask_cli("agent", "run", "--task", "t", "--predictor", "http://ontask-student.team", env=token)
    assert out.returncode == 2
    assert one_line(out) == (
        "ontask: error: predictor http://ontask-student.team (--predictor or ONTASK_PREDICTOR): a token over plain "
        "http to ontask-student.team would travel readable; give an https:// URL (or a port-forward to 127.0.0.1)"
    )
    assert "s3cret" not in out.stderr


def test_bad_windows_json_names_the_flag(tmp_path):
    shot = tmp_path / "shot.png"
    shot.write_bytes(b"\x89PNG")
    for windows, says in (("{bad", "not JSON"), ('{"app": "x"}', "a JSON list")):
        out = ontask_cli(
            "feedback", "send", "--classifier", "c", "--task", "t", "--label", "on-task", "--image", str(shot),
            "--windows", windows,
        )  # fmt: skip
        assert out.returncode == 2
        assert f"argument --windows: {says}" in out.stderr
        assert "Traceback" not in out.stderr


def test_an_unreachable_kafka_is_one_line_naming_the_brokers(tmp_path):
    shot = tmp_path / "shot.png"
    shot.write_bytes(b"\x89PNG")
    out = ontask_cli(
        "feedback", "send", "--classifier", "c", "--task", "t", "--label", "on-task", "--image", str(shot),
        "--bootstrap", "127.0.0.1:1", "--timeout", "2",
    )  # fmt: skip
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    [line] = out.stderr.strip().splitlines()
    assert line.startswith("ontask: error: cannot reach Kafka at 127.0.0.1:1: ")
    assert line.endswith("give the brokers with --bootstrap (or ONTASK_KAFKA_BOOTSTRAP) and check they are up")


FIELDS_HINT = "(`ontask crd` lists every field with its type)"

# A --config file that cannot be used: its text, and what the line says after the file's path.
BAD_CONFIGS = {
    "yaml-syntax": (
        "spec:\n  data:\n\tsource: synthetic\n",
        "not valid YAML at line 3, column 1: found character '\\t' that cannot start any token; fix the syntax there",
    ),
    "yaml-unclosed": (
        "spec:\n  data:\n    source: [synthetic\n",
        "not valid YAML at line 4, column 1: expected ',' or ']', but got '<stream end>' (while parsing a flow "
        "sequence from line 3, column 13); fix the syntax there",
    ),
    "invalid-field": (
        "spec:\n  data:\n    source: synthetic\n    syntheticRows: lots\n",
        "spec.data.syntheticRows: Input should be a valid integer, unable to parse string as an integer "
        f"(got 'lots'); fix that field {FIELDS_HINT}",
    ),
    "invalid-fields": (
        "data: {source: synthetic}\ntraining: {rewardWeights: {judge: 2}}\ncolour: blue\n",
        "training.rewardWeights.judge: Input should be less than or equal to 1 (got 2); colour: Extra inputs are "
        f"not permitted (got 'blue'); fix those fields {FIELDS_HINT}",
    ),
    "not-a-mapping": (
        "- synthetic\n",
        "expected a TaskClassifier or its spec as a YAML mapping, got a list; check it is the right file",
    ),
}


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_a_config_that_cannot_be_used_is_one_line_naming_the_file_and_where(tmp_path, case):
    text, says = BAD_CONFIGS[case]
    config = tmp_path / "classifier.yaml"
    config.write_text(text)
    out = ontask_cli("data", "generate", "--config", str(config), "--out", str(tmp_path / "store"))
    assert out.returncode == 2
    assert one_line(out) == f"ontask: error: {config}: {says}"
    assert not (tmp_path / "store").exists()


# Every command that takes a TaskClassifier, with the flag it takes it by.
CONFIG_COMMANDS = {
    "data generate": ["data", "generate", "--config"],
    "data prepare": ["data", "prepare", ".", "--name", "d", "--config"],
    "train": ["train", "--classifier", "c", "--dataset", "d", "--base-model", "m", "--store", ".", "--config"],
    "export verl": ["export", "verl", "--dataset", "d", "--store", ".", "--out", "x", "--config"],
    "feedback collect": ["feedback", "collect", "--classifier", "c", "--store", "s", "--config"],
    "serve": ["serve", "student", "--model-uri", "m", "--spec"],
}


@pytest.mark.parametrize("command", list(CONFIG_COMMANDS))
def test_an_unset_env_config_is_one_line_naming_the_variable(tmp_path, command):
    out = ontask_cli(*CONFIG_COMMANDS[command], "env:ONTASK_NO_SUCH_SPEC", cwd=tmp_path)
    assert out.returncode == 2
    assert one_line(out) == (
        "ontask: error: env:ONTASK_NO_SUCH_SPEC: the environment variable ONTASK_NO_SUCH_SPEC is not set; "
        "set it to a TaskClassifier's YAML, or give the path of a file"
    )


def test_a_missing_config_file_is_one_line(tmp_path):
    out = ontask_cli("train", "--classifier", "c", "--dataset", "d", "--base-model", "m", "--store", ".",
                     "--config", "nope.yaml", cwd=tmp_path)  # fmt: skip
    assert out.returncode == 2
    assert (
        one_line(out) == "ontask: error: nope.yaml: no such file; give the path of a TaskClassifier YAML (or env:NAME)"
    )


# Bad input to each command: its arguments ({tmp}: a fresh folder, the command's working directory)
# and the line it answers.
STORE_FORMS = "a folder, file:///folder or s3://bucket/prefix"
NO_STORE = "no store at {tmp}/none (no such folder); give the store the data was written to: " + STORE_FORMS
NOT_A_URL = "is not an http(s) URL; give one like http://host:port"


def refused(command: str, message: str) -> str:
    """argparse's line for `ontask <command>` (ours: one line, with where to read what it takes)."""
    prog = " ".join(["ontask", *command.split()])
    return f"{prog}: error: {message}; see `{prog} --help`"


BAD_INPUTS = [
    (["demo", "--seed", "x"], refused("demo", "argument --seed: invalid int value: 'x'")),
    (
        ["operator", "--liveness", "0.0.0.0:8080/healthz"],
        refused("operator", f"argument --liveness: '0.0.0.0:8080/healthz' {NOT_A_URL}"),
    ),
    (
        ["data", "generate", "--n", "0"],
        refused("data generate", "argument --n: 0 is too small; give a number of at least 1"),
    ),
    (
        ["data", "generate", "--out", "http://bucket/prefix"],
        refused("data generate", f"argument --out: 'http://bucket/prefix' is not a store; give {STORE_FORMS}"),
    ),
    (
        ["data", "generate", "--out", "s3:///prefix"],
        refused("data generate", "argument --out: 's3:///prefix' names no bucket; give s3://bucket/prefix"),
    ),
    (
        ["data", "generate", "--preview", "{tmp}/none/sheet.png"],
        refused("data generate", "argument --preview: no folder {tmp}/none to write sheet.png in; create it first"),
    ),
    (
        ["data", "prepare", "{tmp}/none", "--name", "d"],
        refused(
            "data prepare", "argument source: {tmp}/none does not exist; give a file, a folder or s3://bucket/prefix"
        ),
    ),
    (
        ["data", "prepare", "{tmp}", "--name", "d", "--judge-url", "judge:8080"],
        refused("data prepare", f"argument --judge-url: 'judge:8080' {NOT_A_URL}"),
    ),
    (
        ["data", "real-screens", "--out", "ftp://host/store"],
        refused("data real-screens", f"argument --out: 'ftp://host/store' is not a store; give {STORE_FORMS}"),
    ),
    (
        [
            "train",
            "--config",
            "c.yaml",
            "--classifier",
            "c",
            "--dataset",
            "d",
            "--base-model",
            "m",
            "--store",
            "{tmp}/none",
        ],
        refused("train", "argument --store: " + NO_STORE),
    ),
    (
        ["train", "--config", "c.yaml", "--store", "{tmp}"],
        refused("train", "the following arguments are required: --classifier, --dataset, --base-model"),
    ),
    (
        ["spec", "from-verl-config", "{tmp}/none.yaml"],
        refused("spec from-verl-config", "argument config: {tmp}/none.yaml does not exist; give the path of a file"),
    ),
    (
        ["export", "verl", "--dataset", "d", "--out", "x", "--store", "{tmp}/none"],
        refused("export verl", "argument --store: " + NO_STORE),
    ),
    (
        ["feedback", "send", "--classifier", "c", "--task", "t", "--label", "on-task", "--image", "{tmp}/none.png"],
        refused("feedback send", "argument --image: {tmp}/none.png does not exist; give the path of a file"),
    ),
    (
        ["feedback", "send", "--classifier", "c", "--task", "t", "--label", "on-task", "--image-uri", "http://h/k.png"],
        "ontask: error: --image-uri: String should match pattern '^s3://[^/]+/.+' (got 'http://h/k.png'); "
        "see `ontask feedback send --help`",
    ),
    (
        ["feedback", "send", "--classifier", "", "--task", "t", "--label", "on-task", "--image-uri", "s3://b/k.png"],
        "ontask: error: --classifier: String should have at least 1 character (got ''); "
        "see `ontask feedback send --help`",
    ),
    (
        ["feedback", "collect", "--classifier", "c", "--store", "ftp://host/store"],
        refused("feedback collect", f"argument --store: 'ftp://host/store' is not a store; give {STORE_FORMS}"),
    ),
    (["eval", "--data", "d", "--store", "{tmp}/none"], refused("eval", "argument --store: " + NO_STORE)),
    (["monitor", "c", "--store", "{tmp}/none"], refused("monitor", "argument --store: " + NO_STORE)),
    (
        ["serve", "student", "--model-uri", "m", "--judge-url", "judge"],
        refused("serve", f"argument --judge-url: 'judge' {NOT_A_URL}"),
    ),
    (
        ["agent", "run", "--task", "t", "--predictor", "http://host:port"],
        refused("agent run", f"argument --predictor: 'http://host:port' {NOT_A_URL}"),
    ),
    (
        ["agent", "correct", "maybe", "--classifier", "c"],
        refused("agent correct", "argument label: invalid choice: 'maybe' (choose from 'on-task', 'off-task')"),
    ),
    (["crd", "--chek"], refused("", "unrecognized arguments: --chek")),
]


@pytest.mark.parametrize("args, says", BAD_INPUTS, ids=[" ".join(a[:2]) for a, _ in BAD_INPUTS])
def test_each_commands_bad_input_is_one_line_naming_it_and_what_to_do(tmp_path, args, says):
    out = ontask_cli(*(a.format(tmp=tmp_path) for a in args), cwd=tmp_path)
    assert out.returncode == 2
    assert one_line(out) == says.format(tmp=tmp_path)
    assert not (tmp_path / "none").exists()  # nothing was made for the bad input
