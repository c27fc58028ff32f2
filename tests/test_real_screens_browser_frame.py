"""A browser that draws its own frame, as Chromium does by default: real Chromium under Xvfb with
its tab strip and no title bar from the window manager, beside an xterm the window manager
frames, read from pixels alone by the title reader (ontask.verify.ocr): the browser is the
focused window, its title is its active tab's text (cut, as a tab shows only the page's title)
and its URL names the page's host, on a light and a dark, HiDPI desktop."""

from __future__ import annotations

import pytest

from ontask.realscreens.apps import AppDriver
from ontask.realscreens.desktop import VirtualDesktop
from ontask.realscreens.pages import serve_pages
from ontask.realscreens.plan import Shot
from ontask.realscreens.tasks import CODE, PAGE, Material
from ontask.verify.ocr import TitleReader, title_match

PAGE_SHOWN = Material(
    PAGE, "/wiki/Eigenvalues", "Eigenvalues and eigenvectors - Wikipedia", ("In linear algebra.",), "en.wikipedia.org"
)
OTHER_TAB = Material(
    PAGE, "/tickets/4821", "Ticket #4821: Refund for damaged order - Zendesk", ("Refund.",), "acme.zendesk.com"
)
NOTES = Material(CODE, "notes.py", "notes.py", ("print('hello')",))


@pytest.mark.parametrize(
    "size, scale, scheme, theme",
    [((1280, 800), 1, "light", "Clearlooks"), ((2560, 1440), 2, "dark", "Onyx")],
    ids=["1280x800-light", "2560x1440-2x-dark"],
)
def test_the_reader_takes_chromium_in_its_own_frame_as_the_focused_window(tmp_path, size, scale, scheme, theme):
    shot = Shot("own-frame", (NOTES, PAGE_SHOWN), "cascade", None, ())
    with serve_pages([PAGE_SHOWN, OTHER_TAB], tmp_path) as port:
        with VirtualDesktop(*size, home=tmp_path / "home", wm="openbox", theme=theme) as desk:
            (desk.home / "Documents").mkdir()
            driver = AppDriver(desk, desk.home / "Documents", port, fit_frames=True, scale=scale, scheme=scheme)
            capture = driver.shoot(shot, frame="browser", tabs=(OTHER_TAB,))
            driver.close_all()
    browser = capture.windows[-1]
    assert browser.focused and browser.frame == (0, 0, 0, 0)  # no frame from the window manager
    windows = TitleReader().windows(capture.image)
    [focused] = [w for w in windows if w["focused"]]
    assert title_match(focused["title"], browser.title) == "truncated", windows
    assert focused["url"].split("/")[0] == "en.wikipedia.org", windows
    assert any(title_match(w["title"], "notes.py (~/Documents) - VIM") for w in windows if not w["focused"]), windows
