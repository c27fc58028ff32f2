"""Where the title bars are, from pixels alone: pure numpy, no OCR.

A title bar, whatever draws it (openbox, xfwm, a GTK header bar, a browser's own frame), is a
thin horizontal band across the top of a window whose background is flat along each row (a
solid colour or a vertical gradient), with the title in it and the window's buttons at one end.
The band finder looks for exactly that: long runs of flat, non-white pixels in each row, grouped
over consecutive rows of similar colour into bands 13-40 px tall. The focused window's bar is
the one drawn to stand out: window managers paint it saturated or dark, the others grey.

Example:
    >>> import numpy as np
    >>> screen = np.full((200, 400, 3), 255, np.uint8)
    >>> screen[10:30, 20:380] = (60, 110, 190)    # a blue bar ...
    >>> screen[16:24, 150:250] = 255             # ... with white "text"
    >>> screen[16:24, 360:372] = 255             # ... and a close button at its right end
    >>> [(b.y0, b.y1, b.x0, b.x1, b.buttons) for b in find_bands(screen)]
    [(10, 30, 20, 380, True)]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_WIDTH = 100  # a title bar spans a window: narrower flat runs are widgets
MIN_HEIGHT, MAX_HEIGHT = 13, 84  # a window manager's bar ... a browser's tab strip at 2x (79 px)
FLAT = 1  # grey levels between neighbours of a flat run
TEXT_GAP = 16  # rows of text that break the flat runs inside a band
SPLIT_BAR_MAX = 40  # a two-tone bar made whole is no taller than a title bar with its padding
INK = 40  # grey-level difference from the band's background that counts as text or a button


@dataclass(frozen=True)
class Band:
    """A thin flat-background band with ink in it: a title bar, a tab strip, a URL field..."""

    y0: int
    y1: int
    x0: int
    x1: int
    color: float  # mean grey level of the background
    saturation: float  # median colour saturation of the background (0 grey ... 255 pure)
    buttons: bool  # ink close to an end: window buttons, traffic lights or a tab's close mark
    contrast: float = 0.0  # how far the darkest (or brightest) ink is from the background

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    def salience(self) -> float:
        """How much the band is painted to stand out: the focused window's title bar scores
        highest (saturated or dark against grey inactive bars)."""
        return self.saturation + self.contrast / 4.0


def grey(rgb: np.ndarray) -> np.ndarray:
    """The mean of the three channels, int16 (H x W), the same as
    `rgb.astype(np.int16).sum(axis=2) // 3` but 8x faster: numpy sums a last axis of 3 slowly.

    >>> grey(np.array([[[10, 20, 31]]], np.uint8)).tolist()
    [[20]]
    """
    return (rgb[..., 0].astype(np.int16) + rgb[..., 1] + rgb[..., 2]) // 3


def _row_segments(gray: np.ndarray, min_width: int) -> list[tuple[int, int, int, float]]:
    """(row, x0, x1, grey) of every run of horizontally flat pixels at least min_width long."""
    h, _ = gray.shape
    flat = np.abs(np.diff(gray, axis=1)) <= FLAT
    pad = np.zeros((h, 1), np.int8)
    edges = np.diff(np.concatenate([pad, flat.astype(np.int8), pad], axis=1), axis=1)
    ys, xs = np.nonzero(edges == 1)
    _, xe = np.nonzero(edges == -1)
    keep = (xe - xs) >= min_width
    return [(int(y), int(a), int(b) + 1, float(gray[y, a])) for y, a, b in zip(ys[keep], xs[keep], xe[keep])]


def _join_split_bars(raw: list[dict], gray: np.ndarray) -> list[dict]:
    """The scan's bands, with a glossy two-tone bar made whole: its lighter top half ends where the
    darker half starts, across the text, so the scan sees a band with ink in its last row (the
    text cut through) over pieces of the other half beside the text. Such a band takes the bands
    that touch it from below inside its width, up to a bar's height."""
    raw = sorted(raw, key=lambda b: (b["y0"], b["x0"]))
    taken: set[int] = set()
    out = []
    for i, top in enumerate(raw):
        if i in taken:
            continue
        band = dict(top)
        last_row = gray[band["last"], band["x0"] : band["x1"]]
        cut = int((np.abs(last_row - np.median(last_row)) > INK).sum()) >= 3
        if cut and band["last"] - band["y0"] + 1 >= 4:
            for j in range(i + 1, len(raw)):
                b = raw[j]
                if b["y0"] > band["last"] + 2:
                    break  # sorted by their top row: none further down touches it
                if j in taken or b["y0"] <= band["y0"]:
                    continue
                inside = b["x0"] >= band["x0"] - 4 and b["x1"] <= band["x1"] + 4
                if inside and b["last"] - band["y0"] + 1 <= SPLIT_BAR_MAX:
                    band["last"] = max(band["last"], b["last"])
                    taken.add(j)
        out.append(band)
    return out


