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

    def test_a_short_run_of_another_colour_inside_a_bar_does_not_end_it(self):
        img = screen()
        img[20:54, 10:790] = 31  # a dark browser's tab strip ...
        img[26:54, 60:280] = 60  # ... its active tab, in the toolbar's grey, from its 7th row
        img[54:90, 10:790] = 60  # the toolbar
        img[34:44, 300:500:3] = 220  # another tab's title
        img[34:44, 770:782] = 220  # the window's close button
        assert [(b.y0, b.y1, b.x0, b.x1) for b in find_bands(img)][:1] == [(20, 54, 10, 790)]

    def test_a_glossy_two_tone_bar_with_its_title_across_both_halves_is_one_band(self):
        img = screen()
        img[20:29, 10:600] = (75, 75, 75)  # the lighter top half (Onyx, Kokodi) ...
        img[29:40, 10:600] = (33, 33, 33)  # ... over a darker flat half
        img[24:34, 220:380:3] = 230  # the title's strokes cross where the halves meet
        img[24:34, 584:596] = 230
        bands = find_bands(img)
        assert [(b.y0, b.y1, b.x0, b.x1) for b in bands] == [(20, 40, 10, 600)]

    def test_a_bar_over_a_toolbar_stays_a_bar_when_its_text_ends_above_its_edge(self):
        img = screen()
        bar(img, 20, 10, 600, (215, 215, 215), text=(40, 40, 40))  # text rows 25-31 of 20-37
        img[38:52, 10:600] = (150, 150, 150)  # a darker strip right below: not half of the bar
        img[42:48, 30:90:3] = 20
        assert [(b.y0, b.y1) for b in find_bands(img)] == [(20, 38), (38, 52)]


def test_ink_clusters_split_the_title_from_the_buttons():
    img = screen()
    bar(img, 20, 10, 600, (90, 140, 220))
    [b] = find_bands(img)
    clusters = ink_clusters(img, b)
    assert clusters[0] == (225, 385) and clusters[-1] == (584, 596)


def _window(img: np.ndarray, y0: int, title: str, colour, ink) -> None:
    """A window manager's bar as xfwm4 draws it: the title centred, a menu icon at the left end,
    and its buttons at the right end with "keep on top" set a little apart from the others."""
    from PIL import Image, ImageDraw

    from ontask.fonts import font

    img[y0 : y0 + 24, 10:790] = colour
    drawn = Image.fromarray(img)
    draw = ImageDraw.Draw(drawn)
    draw.text((400, y0 + 12), title, fill=ink, font=font("bold", 13), anchor="mm")
    for x in (14, 700, 740, 758, 776):  # the icon; the lone button; minimise, maximise, close
        draw.rectangle((x, y0 + 7, x + 9, y0 + 16), fill=ink)
    img[:] = np.asarray(drawn)


def test_the_reader_keeps_a_lone_button_out_of_the_title_and_reads_no_status_bar_or_taskbar_as_a_window():
    from PIL import Image

    from ontask.verify.ocr import TitleReader

    img = screen()
    _window(img, 20, "quarterly_report.txt - Editor", (60, 110, 190), (255, 255, 255))
    # The window's status bar at its bottom: a bar with buttons-like ink at its ends, which
    # LibreOffice fills with "Page 1 of 1 | ... | 100%".
    _window(img, 150, "Page 1 of 1   14 words, 87 characters   English (USA)   100%", (220, 220, 220), (40, 40, 40))
    # A taskbar's entry at the screen's bottom edge, highlighted as the focused window's is: no
    # room for a window below it.
    _window(img, 276, "Football - BBC Sport - Chromium", (200, 40, 40), (255, 255, 255))
    windows = TitleReader().windows(Image.fromarray(img))
    assert [(w["title"], w["focused"]) for w in windows] == [("quarterly_report.txt - Editor", True)]


