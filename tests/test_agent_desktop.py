"""The capture agent on real desktops, the same assertions on each: X11 (Xvfb + openbox) and
Wayland (a headless sway at scale 2, Mousepad as a Wayland client, xterm through Xwayland), with
real xterm and Mousepad windows: the evidence it reads, the answer of a real student predictor
over HTTP, and a correction that lands on the real Kafka topic and in the collector's buffer."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

from ontask.agent.desktop import Desktop, DesktopUnavailable, open_desktop
from ontask.agent.sway import SwayDesktop
from ontask.agent.swayipc import SwayIPC
from ontask.agent.x11 import X11Desktop
from ontask.api import FeedbackSpec
from ontask.feedback import Collector
from ontask.feedback.evidence import read_evidence
from ontask.feedback.messages import parse_correction
from ontask.realscreens.desktop import VirtualDesktop
from ontask.store import S3Store
from realservers.predictors import Predictor
from tests.conftest import REPO, consume, wait_for
from tests.sway_desktop import HeadlessSway

FOCUSED_TITLE = "Refund ticket 4821 - Acme Support"
NOTES = "noodles at 12:30\n"
# The session variables that pick the agent's backend: each desktop sets its own.
SESSION = ("DISPLAY", "WAYLAND_DISPLAY", "SWAYSOCK", "XDG_CURRENT_DESKTOP")


@dataclass
class Scene:
    """A desktop with Mousepad behind a focused xterm, as the agent and its command line see it."""

    reader: Desktop  # what the agent reads it with
    size: tuple[int, int]  # the screen in pixels
    env: dict[str, str]  # the session's variables, for `ontask agent`
    notes_app: str  # Mousepad as the desktop names it: its WM_CLASS on X11, its app_id on Wayland
    tiled: bool  # the window manager tiles the windows side by side
    spawn: Callable[[list[str]], subprocess.Popen]  # start a program on the desktop
    focus: Callable[[str], None]  # give the window of this title the focus


def _bring_up(spawn, reader: Desktop, notes: str, notes_app: str) -> None:
    spawn(["mousepad", notes])
    wait_for(lambda: any(w.app == notes_app for w in reader.windows()), 60, "Mousepad's window")
    spawn(["xterm", "-T", FOCUSED_TITLE])
    wait_for(
        lambda: any(w.title == FOCUSED_TITLE and w.focused for w in reader.windows()),
        60,
        "the xterm window to be focused",
        diagnose=lambda: str(reader.windows()),
    )


@pytest.fixture(scope="module", params=["x11", "sway"])
def desktop(request, tmp_path_factory):
    if request.param == "x11":
        notes = tmp_path_factory.mktemp("notes") / "lunch_plans.txt"
        notes.write_text(NOTES)
        with VirtualDesktop() as desk, X11Desktop(desk.display) as x:
            _bring_up(desk.spawn, x, str(notes), "Mousepad")

            def focus(title: str) -> None:
                x.activate(next(w.wid for w in x.windows() if w.title == title))

            yield Scene(x, desk.size, {"DISPLAY": desk.display}, "Mousepad", False, desk.spawn, focus)
    else:
        # Scale 2: sway's rectangles are in logical pixels, the screenshot in the output's.
        with HeadlessSway(1280, 800, scale=2) as sway:
            session = {k: v for k, v in sway.env().items() if k in SESSION}
            with open_desktop(environ=session) as reader:
                assert isinstance(reader, SwayDesktop)
                _bring_up(sway.spawn, reader, str(sway.write("lunch_plans.txt", NOTES)), "mousepad")

                def focus(title: str) -> None:
                    with SwayIPC(sway.ipc_socket) as ipc:
                        ipc.command(f'[title="^{re.escape(title)}$"] focus')

                yield Scene(reader, sway.size, session, "mousepad", True, sway.spawn, focus)


def _cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    outside = {k: v for k, v in os.environ.items() if k not in SESSION}
    return subprocess.run(
        [sys.executable, "-m", "ontask.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**outside, "PYTHONPATH": str(REPO), **env},
    )


def test_the_evidence_names_the_focused_window_exactly_and_lists_the_others(desktop):
    windows = [w for w in desktop.reader.windows() if not w.minimised]
    focused = [w for w in windows if w.focused]
    assert [(w.app, w.title) for w in focused] == [("XTerm", FOCUSED_TITLE)]
    others = [w for w in windows if not w.focused]
    assert [w.app for w in others] == [desktop.notes_app]
    assert others[0].title.endswith("lunch_plans.txt - Mousepad")
    shot = desktop.reader.screenshot()
    assert shot.size == desktop.size and shot.getextrema() != ((0, 0), (0, 0), (0, 0))
    width, height = shot.size
    for x, y, w, h in (w.geometry for w in windows):
        assert w > 100 and h > 100 and 0 <= x and x + w <= width and 0 <= y and y + h <= height
    if desktop.tiled:  # side by side in the screenshot's pixels, the two fill the screen's width
        assert sum(w.geometry[2] for w in windows) >= 0.9 * width


def test_agent_windows_prints_what_would_be_sent_under_each_privacy_setting(desktop):
    full = json.loads(_cli(desktop.env, "agent", "windows").stdout)
    assert full[-1] == {"app": "XTerm", "title": FOCUSED_TITLE, "url": None, "focused": True}
    bare = json.loads(_cli(desktop.env, "agent", "windows", "--no-titles").stdout)
    assert [w["title"] for w in bare] == ["", ""] and bare[-1]["app"] == "XTerm"
    hidden = json.loads(_cli(desktop.env, "agent", "windows", "--never-capture", "mousepad").stdout)
    assert [w["app"] for w in hidden] == ["XTerm"]
    refused = _cli(desktop.env, "agent", "windows", "--never-capture", "Mousepad,XTerm")
    assert "skipped: the focused window (XTerm) is never captured" in refused.stdout


def test_an_answer_over_http_and_its_correction_on_kafka_and_in_the_buffer(
    desktop, tmp_path, kafka_bootstrap, s3_config, tiny_vlm
):
    student = Predictor("student", str(tiny_vlm(3, copy_to=tmp_path / "v7")), tmp_path, "--model-version", "v7").start()
    state = {"XDG_STATE_HOME": str(tmp_path / "state")}
    try:
        run = _cli(
            {**desktop.env, **state},
            "agent",
            "run",
            "--once",
            "--task",
            "Answer customer refund tickets",
            "--predictor",
            student.url,
        )
    finally:
        student.stop()
    assert run.returncode == 0, run.stderr
    line = run.stdout.strip()
    assert ("on-task (" in line or "off-task (" in line) and "model v7" in line and FOCUSED_TITLE in line

    topic = f"agent-corrections-{uuid.uuid4().hex[:6]}"
    sent = _cli(
        {**desktop.env, **state},
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

    reader, vault = desktop.reader, "bank.kdbx - KeePassXC"
    # An xterm that calls itself KeePassXC (WM_CLASS, under XWayland too) and paints itself red:
    # what a real one shows stands out in the pixels.
    proc = desktop.spawn(["xterm", "-class", "KeePassXC", "-T", vault, "-bg", "red"])
    try:
        wait_for(lambda: any(w.title == vault for w in reader.windows()), 60, "the password manager's window")
        if isinstance(reader, X11Desktop):  # openbox stacks; sway tiles it beside the others
            reader.move_resize(next(w.wid for w in reader.windows() if w.title == vault), 700, 400, 400, 250)
        desktop.focus(FOCUSED_TITLE)
        wait_for(
            lambda: any(w.title == FOCUSED_TITLE and w.focused for w in reader.windows()),
            30,
            "the xterm in front",
        )
        time.sleep(0.5)  # the last frame drawn
        manager = next(w for w in reader.windows() if w.title == vault)
        left, top, width, height = manager.bounds()
        assert manager.app == "KeePassXC" and top < manager.geometry[1]  # its title bar is part of it
        raw = np.asarray(reader.screenshot())
        assert (raw[top : top + height, left : left + width] == (255, 0, 0)).all(axis=2).any()  # red shows

        capture = read_desktop(reader, Privacy.of(max_pixels=10**8))
        shot = np.asarray(capture.image)
        assert (shot[max(0, top) : top + height, max(0, left) : left + width] == BLANK).all()
        outside = np.ones(shot.shape[:2], dtype=bool)
        outside[max(0, top) : top + height, max(0, left) : left + width] = False
        assert not (shot[outside] == BLANK).all(axis=1).all()  # the rest of the screen is still there
        assert "KeePassXC" not in json.dumps(capture.windows)
        assert capture.windows[-1]["title"] == FOCUSED_TITLE
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        wait_for(lambda: all(w.title != vault for w in reader.windows()), 30, "the password manager to close")


def test_on_two_sway_outputs_of_different_scales_each_window_is_where_the_screenshot_shows_it():
    # sway lays the outputs out in logical pixels; grim draws their bounding box at the greatest
    # scale. A 1280x800 output at scale 1 beside one at scale 2 (640x400 logical), the layout
    # starting away from (0, 0): 1920x800 logical, 3840x1600 in the screenshot.
    colours = {"HEADLESS-1": (255, 0, 0), "HEADLESS-2": (0, 0, 255)}
    with HeadlessSway(1280, 800, scale=1) as sway, SwayIPC(sway.ipc_socket) as ipc:
        ipc.command("create_output")
        wait_for(lambda: len(ipc.outputs()) == 2, 30, "sway's second output")
        ipc.command("output HEADLESS-1 position 200 100; output HEADLESS-2 mode 1280x800 scale 2 position 1480 100")
        with open_desktop(environ={k: v for k, v in sway.env().items() if k in SESSION}) as reader:
            for output, (r, g, b) in colours.items():
                ipc.command(f"focus output {output}")
                sway.spawn(["xterm", "-T", output, "-bg", f"rgb:{r:02x}/{g:02x}/{b:02x}"])
                wait_for(lambda: any(w.title == output for w in reader.windows()), 60, f"the xterm on {output}")
            windows, shot = reader.windows(), reader.screenshot()
    assert shot.size == (3840, 1600)
    assert sorted(w.title for w in windows) == sorted(colours)
    for w in windows:
        x, y, width, height = w.geometry
        inside = [(x + width // 2, y + height // 2), (x + 3, y + height - 4), (x + width - 4, y + 3)]
        assert [shot.getpixel(p) for p in inside] == [colours[w.title]] * 3, w


VAULT = "KeePassXC - bank.kdbx"
# How sway lays the vault out in each case, as a user would with sway's commands: each step opens
# an xterm with that title, or runs a command; the last steps move the focus away from the vault.
TAB_LAYOUTS = {
    # a background tab of a tabbed container that sits beside another window
    "tab in a split": ["left", "notes", "split v; layout tabbed", VAULT, "shell", '[title="notes"] focus'],
    # a background tab of a tabbed container inside another tab: its bar is the second row
    "tab in a tab": ["left", "t1", "split v; layout tabbed", "t2", "split v; layout tabbed", VAULT,
                     '[title="t2"] focus', '[title="left"] focus'],
    # a stack's first row, shown but not focused: its row is not the one right above it
    "stack row": ["left", VAULT, "split v; layout stacking", "mid", "last", '[title="KeePassXC"] focus',
                  '[title="left"] focus'],
    # in a split that is itself a background tab: the split's tab names what it holds
    "split in a tab": ["left", "t1", "split v; layout tabbed", "t2", "split h", VAULT, '[title="t1"] focus'],
}  # fmt: skip


@pytest.mark.parametrize("layout", sorted(TAB_LAYOUTS))
def test_a_password_manager_s_title_in_a_tab_bar_or_stack_is_blanked_where_sway_draws_it(layout):
    """sway draws every window's title in its container's tab bar or stack, the hidden ones'
    included, and a container's tab names what it holds: a never-captured window whose contents
    are not on the screen would still be read there. Each place its title is drawn is blanked
    (found by OCR in the raw screenshot, so the places are where the title is), and the other
    windows' title bars stay. At scale 2, so sway's logical rectangles are converted."""
    from ontask.agent.capture import BLANK, Privacy, read_desktop
    from ontask.verify.ocr import TitleReader

    with HeadlessSway(1280, 800, scale=2) as sway, SwayIPC(sway.ipc_socket) as ipc:
        with open_desktop(environ={k: v for k, v in sway.env().items() if k in SESSION}) as reader:
            for step in TAB_LAYOUTS[layout]:
                if step.startswith("[") or step.startswith("split"):
                    ipc.command(step)
                    time.sleep(0.3)
                else:
                    sway.spawn(["xterm", "-T", step])
                    wait_for(lambda: any(w.title == step for w in reader.windows()), 60, step)
            wait_for(lambda: any(w.focused and w.title != VAULT for w in reader.windows()), 30, "focus away")
            time.sleep(0.5)
            windows = {w.title: w for w in reader.windows()}
            privacy = Privacy.of(never_capture=["title:KeePassXC"], max_pixels=10**8)
            raw = np.asarray(reader.screenshot().convert("RGB"))
            shot = np.asarray(read_desktop(reader, privacy).image)
            # On another workspace the tab bar is not on the screen: nothing there is blanked.
            ipc.command("workspace 2")
            wait_for(lambda: all(w.minimised for w in reader.windows()), 30, "workspace 2")
            elsewhere = {w.title: w.tabs for w in reader.windows()}
            assert not (np.asarray(read_desktop(reader, privacy).image) == BLANK).all(axis=2).any()
    assert elsewhere[VAULT] == ()
    vault = windows[VAULT]
    assert vault.tabs and shot.shape == raw.shape
    for x, y, w, h in vault.tabs:
        assert h >= 40 and w >= 100, vault.tabs  # a title bar of sway's 25 logical pixels at scale 2
        assert (shot[y : y + h, x : x + w] == BLANK).all(), (layout, vault.tabs)
    reader_ = TitleReader()
    read = [reader_.read_band(raw, (x, y, x + w, y + h)) for x, y, w, h in vault.tabs]
    if layout != "split in a tab":  # there the container's tab names the apps it holds, not their titles
        assert any("keepass" in r.lower() for r in read), (layout, read, vault.tabs)
    # The other windows' own title bars stay, unless they share the vault's container's tab.
    for title, other in windows.items():
        for box in other.tabs[-1:]:
            if title != VAULT and box not in vault.tabs:
                bx, by, bw, bh = box
                assert not (shot[by : by + bh, bx : bx + bw] == BLANK).all(axis=2).all(), (layout, title, box)


def test_on_gnome_wayland_the_agent_says_in_one_line_what_it_cannot_read_and_what_to_do():
    out = _cli(
        {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0", "XDG_CURRENT_DESKTOP": "ubuntu:GNOME"}, "agent", "windows"
    )
    assert (out.returncode, out.stdout) == (1, "")
    assert out.stderr == (
        "ontask: error: cannot read a GNOME Wayland session: its compositor gives no program the window list, and "
        "the screen only through the desktop portal; log in to 'GNOME on Xorg', or pass "
        "--display :0 to read the X11 (XWayland) windows only\n"
    )


@pytest.mark.parametrize(
    "session, says",
    [
        (
            {"WAYLAND_DISPLAY": "wayland-0", "XDG_CURRENT_DESKTOP": "KDE"},
            "cannot read a KDE Plasma Wayland session: its compositor gives no program the window list, and the "
            "screen only through the desktop portal; log in to 'Plasma (X11)', or pass --display "
            "to read the X11 (XWayland) windows only",
        ),
        (
            {"WAYLAND_DISPLAY": "wayland-1", "DISPLAY": ":1", "XDG_CURRENT_DESKTOP": "Hyprland"},
            "cannot read this Wayland session: the agent reads Wayland windows over sway's IPC and SWAYSOCK is not "
            "set; run sway, log in to an X11 session, or pass --display :1 to read the X11 (XWayland) windows only",
        ),
        (
            {},
            "no desktop to read: neither DISPLAY (X11) nor WAYLAND_DISPLAY with SWAYSOCK (sway) is set; run the "
            "agent in your desktop session or pass --display",
        ),
    ],
    ids=["kde-wayland", "other-wayland", "no-session"],
)
def test_a_session_the_agent_cannot_read_is_refused_with_what_to_do(session, says):
    with pytest.raises(DesktopUnavailable) as refused:
        open_desktop(environ=session)
    assert str(refused.value) == says
