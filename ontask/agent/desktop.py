"""The desktop the agent reads, whatever draws it: the windows with their evidence and the
screenshot, behind one small interface, and the backend a session calls for. An X11 session
(or a program under XWayland, given --display) is read over the X protocol
(`ontask.agent.x11`); a sway session (or another compositor that speaks sway's IPC) over sway's
IPC and `grim` (`ontask.agent.sway`). GNOME and KDE on Wayland give no program the window list,
and their screen only through the desktop portal; the agent says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Protocol

from PIL import Image


class DesktopUnavailable(RuntimeError):
    """No desktop to read (nothing set in the environment, the server refused, no window
    manager, or a session that gives no program its windows); str() says what to do."""


@dataclass(frozen=True)
class DesktopWindow:
    """One window as the window manager or compositor describes it."""

    wid: int  # the X window id, or sway's container id
    app: str  # WM_CLASS class name ("Chromium", "XTerm") or the Wayland app_id ("org.gnome.Nautilus")
    instance: str  # WM_CLASS instance name ("chromium", "xterm"); the app_id on Wayland
    title: str
    focused: bool
    minimised: bool  # not on the screen: minimised, or on another workspace or in sway's scratchpad
    geometry: tuple[int, int, int, int]  # x, y, width, height of its contents in the screenshot's pixels
    # The left, right, top and bottom widths of the frame around the contents (title bar and
    # borders, which the window manager or compositor draws), in the same pixels.
    frame: tuple[int, int, int, int] = (0, 0, 0, 0)
    # Every place its title is drawn, even while its contents are not on the screen: its tab or
    # stack row and those of the containers it is in (sway); x, y, width, height in the same pixels.
    tabs: tuple[tuple[int, int, int, int], ...] = ()

    def evidence(self) -> dict[str, Any]:
        """The window as the wire's WindowInfo carries it."""
        return {"app": self.app, "title": self.title, "url": None, "focused": self.focused}

    def bounds(self) -> tuple[int, int, int, int]:
        """x, y, width, height of the window with its frame: everything on the screen that shows
        it, its title bar included."""
        x, y, w, h = self.geometry
        left, right, top, bottom = self.frame
        return (x - left, y - top, w + left + right, h + top + bottom)


class Desktop(Protocol):
    """What the agent reads of a desktop."""

    name: str

    def windows(self) -> list[DesktopWindow]:
        """The windows bottom to top, the one with the keyboard focus marked focused."""
        ...

    def screenshot(self) -> Image.Image:
        """The whole screen as RGB, in the pixels the windows' geometry is given in."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> "Desktop": ...

    def __exit__(self, *exc: Any) -> None: ...


# XDG_CURRENT_DESKTOP names (colon-separated, e.g. "ubuntu:GNOME") of the Wayland sessions whose
# compositor keeps the window list to itself, and their X11 session's name at the login screen.
_PORTAL_ONLY = {"GNOME": ("GNOME", "GNOME on Xorg"), "KDE": ("KDE Plasma", "Plasma (X11)")}


def open_desktop(display: Optional[str] = None, environ: Mapping[str, str] = os.environ) -> Desktop:
    """The desktop of this session: the X display `display` when one is given; else sway's when
    WAYLAND_DISPLAY and SWAYSOCK are set; else the X display in DISPLAY. A Wayland session
    without sway's IPC raises DesktopUnavailable saying what to do: there, DISPLAY leads only to
    XWayland, which shows the X11 programs and none of the Wayland-native windows."""
    if display:
        from ontask.agent.x11 import X11Desktop

        return X11Desktop(display)
    wayland, swaysock = environ.get("WAYLAND_DISPLAY"), environ.get("SWAYSOCK")
    if wayland and swaysock:
        from ontask.agent.sway import SwayDesktop

        return SwayDesktop(swaysock, wayland)
    if wayland:
        raise DesktopUnavailable(_no_window_list(environ))
    if environ.get("DISPLAY"):
        from ontask.agent.x11 import X11Desktop

        return X11Desktop(environ["DISPLAY"])
    raise DesktopUnavailable(
        "no desktop to read: neither DISPLAY (X11) nor WAYLAND_DISPLAY with SWAYSOCK (sway) is set; "
        "run the agent in your desktop session or pass --display"
    )


def _no_window_list(environ: Mapping[str, str]) -> str:
    xwayland = f"--display {environ['DISPLAY']}" if environ.get("DISPLAY") else "--display"
    names = environ.get("XDG_CURRENT_DESKTOP", "").split(":")
    portal_only = next((_PORTAL_ONLY[n] for n in names if n in _PORTAL_ONLY), None)
    if portal_only:
        session, x11_session = portal_only
        return (
            f"cannot read a {session} Wayland session: its compositor gives no program the window list, and "
            f"the screen only through the desktop portal; log in to '{x11_session}', or pass {xwayland} to "
            "read the X11 (XWayland) windows only"
        )
    return (
        "cannot read this Wayland session: the agent reads Wayland windows over sway's IPC and SWAYSOCK "
        f"is not set; run sway, log in to an X11 session, or pass {xwayland} to read the X11 (XWayland) "
        "windows only"
    )
