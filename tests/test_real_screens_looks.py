"""The grown real-screens set's builder (ontask.realscreens.looks_build) on one screen of each of
four looks (openbox, xfwm4 at 2560x1440, icewm, fluxbox): real applications on each window
manager with its theme, placed within its work area, and the screen's record as the OCR
benchmark reads it. `make bench` builds the whole set."""

from __future__ import annotations

import json

from PIL import Image

from ontask.realscreens.looks_build import build_looks


def test_one_screen_on_each_of_four_window_managers(tmp_path):
    out = build_looks(tmp_path / "looks", smoke=True, per_look=1, log=lambda line: None)
    screens = [json.loads(line) for line in (out / "screens.jsonl").read_text().splitlines()]
    assert {s["wm"] for s in screens} == {"openbox", "xfwm4", "icewm", "fluxbox"}
    assert {s["split"] for s in screens} == {"train", "val"}
    for s in screens:
        with Image.open(out / s["image"]) as image:
            assert image.size == tuple(s["size"]), s["look"]
        [focused] = [w for w in s["windows"] if w["focused"]]
        assert focused["title"], s
        for w in s["windows"]:
            x, y, width, height = w["geometry"]
            # Within the screen: placed by the window manager's own frames and work area.
            assert x >= 0 and y >= 0 and x + width <= s["size"][0] and y + height <= s["size"][1], (s["look"], w)
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert {r["meta"]["look"] for r in rows} == {s["look"] for s in screens}
    assert all(r["split"] == next(s["split"] for s in screens if s["image"] == r["image"]) for r in rows)
