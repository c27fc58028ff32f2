"""The OCR dev sets (`benchmarks.dev_looks`) never shoot a look of the plan: nothing is tuned on a
validation look through them, and the window manager sets hold none of the plan's."""

from __future__ import annotations

from benchmarks.dev_looks import DEV_LOOKS, DEV_WINDOW_MANAGERS
from ontask.realscreens.looks import LOOKS
from ontask.realscreens.wms import WINDOW_MANAGERS


def test_the_dev_sets_hold_no_look_of_the_plan_and_the_other_window_managers_none_of_its():
    planned = {(look.wm, look.theme) for look in LOOKS}
    dev = [look for looks in DEV_LOOKS.values() for look in looks]
    assert not planned & {(look.wm, look.theme) for look in dev}
    assert all(look.split == "train" for look in dev)  # the training scenes only
    plan_wms = {look.wm for look in LOOKS}
    assert not plan_wms & {look.wm for name in ("wms", "wmaker") for look in DEV_LOOKS[name]}
    assert not {wm.name for wm in DEV_WINDOW_MANAGERS} & set(WINDOW_MANAGERS)  # added only when shooting