def find_bands(rgb: np.ndarray, min_width: int = MIN_WIDTH) -> list[Band]:
    """Bands of a screenshot (H x W x 3 uint8), top to bottom."""
    gray = grey(rgb)
    active: list[dict] = []
    finished: list[dict] = []
    for y, a, b, c in _row_segments(gray, min_width):
        if c >= 248:  # white is a page or a document, not a bar ...
            for band in active:  # ... and a white row right under a band, across it, is its edge
                if (
                    not band["closed"]
                    and y - band["last"] <= 1
                    and min(b, band["x1"]) - max(a, band["x0"]) >= 0.9 * (band["x1"] - band["x0"])
                ):
                    band["closed"] = True
            continue
        hit = None
        for band in active:
            if band["closed"]:
                continue
            if y - band["last"] > TEXT_GAP:
                band["closed"] = True
                continue
            overlap = min(b, band["x1"]) - max(a, band["x0"])
            if overlap < 0.7 * (b - a) or (b - a) > 1.3 * (band["x1"] - band["x0"]):
                continue  # a run mostly outside the band, or much wider than it, is something else
            if abs(c - band["c"]) <= 10 + 2 * (y - band["last"]):  # a gradient drifts under the text
                hit = band
                break
            inside = a > band["x0"] + 8 and b < band["x1"] - 8 and (b - a) < 0.5 * (band["x1"] - band["x0"])
            if y - band["last"] <= 1 and not inside:
                # A flat row of another colour right below: the band's edge. A short run well
                # inside it is a piece of it (a browser's active tab, in its toolbar's colour).
                band["closed"] = True
        if hit is not None:
            hit.update(last=y, c=c, x0=min(hit["x0"], a), x1=max(hit["x1"], b))
        else:
            active.append({"y0": y, "last": y, "x0": a, "x1": b, "c": c, "closed": False})
        if len(active) > 64:  # keep the scan short: finished bands leave the active list
            finished += [band for band in active if band["closed"]]
            active = [band for band in active if not band["closed"]]
    bands = []
    for band in _join_split_bars(finished + active, gray):
        y0, y1, x0, x1 = band["y0"], band["last"] + 1, band["x0"], band["x1"]
        if not MIN_HEIGHT <= y1 - y0 <= MAX_HEIGHT:
            continue
        region = gray[y0:y1, x0:x1]
        background = np.median(region, axis=1, keepdims=True)
        ink_cols = np.nonzero((np.abs(region - background) > INK).any(axis=0))[0]
        if len(ink_cols) < 8:
            continue
        mid = rgb[y0 + (y1 - y0) // 4, x0:x1].astype(np.int16)
        saturation = float(np.median(mid.max(axis=1) - mid.min(axis=1)))
        deviation = np.abs(region - background)
        bands.append(
            Band(
                y0,
                y1,
                x0,
                x1,
                float(background.mean()),
                saturation,
                # Buttons sit within 40 px of an end, or two bar heights at a scale of 2.
                bool(ink_cols[-1] > (x1 - x0) - max(40, 2 * (y1 - y0)) or ink_cols[0] < max(40, 2 * (y1 - y0))),
                float(np.percentile(deviation[deviation > INK], 90)),
            )
        )
    return sorted(bands, key=lambda b: (b.y0, b.x0))


def ink_clusters(rgb: np.ndarray, band: Band, gap: int = 0) -> list[tuple[int, int]]:
    """Horizontal extents (absolute x) of the ink in a band, split where the background shows
    for more than `gap` pixels (default: the band's height): words stay together, the window
    icon and buttons come apart from the title."""
    gap = gap or band.height
    gray = grey(rgb[band.y0 : band.y1, band.x0 : band.x1])
    background = np.median(gray, axis=1, keepdims=True)
    cols = np.nonzero((np.abs(gray - background) > INK).any(axis=0))[0]
    if not len(cols):
        return []
    splits = np.nonzero(np.diff(cols) > gap)[0]
    starts = np.concatenate([[cols[0]], cols[splits + 1]])
    ends = np.concatenate([cols[splits], [cols[-1]]]) + 1
    return [(band.x0 + int(s), band.x0 + int(e)) for s, e in zip(starts, ends)]
