"""The window managers a real-screens desktop runs (ontask.realscreens.wms), each real, on Xvfb:
it starts with the theme asked for, the capture agent reads its windows as it reads openbox's
(title, focus, the frame it draws), and two themes of one window manager paint different title
bars, so a set shot on several themes shows several looks."""

from __future__ import annotations

import numpy as np
import pytest

from ontask.agent.x11 import X11Desktop
from ontask.realscreens.desktop import VirtualDesktop
from ontask.realscreens.wms import WINDOW_MANAGERS, UnknownTheme
from tests.conftest import wait_for

# Two themes of each, of those Debian ships with the window manager (or with xfwm4's themes).
THEMES = {
    "openbox": ("Clearlooks", "Onyx"),
    "xfwm4": ("Default", "Kokodi"),
    "icewm": ("icedesert", "win95"),
    "fluxbox": ("bloe", "arch"),
}
# What each calls itself in _NET_WM_NAME (xfwm4 as Xfwm4).
NAMES = {"openbox": "Openbox", "xfwm4": "Xfwm4", "icewm": "IceWM", "fluxbox": "Fluxbox"}


def _title_bar(wm: str, theme: str) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The title bar's pixels of an xterm on a fresh desktop, and the window's frame."""
    title = f"{wm} {theme} notes"
    with VirtualDesktop(1280, 800, wm=wm, theme=theme) as desktop, X11Desktop(desktop.display) as x:
        assert (x.window_manager() or "").lower().startswith(NAMES[wm].lower()), x.window_manager()
        assert x.windows() == []  # none yet, and read as none, not as a display without a window manager
        desktop.spawn(["xterm", "-T", title, "-geometry", "80x24+200+150"])
        wait_for(lambda: any(w.title == title and w.focused and w.frame[2] > 0 for w in x.windows()), 30, title)
        [window] = x.windows()
        shot = np.asarray(x.screenshot().convert("RGB"))
    left, right, top, _ = window.frame
    gx, gy, width, _ = window.geometry
    bar = shot[gy - top : gy, gx - left : gx + width + right]
    return bar, window.frame


@pytest.mark.parametrize("wm", sorted(THEMES))
def test_each_window_manager_starts_with_its_theme_and_draws_a_title_bar_the_agent_reads(wm):
    first, second = (_title_bar(wm, theme) for theme in THEMES[wm])
    for bar, (left, right, top, bottom) in (first, second):
        assert top >= 10, (wm, top)  # a title bar, not just a border
        assert bar.std() > 5  # the title's text on it, not a flat band
    # The two themes' bars differ (colour or height): the theme was applied.
    (a, _), (b, _) = first, second
    assert a.shape != b.shape or np.abs(a.astype(int) - b.astype(int)).mean() > 8, wm


def test_a_theme_the_machine_lacks_is_refused_with_the_ones_it_has(tmp_path):
    with pytest.raises(UnknownTheme, match="has no theme 'Nope' here .*icedesert"):
        WINDOW_MANAGERS["icewm"].commands(tmp_path, "Nope")
    for wm, themes in THEMES.items():
        assert set(themes) <= set(WINDOW_MANAGERS[wm].themes()), wm
