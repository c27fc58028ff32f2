"""The capture agent on a real X11 desktop (Xvfb + openbox, real xterm and Mousepad windows):
the evidence it reads, the answer of a real student predictor over HTTP, and a correction that
lands on the real Kafka topic and in the collector's buffer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest

from ontask.agent.x11 import X11Desktop
from ontask.api import FeedbackSpec
from ontask.feedback import Collector
from ontask.feedback.evidence import read_evidence
from ontask.feedback.messages import parse_correction
from ontask.realscreens.desktop import VirtualDesktop
from ontask.store import S3Store
from realservers.predictors import Predictor
from tests.conftest import REPO, consume, wait_for

FOCUSED_TITLE = "Refund ticket 4821 - Acme Support"


@pytest.fixture(scope="module")
def desktop(tmp_path_factory):
    notes = tmp_path_factory.mktemp("notes") / "lunch_plans.txt"
    notes.write_text("noodles at 12:30\n")
    with VirtualDesktop() as desk:
        x = X11Desktop(desk.display)
        desk.spawn(["mousepad", str(notes)])
        wait_for(lambda: any(w.app == "Mousepad" for w in x.windows()), 60, "Mousepad's window")
        desk.spawn(["xterm", "-T", FOCUSED_TITLE])
        wait_for(
            lambda: any(w.title == FOCUSED_TITLE and w.focused for w in x.windows()),
            60,
            "the xterm window to be focused",
            diagnose=lambda: str(x.windows()),
        )
        yield desk, x
        x.close()


def _cli(desk, *args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ontask.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(REPO), "DISPLAY": desk.display, **(env or {})},
    )


def test_the_evidence_names_the_focused_window_exactly_and_lists_the_others(desktop):
    desk, x = desktop
    windows = [w for w in x.windows() if not w.minimised]
    focused = [w for w in windows if w.focused]
    assert [(w.app, w.title) for w in focused] == [("XTerm", FOCUSED_TITLE)]
    others = [w for w in windows if not w.focused]
    assert [w.app for w in others] == ["Mousepad"]
    assert others[0].title.endswith("lunch_plans.txt - Mousepad")
    assert all(w.geometry[2] > 100 and w.geometry[3] > 100 for w in windows)
    shot = x.screenshot()
    assert shot.size == desk.size and shot.getextrema() != ((0, 0), (0, 0), (0, 0))


def test_agent_windows_prints_what_would_be_sent_under_each_privacy_setting(desktop):
    desk, _ = desktop
    full = json.loads(_cli(desk, "agent", "windows").stdout)
    assert full[-1] == {"app": "XTerm", "title": FOCUSED_TITLE, "url": None, "focused": True}
    bare = json.loads(_cli(desk, "agent", "windows", "--no-titles").stdout)
    assert [w["title"] for w in bare] == ["", ""] and bare[-1]["app"] == "XTerm"
    hidden = json.loads(_cli(desk, "agent", "windows", "--never-capture", "mousepad").stdout)
    assert [w["app"] for w in hidden] == ["XTerm"]
    refused = _cli(desk, "agent", "windows", "--never-capture", "Mousepad,XTerm")
    assert "skipped: the focused window (XTerm) is never captured" in refused.stdout


def test_an_answer_over_http_and_its_correction_on_kafka_and_in_the_buffer(
    desktop, tmp_path, kafka_bootstrap, s3_config, tiny_vlm
):
    desk, _ = desktop
    student = Predictor("student", str(tiny_vlm(3, copy_to=tmp_path / "v7")), tmp_path, "--model-version", "v7").start()
    state = {"XDG_STATE_HOME": str(tmp_path / "state")}
    try:
        run = _cli(
            desk,
            "agent",
            "run",
            "--once",
            "--task",
            "Answer customer refund tickets",
            "--predictor",
            student.url,
            env=state,
        )
    finally:
        student.stop()
    assert run.returncode == 0, run.stderr
    line = run.stdout.strip()
    assert ("on-task (" in line or "off-task (" in line) and "model v7" in line and FOCUSED_TITLE in line

    topic = f"agent-corrections-{uuid.uuid4().hex[:6]}"
    sent = _cli(
        desk,
        "agent",
        "correct",
        "off-task",
        "--classifier",
        "agent-test",
        "--bootstrap",
        kafka_bootstrap,
        "--topic",
        topic,
        "--note",
        "that ticket was not mine",
        env=state,
    )
    assert sent.returncode == 0, sent.stderr
    [record] = consume(kafka_bootstrap, topic, 1)
    assert record.key == b"agent-test"
    c = parse_correction(record.value)
    last = json.loads((tmp_path / "state" / "ontask-agent" / "last.json").read_text())
    assert (c.corrected_label, c.predicted_label, c.model_version) == ("off-task", last["prediction"]["label"], "v7")
    assert c.task == "Answer customer refund tickets" and c.screenshot_base64
    assert [(w.app, w.title, w.focused) for w in c.windows][-1] == ("XTerm", FOCUSED_TITLE, True)

    store = S3Store(s3_config, "agent-test", f"run-{uuid.uuid4().hex[:6]}")
    collector = Collector("agent-test", FeedbackSpec(topic=topic), store, kafka_bootstrap)
    try:
        deadline = time.monotonic() + 60
        while collector.state.counts.buffered < 1 and time.monotonic() < deadline:
            collector.poll_once(500)
    finally:
        collector.close()
    assert collector.state.counts.buffered == 1
    [entry] = collector.state.buffer.ranked(time.time())
    assert (entry.id, entry.label, entry.predicted_label, entry.model_version) == (
        c.id,
        "off-task",
        c.predicted_label,
        "v7",
    )
    assert read_evidence(store, entry)[-1]["title"] == FOCUSED_TITLE


def test_a_password_manager_in_the_background_is_blanked_with_its_frame_and_its_title_never_sent(desktop):
    from ontask.agent.capture import BLANK, Privacy, read_desktop

    desk, x = desktop
    vault = "bank.kdbx - KeePassXC"
    # An xterm that calls itself KeePassXC (WM_CLASS) and paints itself red: what a real one would
    # show stands out in the pixels.
    proc = desk.spawn(["xterm", "-class", "KeePassXC", "-T", vault, "-bg", "red"])
    try:
        wait_for(lambda: any(w.title == vault for w in x.windows()), 60, "the password manager's window")
        manager = next(w for w in x.windows() if w.title == vault)
        x.move_resize(manager.wid, 700, 400, 400, 250)
        x.activate(next(w for w in x.windows() if w.title == FOCUSED_TITLE).wid)
        wait_for(
            lambda: (
                any(w.title == FOCUSED_TITLE and w.focused for w in x.windows())
                and next(w for w in x.windows() if w.title == vault).geometry[:2] != manager.geometry[:2]
            ),
            30,
            "the xterm in front and the password manager moved",
        )
        manager = next(w for w in x.windows() if w.title == vault)
        left, top, width, height = manager.bounds()
        assert manager.app == "KeePassXC" and top < manager.geometry[1]  # its title bar is part of it
        raw = np.asarray(x.screenshot())
        assert ((raw[top : top + height, left : left + width] == (255, 0, 0)).all(axis=2)).any()  # red shows

        capture = read_desktop(x, Privacy.of(max_pixels=10**8))
        shot = np.asarray(capture.image)
        inside = shot[max(0, top) : top + height, max(0, left) : left + width]
        assert (inside == BLANK).all()
        assert not (shot == BLANK).all(axis=2).all()  # the rest of the screen is still there
        assert vault not in json.dumps(capture.windows) and "KeePassXC" not in json.dumps(capture.windows)
        assert capture.windows[-1]["title"] == FOCUSED_TITLE
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        wait_for(lambda: all(w.title != vault for w in x.windows()), 30, "the password manager to close")
