"""The capture agent's pure parts: what leaves the machine under each privacy setting, and what
it keeps on the disk."""

from __future__ import annotations

import io
import os
import stat

import numpy as np
import pytest
from PIL import Image

from ontask.agent.capture import (
    BLANK,
    DEFAULT_NEVER_CAPTURE,
    CaptureRefused,
    Privacy,
    capture_of,
    downscale,
    split_rules,
    visible_evidence,
)

WINDOWS = [
    {"app": "XTerm", "title": "parse.py (~/src) - VIM", "url": None, "focused": True},
    {"app": "Chromium", "title": "Home / X - Chromium", "url": "https://x.com/home", "focused": False},
    {"app": "KeePassXC", "title": "bank.kdbx", "url": None, "focused": False},
]


class TestVisibleEvidence:
    def test_by_default_every_window_but_a_password_manager_goes_with_its_title_the_focused_one_last(self):
        out = visible_evidence(WINDOWS, Privacy())
        assert [w["app"] for w in out] == ["Chromium", "XTerm"]
        assert out[-1] == WINDOWS[0]

    def test_a_list_that_replaces_the_default_one_lets_the_password_manager_go(self):
        out = visible_evidence(WINDOWS, Privacy.of(never_capture=[]))
        assert [w["app"] for w in out] == ["Chromium", "KeePassXC", "XTerm"]

    def test_no_titles_sends_app_names_only(self):
        out = visible_evidence(WINDOWS, Privacy.of(titles=False))
        assert all(w["title"] == "" and w["url"] is None for w in out)
        assert {w["app"] for w in out} == {"XTerm", "Chromium"}

    def test_a_never_captured_app_in_the_background_is_left_out(self):
        out = visible_evidence(WINDOWS, Privacy.of(never_capture=[*DEFAULT_NEVER_CAPTURE, "Chromium"]))
        assert [w["app"] for w in out] == ["XTerm"]

    @pytest.mark.parametrize(
        "title",
        ["Vaults | Bitwarden Web Vault - Chromium", "My Vault - LastPass - Mozilla Firefox", "Passwords and Keys"],
    )
    def test_a_window_whose_title_shows_a_password_vault_is_left_out_title_and_all(self, title):
        windows = [*WINDOWS[:2], {"app": "Chromium", "title": title, "url": None, "focused": False}]
        out = visible_evidence(windows, Privacy())
        assert title not in [w["title"] for w in out] and len(out) == 2

    def test_a_page_about_a_password_manager_is_not_a_vault(self):
        reading = {"app": "Chromium", "title": "KeePass - Wikipedia - Chromium", "url": None, "focused": False}
        assert reading["title"] in [w["title"] for w in visible_evidence([*WINDOWS[:2], reading], Privacy())]

    def test_a_title_rule_that_is_not_a_regular_expression_is_refused_naming_it(self):
        with pytest.raises(ValueError, match=r"title:\(unclosed"):
            Privacy.of(never_capture=["title:(unclosed"])

    def test_a_never_captured_app_in_front_refuses_the_whole_capture(self):
        with pytest.raises(CaptureRefused, match="XTerm"):
            visible_evidence(WINDOWS, Privacy.of(never_capture=[" XTerm "]))


def _noise(width: int, height: int) -> Image.Image:
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8))


def test_a_never_captured_window_is_blanked_wholly_wherever_it_is_and_nothing_else():
    shot = _noise(1280, 800)
    windows = [
        {**WINDOWS[0], "geometry": (0, 0, 800, 600)},  # focused, above the password manager
        {**WINDOWS[1], "geometry": (900, 0, 380, 300)},
        {**WINDOWS[2], "geometry": (700, 400, 500, 300)},  # in the background, partly under the xterm
        {"app": "Bitwarden", "title": "Bitwarden", "url": None, "focused": False, "geometry": (1200, 750, 300, 200)},
    ]
    capture = capture_of(shot, windows, Privacy.of(max_pixels=10**8))
    got, sent = np.asarray(capture.image), np.asarray(shot)
    hidden = np.zeros(got.shape[:2], dtype=bool)
    hidden[400:700, 700:1200] = True  # the whole rectangle, the part under the xterm too
    hidden[750:800, 1200:1280] = True  # the part on the screen of one that reaches past its edge
    assert (got[hidden] == BLANK).all()
    assert (got[~hidden] == sent[~hidden]).all()
    assert [w["app"] for w in capture.windows] == ["Chromium", "XTerm"]
    assert all("geometry" not in w for w in capture.windows)


def test_windows_without_geometry_blank_nothing():
    shot = _noise(320, 200)
    capture = capture_of(shot, WINDOWS, Privacy.of(max_pixels=10**8))
    assert (np.asarray(capture.image) == np.asarray(shot)).all()


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o277])
def test_the_last_answer_on_disk_is_the_user_s_alone_whatever_the_umask(tmp_path, umask):
    from ontask.agent.client import Answer, correction_of_last, remember
    from ontask.api import Prediction

    folder = tmp_path / "state" / "ontask-agent"
    folder.mkdir(parents=True, mode=0o755)
    (folder / "last.jpg").write_bytes(b"an older one")
    (folder / "last.jpg").chmod(0o644)
    prediction = Prediction(
        label="off-task", p_on_task=0.2, confidence=0.8, model_version="v3", evidence="request", latency_ms=40.0
    )
    capture = capture_of(_noise(320, 200), WINDOWS[:2], Privacy())
    before = os.umask(umask)
    try:
        remember(Answer("write the report", prediction, capture.windows, "2026-12-01T15:02:11Z"), capture, folder)
    finally:
        os.umask(before)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert sorted(p.name for p in folder.iterdir()) == ["last.jpg", "last.json"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder.iterdir())
    assert correction_of_last("desk", "on-task", folder).predicted_label == "off-task"


def test_the_screenshot_leaves_at_the_pixel_budget_as_jpeg():
    shot = Image.new("RGB", (2560, 1440), (200, 210, 220))
    capture = capture_of(shot, WINDOWS, Privacy.of(max_pixels=602_112))
    w, h = capture.image.size
    assert w * h <= 602_112 and abs(w / h - 2560 / 1440) < 0.01
    assert capture.original_size == (2560, 1440)
    assert Image.open(io.BytesIO(capture.jpeg())).format == "JPEG"


def test_a_small_screen_is_never_enlarged():
    assert downscale(Image.new("RGB", (640, 400)), 602_112).size == (640, 400)


def test_a_comma_inside_a_title_regex_stays_in_its_rule():
    assert split_rules("signal, title:(bank, login) ,, gimp") == ["signal", "title:(bank, login)", "gimp"]
    assert split_rules(r"title:pay\,roll,title:x{1,3}[,;]y") == [r"title:pay\,roll", "title:x{1,3}[,;]y"]
    kept = Privacy.of(never_capture=split_rules("title:(bank, login)"))
    assert kept.never_captures({"app": "Chromium", "title": "bank, login - Chromium"})
    assert not kept.never_captures({"app": "Chromium", "title": "bank - Chromium"})