def test_a_narrow_window_keeps_its_short_title_and_a_short_screenshot_its_only_bar():
    """A bar 240 px wide whose short title sits close to the buttons, in a screenshot only 60 px
    high (one window cropped by an app): the title is read, not taken for a button or a taskbar."""
    from PIL import Image, ImageDraw

    from ontask.fonts import font
    from ontask.verify.ocr import TitleReader

    img = Image.new("RGB", (260, 60), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    draw.rectangle((10, 4, 249, 27), fill=(60, 110, 190))
    draw.text((130, 16), "htop", fill=(255, 255, 255), font=font("bold", 13), anchor="mm")
    for x in (14, 196, 214, 232):  # the icon; minimise, maximise, close
        draw.rectangle((x, 11, x + 9, 20), fill=(255, 255, 255))
    windows = TitleReader().windows(img)
    assert [(w["title"], w["focused"]) for w in windows] == [("htop", True)]


def test_a_button_in_a_browsers_toolbar_is_not_a_window_however_bright():
    """Chromium's "Sign in to Chromium?" pill sits in its toolbar, right under the tab strip and
    painted brighter than any title bar: it is not a window, and the focused window stays the one
    whose title bar is read."""
    from PIL import Image, ImageDraw

    from ontask.fonts import font
    from ontask.verify.ocr import TitleReader

    img = screen()
    _window(img, 20, "Ticket 5102 - Zendesk - Chromium", (60, 110, 190), (255, 255, 255))
    drawn = Image.fromarray(img)
    draw = ImageDraw.Draw(drawn)
    draw.rectangle((10, 44, 789, 79), fill=(222, 225, 230))  # the tab strip, as wide as the window
    draw.text((40, 62), "Ticket 5102", fill=(30, 30, 30), font=font("ui", 13), anchor="lm")
    draw.rectangle((440, 80, 760, 109), fill=(120, 170, 250))  # the pill, under the tab strip
    draw.rectangle((450, 89, 460, 100), fill=(10, 10, 10))  # its avatar
    draw.text((500, 95), "Sign in to Chromium?", fill=(10, 10, 10), font=font("ui", 13), anchor="lm")
    windows = TitleReader().windows(drawn)
    assert [(w["title"], w["focused"]) for w in windows] == [("Ticket 5102 - Zendesk - Chromium", True)]


def test_a_white_toolbar_right_under_a_band_ends_it():
    """Chromium's own frame: a tab strip over a white toolbar over a grey address field. The strip
    is a band of its own; before, the white rows were skipped and the strip ran on into the field,
    a band too tall to be a bar."""
    img = screen()
    bar(img, 20, 10, 600, (222, 225, 230), text=(40, 40, 40), h=30)
    img[50:60, 10:600] = 255  # the toolbar's white rows
    img[60:80, 100:500] = (236, 238, 240)  # the address field, close to the strip's colour
    assert [(b.y0, b.y1) for b in find_bands(img)][0] == (20, 50)


def _browser_in_own_frame(
    img: np.ndarray,
    y0: int,
    x0: int,
    x1: int,
    tab: str,
    url: str,
    frame,
    other: str = "Another tab",
    toolbar=(255, 255, 255),
    ink=(30, 30, 30),
    tab_width: int = 240,
) -> None:
    """Chromium drawing its own frame: a tab strip in the frame's colour, the active tab in the
    toolbar's colour (white, or a dark grey in dark mode) joined to the toolbar, another tab, and
    the address field in the toolbar."""
    from PIL import Image, ImageDraw

    from ontask.fonts import font

    field = tuple(min(255, c + 20) if c < 128 else c - 19 for c in toolbar)
    drawn = Image.fromarray(img)
    draw = ImageDraw.Draw(drawn)
    draw.rectangle((x0, y0, x1 - 1, y0 + 33), fill=frame)  # the strip
    draw.rectangle((x0 + 40, y0 + 6, x0 + 40 + tab_width, y0 + 33), fill=toolbar)  # the active tab
    draw.text((x0 + 70, y0 + 20), tab, fill=ink, font=font("ui", 13), anchor="lm")
    draw.text((x0 + 320, y0 + 20), other, fill=ink, font=font("ui", 13), anchor="lm")
    for x in (x1 - 60, x1 - 35):  # the window's buttons, drawn by the browser
        draw.rectangle((x, y0 + 14, x + 9, y0 + 23), fill=ink)
    draw.rectangle((x0, y0 + 34, x1 - 1, y0 + 74), fill=toolbar)  # the toolbar
    draw.rectangle((x0 + 100, y0 + 40, x1 - 260, y0 + 68), fill=field)  # the address field
    draw.text((x0 + 110, y0 + 54), url, fill=ink, font=font("ui", 13), anchor="lm")
    img[:] = np.asarray(drawn)


def test_a_browser_in_its_own_frame_is_a_window_titled_by_its_active_tab():
    from PIL import Image, ImageDraw

    from ontask.fonts import font
    from ontask.verify.ocr import TitleReader

    img = screen()
    _browser_in_own_frame(img, 0, 0, 800, "Quarterly churn report", "acme.example.com/reports/churn", (200, 215, 240))
    # Its "Sign in to Chromium?" pill in the toolbar, painted brighter than the strip: not a window.
    drawn = Image.fromarray(img)
    draw = ImageDraw.Draw(drawn)
    draw.rectangle((560, 38, 790, 70), fill=(120, 170, 250))
    draw.text((580, 54), "Sign in to Chromium?", fill=(10, 10, 10), font=font("ui", 13), anchor="lm")
    [window] = TitleReader().windows(drawn)
    assert window["title"] == "Quarterly churn report\u2026" and window["url"] == "acme.example.com/reports/churn"
    assert window["focused"]


def test_a_dark_browsers_other_tabs_are_not_a_window():
    """Dark mode: the active tab is a grey lighter than the strip, so the strip's band may start
    beside it; the other tabs' titles in that band ("<page> - <site>") are the same window's."""
    from PIL import Image

    from ontask.verify.ocr import TitleReader

    img = screen()
    _browser_in_own_frame(
        img, 0, 0, 800, "Churn", "acme.example.com/reports/churn", (31, 31, 31),
        other="Releases - acme/app - GitHub", toolbar=(60, 60, 60), ink=(225, 225, 225), tab_width=110,
    )  # fmt: skip
    windows = TitleReader().windows(Image.fromarray(img))
    assert [(w["title"], w["url"], w["focused"]) for w in windows] == [
        ("Churn\u2026", "acme.example.com/reports/churn", True)
    ]


def test_a_browsers_tab_strip_under_a_window_managers_title_bar_is_the_same_window():
    from PIL import Image

    from ontask.verify.ocr import TitleReader

    img = screen()
    _window(img, 0, "Quarterly churn report - Chromium", (60, 110, 190), (255, 255, 255))
    _browser_in_own_frame(img, 24, 10, 790, "Quarterly churn report", "acme.example.com/reports/churn", (200, 215, 240))
    windows = TitleReader().windows(Image.fromarray(img))
    assert [(w["title"], w["url"]) for w in windows] == [
        ("Quarterly churn report - Chromium", "acme.example.com/reports/churn")
    ]


def test_the_window_drawn_over_another_is_the_focused_one_whatever_the_paint():
    """A grey header bar drawn whole over the body of a window whose bar is painted saturated:
    the grey one is on top, so it is the focused window (the other's bar may keep its colour, as
    a browser's tab strip does)."""
    from PIL import Image

    from ontask.verify.ocr import TitleReader

    img = screen()
    _window(img, 0, "Football - BBC Sport - Chromium", (60, 110, 190), (255, 255, 255))
    img[120:300, 200:800] = (250, 250, 250)  # the other window's body over the first one's
    _window(img, 120, "notes.pdf \u2014 Meeting notes", (215, 215, 215), (40, 40, 40))
    img[120:144, :200] = 255
    windows = TitleReader().windows(Image.fromarray(img))
    assert [(w["title"], w["focused"]) for w in windows] == [
        ("Football - BBC Sport - Chromium", False),
        ("notes.pdf \u2014 Meeting notes", True),
    ]


def test_a_taskbar_naming_one_of_two_bars_painted_alike_decides_the_focus():
    """Two windows' bars painted alike (a GTK app's header bars may not show the focus at all):
    a taskbar that shows one of their titles (blackbox's shows the focused window's) decides."""
    from PIL import Image, ImageDraw

    from ontask.fonts import font
    from ontask.verify.ocr import TitleReader

    img = screen()
    _window(img, 20, "mitosis_summary.pdf - Viewer", (215, 215, 215), (40, 40, 40))
    _window(img, 200, "vat_guide_2026.pdf - Viewer", (215, 215, 215), (40, 40, 40))
    assert TitleReader().windows(Image.fromarray(img))[-1]["title"] == "mitosis_summary.pdf - Viewer"  # a tie
    img[276:300, 100:700] = (90, 90, 90)  # the taskbar at the screen's bottom edge
    drawn = Image.fromarray(img)
    draw = ImageDraw.Draw(drawn)
    draw.text(
        (120, 288), "Workspace 1   vat_guide_2026.pdf - Viewer", fill=(250, 250, 250), font=font("ui", 13), anchor="lm"
    )
    draw.rectangle((680, 283, 690, 293), fill=(250, 250, 250))
    windows = TitleReader().windows(drawn)
    assert [(w["title"], w["focused"]) for w in windows][-1] == ("vat_guide_2026.pdf - Viewer", True)


def test_a_browsers_own_frame_drawn_at_2x_is_read():
    """At a scale of 2 (HiDPI) Chromium's tab strip is some 70 px tall, taller than any window
    manager's bar: it is still a strip, its active tab the window's title."""
    from PIL import Image

    from ontask.verify.ocr import TitleReader

    img = screen()
    _browser_in_own_frame(
        img, 0, 0, 800, "Quarterly churn report", "acme.example.com/reports/churn", (31, 31, 31),
        other="Releases - acme/app - GitHub", toolbar=(60, 60, 60), ink=(225, 225, 225),
    )  # fmt: skip
    doubled = Image.fromarray(img).resize((1600, 600), Image.Resampling.BICUBIC)
    [window] = TitleReader().windows(doubled)
    assert window["title"] == "Quarterly churn report\u2026" and window["url"] == "acme.example.com/reports/churn"
