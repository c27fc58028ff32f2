"""The title-bar finder on hand-made pixels: one case per rule of `ontask.verify.titlebars`."""

from __future__ import annotations

import numpy as np

from ontask.verify.titlebars import find_bands, ink_clusters


def screen() -> np.ndarray:
    return np.full((300, 800, 3), 255, np.uint8)


def bar(img: np.ndarray, y0: int, x0: int, x1: int, colour, text=(255, 255, 255), h: int = 18, gradient: int = 0):
    for i in range(h):
        img[y0 + i, x0:x1] = np.clip(np.array(colour) - gradient * i, 0, 255)
    mid = (x0 + x1) // 2
    img[y0 + 5 : y0 + 12, mid - 80 : mid + 80 : 3] = text  # "letters": thin strokes 3 px apart
    img[y0 + 4 : y0 + 13, x1 - 16 : x1 - 4] = text  # a close button at the right end


class TestFindBands:
    def test_a_bar_with_a_vertical_gradient_under_its_title_is_one_band(self):
        img = screen()
        bar(img, 20, 10, 600, (90, 140, 220), gradient=2)  # 36 grey levels from top to bottom
        [b] = find_bands(img)
        assert (b.y0, b.y1, b.x0, b.x1) == (20, 38, 10, 600) and b.buttons

    def test_the_saturated_bar_is_more_salient_than_a_grey_one(self):
        img = screen()
        bar(img, 20, 10, 390, (215, 215, 215), text=(90, 90, 90))  # an inactive window's bar
        bar(img, 20, 410, 790, (60, 110, 190))  # the focused window's bar, side by side
        grey, blue = find_bands(img)
        assert blue.x0 == 410 and blue.salience() > grey.salience()

    def test_white_areas_and_thick_panels_are_not_bars(self):
        img = screen()
        img[100:200, 50:700] = (200, 200, 200)  # a 100 px panel: too tall for a bar
        img[140:150, 300:400] = 0
        assert find_bands(img) == []

    def test_a_flat_row_of_another_colour_right_below_ends_the_bar(self):
        img = screen()
        bar(img, 20, 10, 600, (220, 220, 220), text=(40, 40, 40))
        img[38:60, 10:600] = (235, 235, 235)  # the menu bar just below, another grey
        img[45:52, 20:200:3] = 40
        bands = find_bands(img)
        assert [(b.y0, b.y1) for b in bands] == [(20, 38), (38, 60)]


def test_ink_clusters_split_the_title_from_the_buttons():
    img = screen()
    bar(img, 20, 10, 600, (90, 140, 220))
    [b] = find_bands(img)
    clusters = ink_clusters(img, b)
    assert clusters[0] == (225, 385) and clusters[-1] == (584, 596)
