"""The real-screens builder takes a screenshot only once the desktop has finished drawing, on a
loaded machine too, and refuses one with a window still blank. A fixed 1.2 s sleep once ran out
under load and ten LibreOffice windows went into the set black or grey."""

from __future__ import annotations

import sys

import pytest
from PIL import Image, ImageDraw

from ontask.agent.x11 import X11Desktop
from ontask.realscreens.desktop import VirtualDesktop, stop_all
from ontask.realscreens.repaint import LEAST, unpainted, wait_until_drawn
from tests.conftest import wait_for

SCREEN = (1280, 800)


def _screen(*windows: tuple[tuple[int, int, int, int], str]) -> Image.Image:
    """A screenshot with the given client boxes filled flat, bottom to top."""
    im = Image.new("RGB", SCREEN, "black")
    for (x, y, w, h), colour in windows:
        im.paste(Image.new("RGB", (w, h), colour), (x, y))
    return im


def _drawn(im: Image.Image, box: tuple[int, int, int, int], share_flat: float) -> Image.Image:
    """Draw lines of text-like marks over the box so that `share_flat` of it keeps its fill."""
    x, y, w, h = box
    marked = round(h * (1 - share_flat))
    ImageDraw.Draw(im).rectangle((x, y, x + w - 1, y + marked - 1), fill="navy")
    return im


LO, VIM = "libreoffice-calc", "XTerm"
FULL = (1, 20, 1279, 780)
LEFT, RIGHT = (1, 20, 639, 780), (641, 20, 639, 780)
BOTTOM, TOP = (1, 20, 921, 600), (321, 180, 921, 600)


class TestUnpainted:
    @pytest.mark.parametrize(
        "image, windows, blank",
        [
            # the failure seen: a LibreOffice window captured before it drew anything
            (_screen((FULL, "#dfdfdf")), [(LO, FULL)], [0]),
            (_screen((FULL, "black")), [(LO, FULL)], [0]),
            # LibreOffice drew its frame but not its menus, toolbars and sheet
            (_drawn(_screen((FULL, "#dfdfdf")), FULL, 0.97), [(LO, FULL)], [0]),
            # a drawn LibreOffice window: the fullest, a blank Writer page, is 88% one colour
            (_drawn(_screen((FULL, "white")), FULL, 0.88), [(LO, FULL)], []),
            # vim on a short file is nearly all black, and drawn; a flat one is not
            (_drawn(_screen((FULL, "black")), FULL, 0.996), [(VIM, FULL)], []),
            (_screen((FULL, "black")), [(VIM, FULL)], [0]),
            # split screen: each half judged on its own
            (_drawn(_screen((LEFT, "white"), (RIGHT, "#dfdfdf")), LEFT, 0.5), [(LO, LEFT), (LO, RIGHT)], [1]),
            # cascade: what the top window covers is not the bottom one's; its shown part is
            (_drawn(_screen((BOTTOM, "#dfdfdf"), (TOP, "white")), TOP, 0.5), [(LO, BOTTOM), (LO, TOP)], [0]),
            # a window hidden under another (but for its frame's margin) is not judged
            (_drawn(_screen((FULL, "#dfdfdf")), FULL, 0.5), [(LO, FULL), (LO, FULL)], []),
        ],
        ids=[
            "grey LibreOffice",
            "black LibreOffice",
            "LibreOffice frame only",
            "drawn Writer page",
            "vim on a short file",
            "flat xterm",
            "split, right blank",
            "cascade, bottom blank",
            "hidden window",
        ],
    )
    def test_a_window_is_unpainted_when_its_shown_part_is_flat(self, image, windows, blank):
        assert unpainted(image, windows) == blank


@pytest.fixture(scope="module")
def desktop():
    with VirtualDesktop() as desk, X11Desktop(desk.display) as x:
        yield desk, x


def test_on_an_idle_desktop_the_wait_is_short(desktop):
    desk, x = desktop
    drawn = wait_until_drawn(x, desk)
    assert drawn.still and LEAST <= drawn.seconds < 10
    assert drawn.image.size == desk.size


def test_the_wait_lasts_while_a_program_works_without_drawing(desktop):
    """The failure under load: the screen did not change for seconds while LibreOffice, starved of
    CPU, had not drawn yet. A still screen is not enough; the programs must be idle too."""
    desk, x = desktop
    busy = "import time\nend = time.monotonic() + 3\nwhile time.monotonic() < end: pass"
    worker = desk.spawn([sys.executable, "-c", busy])
    drawn = wait_until_drawn(x, desk)
    assert worker.poll() == 0, "the wait ended while the program was still working"
    assert drawn.still and drawn.seconds >= 2.5


def test_the_wait_lasts_while_the_screen_changes(desktop, tmp_path):
    desk, x = desktop
    go = tmp_path / "go"
    # xterm prints a line every quarter second for 3 s once `go` exists, then rests.
    script = f"while [ ! -e {go} ]; do sleep 0.1; done; for i in $(seq 12); do echo line $i; sleep 0.25; done"
    xterm = desk.spawn(["xterm", "-T", "counter", "-e", "sh", "-c", script + "; sleep 600"])
    try:
        wait_for(lambda: any(w.title == "counter" for w in x.windows()), 60, "the xterm window")
        go.touch()
        drawn = wait_until_drawn(x, desk)
        assert drawn.still and drawn.seconds >= 2.5
    finally:
        stop_all([xterm])
