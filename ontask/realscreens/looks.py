"""How a real-screens desktop looks: its window manager and theme, screen size, scale and colour
scheme, and the split each look belongs to. People's screens differ in all of these, and a model
or an OCR tuned on one look fails on the next, so whole window managers and themes are held out
for validation, as tasks are (`plan`): a validation look shows only validation tasks, and
nothing is ever tuned on one.

`plan_look_shots` deals the general set's shots (`plan.plan_shots`) out to the looks, a few per
look, seeded and stratified by layout, each shot in a look of its own split; `smoke` takes a
handful on one look of each window manager, for the test suite."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal, Optional

from ontask.realscreens.plan import Shot, plan_shots
from ontask.realscreens.tasks import PAGE, PDF, Material

Scheme = Literal["light", "dark"]
Frame = Literal["wm", "browser", "app"]  # who draws the focused window's title: the window manager, Chromium, the app


@dataclass(frozen=True)
class Look:
    """One desktop look: a window manager with one of its themes, at a screen size and scale."""

    id: str
    wm: str  # a key of ontask.realscreens.wms.WINDOW_MANAGERS
    theme: str
    size: tuple[int, int]  # the screen's pixels
    scale: int  # 1, or 2 for a HiDPI screen (GDK_SCALE, --force-device-scale-factor)
    scheme: Scheme
    split: str  # "train" or "val"


LOOKS: tuple[Look, ...] = (
    # Training looks: openbox and xfwm4, each with some of its themes.
    Look("openbox-clearlooks", "openbox", "Clearlooks", (1280, 800), 1, "light", "train"),
    Look("openbox-onyx-dark", "openbox", "Onyx", (1920, 1080), 1, "dark", "train"),
    Look("xfwm4-default", "xfwm4", "Default", (1920, 1080), 1, "light", "train"),
    Look("xfwm4-kokodi", "xfwm4", "Kokodi", (1280, 800), 1, "light", "train"),
    Look("xfwm4-xhdpi-dark", "xfwm4", "Default-xhdpi", (2560, 1440), 2, "dark", "train"),
    # Validation looks: two whole window managers never trained or tuned on, and a held-out theme
    # of each training one.
    Look("icewm-icedesert", "icewm", "icedesert", (1280, 800), 1, "light", "val"),
    Look("icewm-win95-dark", "icewm", "win95", (1920, 1080), 1, "dark", "val"),
    Look("fluxbox-bloe", "fluxbox", "bloe", (1920, 1080), 1, "light", "val"),
    Look("fluxbox-arch-hidpi", "fluxbox", "arch", (2560, 1440), 2, "dark", "val"),
    Look("openbox-bear2", "openbox", "Bear2", (1920, 1080), 1, "light", "val"),
    Look("xfwm4-moheli-dark", "xfwm4", "Moheli", (1920, 1080), 1, "dark", "val"),
)

FULL_PER_LOOK = 18
SMOKE_PER_LOOK = 6


@dataclass(frozen=True)
class LookShot:
    """A shot of the general set on one look, with who draws its focused window's title."""

    shot: Shot
    look: Look
    frame: Frame
    # The pages open in tabs after the focused one's (the first and the active tab) when Chromium
    # draws its own frame; none otherwise.
    tabs: tuple[Material, ...] = ()


def _frame(shot: Shot, pages: list[Material], rng: random.Random) -> tuple[Frame, tuple[Material, ...]]:
    """Chromium in its own frame (2 to 5 tabs, the others pages of the same split) on about half the page
    shots; Evince draws its own title in a GTK header bar ("app"); the rest keep the window
    manager's title bar. (Chromium's app windows, `--app`, would be a chat app's own frame, as
    Slack draws one, but take the window manager's frame on these desktops.)"""
    focused = shot.windows[-1]
    if focused.kind == PDF:
        return "app", ()
    if focused.kind == PAGE and rng.random() < 0.5:
        others = [m for m in pages if m.title != focused.title]
        if others:
            return "browser", tuple(rng.sample(others, min(len(others), rng.randint(1, 4))))
    return "wm", ()


def plan_look_shots(seed: int = 0, smoke: bool = False, per_look: Optional[int] = None) -> list[LookShot]:
    """The general set's shots dealt to the looks: `FULL_PER_LOOK` a look, or with `smoke`,
    `SMOKE_PER_LOOK` on one look of each window manager (HiDPI and dark among them). Each look
    takes shots of its own split only, stratified by layout, each at most once; a scene may be
    shot on several looks (the validation tasks have fewer scenes than their looks want), which
    also lets a figure be compared look by look on the same scenes."""
    shots = plan_shots(seed)
    looks = _smoke_looks() if smoke else list(LOOKS)
    per_look = per_look or (SMOKE_PER_LOOK if smoke else FULL_PER_LOOK)
    out: list[LookShot] = []
    for look in looks:
        rng = random.Random(f"{seed}:looks:{look.id}")
        by_layout: dict[str, list[Shot]] = {}
        for s in shots:
            if s.split == look.split:
                by_layout.setdefault(s.layout, []).append(s)
        for pool in by_layout.values():
            rng.shuffle(pool)
        pages = sorted({m for s in shots if s.split == look.split for m in s.windows if m.kind == PAGE}, key=str)
        taken: list[Shot] = []
        while len(taken) < per_look and any(by_layout.values()):
            for layout in sorted(by_layout):
                if by_layout[layout] and len(taken) < per_look:
                    taken.append(by_layout[layout].pop())
        for s in taken:
            frame, tabs = _frame(s, pages, rng)
            out.append(LookShot(s, look, frame, tabs))
    return out


def _smoke_looks() -> list[Look]:
    """One look of each window manager, chosen so that both splits, HiDPI and dark are in."""
    wanted = ("openbox-clearlooks", "xfwm4-xhdpi-dark", "icewm-icedesert", "fluxbox-arch-hidpi")
    by_id = {look.id: look for look in LOOKS}
    return [by_id[i] for i in wanted]
