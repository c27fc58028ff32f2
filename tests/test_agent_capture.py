"""The capture agent's pure parts: what leaves the machine under each privacy setting."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from ontask.agent.capture import CaptureRefused, Privacy, capture_of, downscale, visible_evidence

WINDOWS = [
    {"app": "XTerm", "title": "parse.py (~/src) - VIM", "url": None, "focused": True},
    {"app": "Chromium", "title": "Home / X - Chromium", "url": "https://x.com/home", "focused": False},
    {"app": "KeePassXC", "title": "bank.kdbx", "url": None, "focused": False},
]


class TestVisibleEvidence:
    def test_by_default_every_window_goes_with_its_title_and_the_focused_one_last(self):
        out = visible_evidence(WINDOWS, Privacy())
        assert [w["app"] for w in out] == ["Chromium", "KeePassXC", "XTerm"]
        assert out[-1] == WINDOWS[0]

    def test_no_titles_sends_app_names_only(self):
        out = visible_evidence(WINDOWS, Privacy.of(titles=False))
        assert all(w["title"] == "" and w["url"] is None for w in out)
        assert {w["app"] for w in out} == {"XTerm", "Chromium", "KeePassXC"}

    def test_a_never_captured_app_in_the_background_is_left_out(self):
        out = visible_evidence(WINDOWS, Privacy.of(never_capture=["keepassxc"]))
        assert "KeePassXC" not in {w["app"] for w in out}

    def test_a_never_captured_app_in_front_refuses_the_whole_capture(self):
        with pytest.raises(CaptureRefused, match="XTerm"):
            visible_evidence(WINDOWS, Privacy.of(never_capture=[" XTerm "]))


def test_the_screenshot_leaves_at_the_pixel_budget_as_jpeg():
    shot = Image.new("RGB", (2560, 1440), (200, 210, 220))
    capture = capture_of(shot, WINDOWS, Privacy.of(max_pixels=602_112))
    w, h = capture.image.size
    assert w * h <= 602_112 and abs(w / h - 2560 / 1440) < 0.01
    assert capture.original_size == (2560, 1440)
    assert Image.open(io.BytesIO(capture.jpeg())).format == "JPEG"


def test_a_small_screen_is_never_enlarged():
    assert downscale(Image.new("RGB", (640, 400)), 602_112).size == (640, 400)
