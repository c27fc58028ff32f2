"""The real applications of the real-screens set, driven on a `VirtualDesktop`: Chromium on the
pages `pages.serve_pages` serves, LibreOffice Writer and Calc, vim in xterm, Mousepad, Evince,
mpv, xboard and xmahjongg. Each material opens in its own window, which is placed and focused
as a shot asks, then screenshotted with the capture agent's own `X11Desktop`. A change of how
the applications are started or placed changes the screenshots: bump `build.FORMAT_VERSION`."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from PIL import Image

from ontask.agent.desktop import DesktopWindow
from ontask.agent.x11 import X11Desktop
from ontask.realscreens.desktop import VirtualDesktop, stop_all
from ontask.realscreens.looks import Frame
from ontask.realscreens.pages import document, url_of, video_frame
from ontask.realscreens.plan import Shot
from ontask.realscreens.repaint import wait_until_drawn
from ontask.realscreens.tasks import CHAT, CODE, DOC, GAME, NOTE, PAGE, PDF, SHEET, VIDEO, Material

PROGRAMS = (
    "Xvfb",
    "openbox",
    "chromium",
    "soffice",
    "xterm",
    "vim",
    "mousepad",
    "evince",
    "mpv",
    "xboard",
    "xmahjongg",
)

_LIBREOFFICE_SETTINGS = (
    '<?xml version="1.0" encoding="UTF-8"?><oor:items xmlns:oor="http://openoffice.org/2001/registry" '
    'xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    '<item oor:path="/org.openoffice.Office.Common/Misc"><prop oor:name="ShowTipOfTheDay" oor:op="fuse">'
    "<value>false</value></prop></item>"
    '<item oor:path="/org.openoffice.Setup/Product"><prop oor:name="LastTimeWhatsNewShown" oor:op="fuse">'
    '<value>99999999</value></prop><prop oor:name="ooSetupLastVersion" oor:op="fuse"><value>7.4</value>'
    "</prop></item>"
    '<item oor:path="/org.openoffice.Setup/Office"><prop oor:name="FirstStartWizardCompleted" oor:op="fuse">'
    "<value>true</value></prop></item></oor:items>"
)


@dataclass(frozen=True)
class Capture:
    """One shot's screenshot with the windows as the agent reads them and the wait for drawing."""

    image: Image.Image
    windows: list[DesktopWindow]  # the visible windows, bottom to top
    waited: float  # seconds from placing the windows until the desktop finished drawing
    still: bool  # False: the wait gave up while the desktop was still busy


