"""Knowing when the desktop has finished drawing, and telling a window that has not.

An application draws its window some time after the window appears, and on a loaded machine much
later: a fixed 1.2 s sleep once ran out and ten LibreOffice windows were captured black or grey.
A still screen alone does not say the drawing is done either: a starved LibreOffice kept the
screen unchanged for seconds, runnable but given no CPU. So `wait_until_drawn` waits until the
screen is still *and* the desktop's programs are idle, which takes as long as the machine needs;
`unpainted` then names any window that is still blank, for the builder to refuse the screenshot.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image, ImageChops

from ontask.agent.x11 import X11Desktop
from ontask.realscreens.desktop import VirtualDesktop

INTERVAL = 0.5  # seconds between the two grabs compared
LEAST = 1.0  # seconds: the least wait after the windows are placed and raised
MOST = 60.0  # seconds: then the screenshot is taken anyway, and `unpainted` judges it
IDLE_CPU = 0.05  # share of one CPU the programs may use and count as idle: a caret's blink, a timer
CARET = (4, 32)  # a change at most this wide and tall (pixels) is a blinking text caret, not drawing

# The share of a window's shown area one colour may cover before the window counts as unpainted,
# by WM_CLASS prefix. A painted LibreOffice window always shows menus, toolbars, rulers or a grid
# and a status bar (the fullest, a blank Writer page, is 88% one colour); other applications can
# show a nearly empty window (vim on a short file: 99.6% black), so only a flat one is unpainted.
MOST_OF_ONE_COLOUR = {"libreoffice": 0.95}
LEAST_SHOWN = 5000  # pixels: a window showing less than this is too hidden to judge
# Around each window's client area, what its frame covers (openbox: a 20-pixel title bar and a
# 1-pixel border), with a margin: left, top, right, bottom.
FRAME = (4, 24, 4, 4)

Box = tuple[int, int, int, int]  # x, y, width, height of a window's client area on the screen


@dataclass(frozen=True)
class Drawn:
    """The screen once the desktop finished drawing (or the wait gave up)."""

    image: Image.Image
    seconds: float  # how long the wait took
    still: bool  # False: the screen or the programs were still busy when the wait gave up


def wait_until_drawn(
    x: X11Desktop, desk: VirtualDesktop, least: float = LEAST, most: float = MOST, interval: float = INTERVAL
) -> Drawn:
    """Grab the screen every `interval` seconds until two grabs in a row are the same (but for a
    blinking caret) and, between them, the desktop's programs were idle: none running or waiting
    for a CPU at the second, and under IDLE_CPU of one CPU used. Waits at least `least` and at most
    `most` seconds; returns the last grab."""
    start = time.monotonic()
    before, image = desk.activity(), x.screenshot()
    then = time.monotonic()
    while True:
        time.sleep(interval)
        now, grab = desk.activity(), x.screenshot()
        t = time.monotonic()
        idle = not now.running and now.cpu_seconds_since(before) <= IDLE_CPU * (t - then)
        if idle and _same_but_a_caret(image, grab) and t - start >= least:
            return Drawn(grab, t - start, True)
        if t - start >= most:
            return Drawn(grab, t - start, False)
        before, image, then = now, grab, t


def _same_but_a_caret(a: Image.Image, b: Image.Image) -> bool:
    box = ImageChops.difference(a, b).getbbox()
    return box is None or (box[2] - box[0] <= CARET[0] and box[3] - box[1] <= CARET[1])


def unpainted(image: Image.Image, windows: Sequence[tuple[str, Box]]) -> list[int]:
    """The positions (in `windows`, given bottom to top as (WM_CLASS, client box)) of the windows
    whose shown part is not drawn: all of one colour, or for an application of
    MOST_OF_ONE_COLOUR, mostly. What the windows above cover is left out, and so is a window that
    shows less than LEAST_SHOWN pixels.

    Example: a flat grey window over a drawn one
    >>> im = Image.new("RGB", (200, 200), "white"); im.paste((0, 0, 0), (10, 10, 60, 60))
    >>> im.paste((223, 223, 223), (100, 100, 200, 200))
    >>> unpainted(im, [("XTerm", (0, 0, 100, 100)), ("libreoffice-calc", (100, 100, 100, 100))])
    [1]
    """
    pixels = np.asarray(image.convert("RGB"), dtype=np.uint32)
    colours = pixels[..., 0] << 16 | pixels[..., 1] << 8 | pixels[..., 2]
    out = []
    for i, (app, (x, y, w, h)) in enumerate(windows):
        shown = np.zeros(colours.shape, dtype=bool)
        shown[max(y, 0) : y + h, max(x, 0) : x + w] = True
        for _, (ax, ay, aw, ah) in windows[i + 1 :]:
            left, top, right, bottom = FRAME
            shown[max(ay - top, 0) : ay + ah + bottom, max(ax - left, 0) : ax + aw + right] = False
        seen = colours[shown]
        if seen.size < LEAST_SHOWN:
            continue
        share = np.unique(seen, return_counts=True)[1].max() / seen.size
        limit = next((v for prefix, v in MOST_OF_ONE_COLOUR.items() if app.lower().startswith(prefix)), 1.0)
        if share >= limit:
            out.append(i)
    return out
