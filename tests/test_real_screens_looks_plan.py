"""The looks the grown real-screens set is shot on (ontask.realscreens.looks): whole window
managers and themes held out for validation as tasks are, every size, scale and scheme on both
sides, and the shots dealt to them without a task crossing the split."""

from __future__ import annotations

from collections import Counter

from ontask.realscreens.looks import FULL_PER_LOOK, LOOKS, SMOKE_PER_LOOK, plan_look_shots
from ontask.realscreens.plan import plan_shots
from ontask.realscreens.tasks import PAGE
from ontask.realscreens.wms import WINDOW_MANAGERS


def test_whole_window_managers_and_themes_are_held_out():
    by_split = {split: [look for look in LOOKS if look.split == split] for split in ("train", "val")}
    train_wms, val_wms = ({look.wm for look in by_split[s]} for s in ("train", "val"))
    assert val_wms - train_wms >= {"icewm", "fluxbox"}  # never seen in training at all
    assert not {(look.wm, look.theme) for look in by_split["train"]} & {
        (look.wm, look.theme) for look in by_split["val"]
    }
    assert len({look.wm for look in LOOKS}) >= 3
    for wm in {look.wm for look in LOOKS}:
        assert len({look.theme for look in LOOKS if look.wm == wm}) >= 2, wm
    for split, looks in by_split.items():
        assert {look.size for look in looks} >= {(1920, 1080), (2560, 1440)}, split
        assert {look.scale for look in looks} == {1, 2} and {look.scheme for look in looks} == {"light", "dark"}, split
    assert (1280, 800) in {look.size for look in LOOKS}
    assert len({look.id for look in LOOKS}) == len(LOOKS)


def test_every_look_s_theme_is_one_its_window_manager_has_here():
    for look in LOOKS:
        assert look.theme in WINDOW_MANAGERS[look.wm].themes(), look


def test_the_shots_stay_in_their_split_and_the_smoke_set_is_a_handful_of_them():
    full, smoke = plan_look_shots(), plan_look_shots(smoke=True)
    assert plan_look_shots() == full  # seeded
    for shots, per_look in ((full, FULL_PER_LOOK), (smoke, SMOKE_PER_LOOK)):
        assert all(s.shot.split == s.look.split for s in shots)
        assert len({(s.look.id, s.shot.id) for s in shots}) == len(shots)  # no shot twice on a look
        assert set(Counter(s.look.id for s in shots).values()) == {per_look}
        assert {"wm", "browser"} <= {s.frame for s in shots} <= {"wm", "browser", "app"}
        # Chromium in its own frame with 1 to 4 other tabs: pages of the look's split, not its own.
        assert all(bool(s.tabs) == (s.frame == "browser") and len(s.tabs) <= 4 for s in shots)
        split_pages: dict[str, set[str]] = {"train": set(), "val": set()}
        for shot in plan_shots():
            split_pages[shot.split] |= {m.title for m in shot.windows if m.kind == PAGE}
        for s in shots:
            assert all(t.title in split_pages[s.look.split] and t.title != s.shot.windows[-1].title for t in s.tabs)
    assert {s.frame for s in full} == {"wm", "browser", "app"}
    assert len(full) <= 200 and len(smoke) <= 40
    assert {s.look.wm for s in smoke} == {"openbox", "xfwm4", "icewm", "fluxbox"}
    assert {s.look.split for s in smoke} == {"train", "val"} and {s.look.scale for s in smoke} == {1, 2}
    # Each look shows several layouts, not one.
    for look in {s.look for s in full}:
        assert len({s.shot.layout for s in full if s.look == look}) >= 2, look.id
    # Dealing shots to looks changes nothing of the base set (its fingerprint hashes the plan).
    assert [s.id for s in plan_shots()] == [s.id for s in plan_shots()]