class AppDriver:
    """Opens materials in their applications on one desktop, one shot at a time."""

    def __init__(
        self,
        desk: VirtualDesktop,
        files: Path,
        port: int,
        fit_frames: bool = False,
        scale: int = 1,
        scheme: str = "light",
    ):
        """files: where documents are written and opened from; port: where `serve_pages` listens;
        fit_frames: place windows by the frames the window manager draws and within its work area
        (beside a taskbar), instead of openbox's 20-pixel title bar on the whole screen, as the
        base set was shot; scale and scheme: the browser drawn at that device scale, and its own
        frame and tabs dark on a dark look (the pages keep their colours: they have no dark style)."""
        self.desk, self.files, self.port, self.fit_frames = desk, files, port, fit_frames
        self.scale, self.scheme = scale, scheme
        self.x = X11Desktop(desk.display)
        self.procs: list[subprocess.Popen] = []
        # Two browser profiles, one a running Chromium each (Chromium runs one process a profile):
        # the window manager draws the title bar (the base set's), or Chromium draws its own frame
        # with its tab strip, as it does by default.
        self._chromium_profiles = {}
        for frame, custom in (("wm", False), ("own", True)):
            profile = desk.home / ("chromium" if frame == "wm" else "chromium-own-frame")
            (profile / "Default").mkdir(parents=True, exist_ok=True)
            (profile / "Default" / "Preferences").write_text(json.dumps({"browser": {"custom_chrome_frame": custom}}))
            self._chromium_profiles[frame] = profile
        self._lo_profile = desk.home / "libreoffice"
        user = self._lo_profile / "user"
        user.mkdir(parents=True, exist_ok=True)
        (user / "registrymodifications.xcu").write_text(_LIBREOFFICE_SETTINGS)

    def argv(self, m: Material, frame: Frame = "wm", tabs: Sequence[Material] = ()) -> list[str]:
        """The command that opens a material in its real application, in a window of its own.
        A page or chat channel with `frame` "browser" opens in Chromium's own frame, the active tab,
        with the `tabs` opened after it in the same window."""
        if m.kind in (PAGE, CHAT):
            profile = self._chromium_profiles["own" if frame == "browser" else "wm"]
            # Only where a look asks for them: the base set's screens stay as they were shot.
            look = [f"--force-device-scale-factor={self.scale}"] if self.scale != 1 else []
            look += ["--force-dark-mode"] if self.scheme == "dark" else []
            # Chromium makes the first page of its command line the active tab.
            urls = [url_of(m)] + [url_of(t) for t in tabs]
            return [
                "chromium",
                "--no-sandbox",
                "--test-type",
                "--no-first-run",
                "--disable-gpu",
                "--no-default-browser-check",
                "--disable-features=Translate,MediaRouter,HttpsUpgrades,HttpsFirstBalancedModeAutoEnable",
                f"--user-data-dir={profile}",
                f"--host-resolver-rules=MAP * 127.0.0.1:{self.port}",
                "--ignore-certificate-errors",
                *look,
                "--new-window",
                *urls,
            ]
        lo = ["soffice", f"-env:UserInstallation=file://{self._lo_profile}", "--norestore", "--nologo"]
        if m.kind == DOC:
            return lo + ["--writer", str(document(m, self.files))]
        if m.kind == SHEET:
            return lo + ["--calc", "--infilter=CSV:44,34,UTF8", str(document(m, self.files))]
        if m.kind == CODE:
            return [
                "xterm",
                "-fa",
                "DejaVu Sans Mono",
                "-fs",
                "11",
                "-e",
                "vim",
                "-n",
                "-c",
                "set title",
                str(document(m, self.files)),
            ]
        if m.kind == NOTE:
            # Mousepad is single-instance over D-Bus: a second one would open its file in the
            # first one's window, and a split screen of two notes would show one.
            return ["mousepad", "--disable-server", str(document(m, self.files))]
        if m.kind == PDF:
            return ["evince", str(document(m, self.files))]
        if m.kind == VIDEO:
            return [
                "mpv",
                "--force-window=yes",
                "--image-display-duration=inf",
                "--no-audio",
                "--osc=no",
                f"--force-media-title={m.title}",
                str(video_frame(m, self.files)),
            ]
        if m.kind == GAME:
            return ["xboard", "-ncp"] if m.name == "xboard" else [m.name]  # -ncp: no chess engine to start
        raise ValueError(f"unknown material kind {m.kind}")

    def open(
        self, m: Material, timeout: float = 45.0, frame: Frame = "wm", tabs: Sequence[Material] = ()
    ) -> DesktopWindow:
        """Start the material's application and wait for its new window (the title settled);
        `frame` and `tabs` as `argv` takes them."""
        before = {w.wid for w in self.x.windows()}
        self.procs.append(self.desk.spawn(self.argv(m, frame, tabs), cwd=str(self.files)))
        deadline = time.monotonic() + timeout
        expect = expected_title_part(m)
        while time.monotonic() < deadline:
            new = [w for w in self.x.windows() if w.wid not in before and expect.lower() in w.title.lower()]
            if new:
                return new[-1]
            time.sleep(0.2)
        titles = [w.title for w in self.x.windows() if w.wid not in before]
        raise TimeoutError(
            f"{m.kind} {m.name}: no window titled with {expect!r} after {timeout:.0f} s (new windows: {titles})"
        )

    def close_all(self) -> None:
        """Close every window and stop the applications (the browser and the office suite may
        linger a moment, as they do on a real desktop)."""
        for w in self.x.windows():
            self.x.close_window(w.wid)
        stop_all(self.procs)
        self.procs.clear()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(
            not w.app.startswith(("Chromium", "libreoffice", "soffice")) for w in self.x.windows()
        ):
            time.sleep(0.1)

    def place(self, wins: list[DesktopWindow], layout: str) -> None:
        """Move and resize the windows as the layout ("full", "split" or "cascade") puts them."""
        x0, y0, (w, h) = 0, 0, self.desk.size
        titles = [20] * len(wins)  # openbox's title bar: place frames so the client areas fit the screen
        if self.fit_frames:  # each window's own frame: none where the application draws its own
            x0, y0, w, h = self.x.workarea() or (0, 0, w, h)
            titles = [win.frame[2] + win.frame[3] for win in wins]
        if layout == "full":
            boxes = [(x0, y0, w, h)] * len(wins)
        elif layout == "split":
            boxes = [(x0, y0, w // 2, h), (x0 + w // 2, y0, w - w // 2, h)]
        else:
            # Cascaded windows leave room below them: their contents keep one size, frame or not.
            titles = [0] * len(wins)
            boxes = [
                (x0, y0, int(w * 0.72), int(h * 0.75)),
                (x0 + int(w * 0.25), y0 + int(h * 0.2), int(w * 0.72), int(h * 0.75)),
            ]
        for win, title, (bx, by, bw, bh) in zip(wins, titles, boxes[-len(wins) :]):
            self.x.unmaximise(win.wid)
            self.x.move_resize(win.wid, bx, by, bw, bh - title)

    def shoot(self, shot: Shot, frame: Frame = "wm", tabs: Sequence[Material] = ()) -> Capture:
        """Open the shot's windows bottom to top, place them, focus the last, wait until the
        applications have drawn them, and take the screenshot and the visible windows as the
        agent reads them. The focused (last) window is drawn with `frame` (its `tabs` before it);
        the others with the window manager's."""
        last = len(shot.windows) - 1
        wins = [self.open(m, frame=frame, tabs=tabs) if i == last else self.open(m) for i, m in enumerate(shot.windows)]
        self.place(wins, shot.layout)
        for win in wins:
            self.x.activate(win.wid)
            time.sleep(0.3)
        drawn = wait_until_drawn(self.x, self.desk)
        return Capture(drawn.image, [w for w in self.x.windows() if not w.minimised], drawn.seconds, drawn.still)


def expected_title_part(m: Material) -> str:
    """What the window title of a material contains once the application has loaded it."""
    if m.kind in (PAGE, CHAT, VIDEO, PDF):  # evince shows the PDF's title metadata
        return m.title
    if m.kind == GAME:
        return {"xboard": "xboard", "xmahjongg": "mahjongg"}.get(m.name, m.name)
    return m.name
