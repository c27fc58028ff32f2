"""The desktop as the X server knows it (an X11 session, or the X11 programs under XWayland):
the screenshot and the window evidence.

Window evidence comes from the EWMH properties a window manager publishes (the same ones
ActivityWatch's X11 watcher reads): `_NET_ACTIVE_WINDOW` for the focused window,
`_NET_CLIENT_LIST_STACKING` for the client windows bottom to top, each window's `_NET_WM_NAME`
(UTF-8; `WM_NAME` as the fallback), `WM_CLASS` for its application, `_NET_WM_STATE` for
whether it is minimised and `_NET_FRAME_EXTENTS` for the frame the window manager draws around
it (its title bar shows the title too). python-xlib speaks the protocol; nothing shells out.
"""

from __future__ import annotations

from typing import Any, Optional

from PIL import Image

from ontask.agent.desktop import DesktopUnavailable, DesktopWindow


def _frame(extents) -> tuple[int, int, int, int]:
    """_NET_FRAME_EXTENTS (left, right, top, bottom); none where the window manager sets none."""
    if extents is None or len(extents) < 4:
        return (0, 0, 0, 0)
    left, right, top, bottom = (int(v) for v in extents[:4])
    return (left, right, top, bottom)


class X11Desktop:
    """A connection to one X display; cheap to keep open between captures."""

    def __init__(self, display: str):
        from Xlib import X, error
        from Xlib import display as xdisplay

        self.name = display
        try:
            self._d = xdisplay.Display(self.name)
        except (error.DisplayError, error.ConnectionClosedError, OSError) as e:
            raise DesktopUnavailable(f"cannot open X display {self.name}: {e}") from e
        self._X = X
        self._root = self._d.screen().root
        self._atoms: dict[str, int] = {}

    def close(self) -> None:
        self._d.close()

    def __enter__(self) -> "X11Desktop":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _atom(self, name: str) -> int:
        if name not in self._atoms:
            self._atoms[name] = self._d.intern_atom(name)
        return self._atoms[name]

    def _prop(self, window, name: str, kind: int) -> Any:
        from Xlib import error

        try:
            p = window.get_full_property(self._atom(name), kind)
        except (error.BadWindow, error.BadDrawable, error.BadAtom, error.BadValue):
            return None
        return p.value if p is not None else None

    def _title(self, window) -> str:
        from Xlib import error

        value = self._prop(window, "_NET_WM_NAME", self._atom("UTF8_STRING"))
        if value is None:
            try:
                value = window.get_wm_name()
            except (error.BadWindow, error.BadDrawable):
                value = None
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        return str(value or "").strip()

    def _geometry(self, window) -> tuple[int, int, int, int]:
        g = window.get_geometry()
        pos = window.translate_coords(self._root, 0, 0)
        # translate_coords gives the root's origin in the window's frame: negate it.
        return (-pos.x, -pos.y, g.width, g.height)

    def window_manager(self) -> Optional[str]:
        """The name of the EWMH window manager running on the display (the `_NET_WM_NAME` of the
        window `_NET_SUPPORTING_WM_CHECK` names, which must name itself: a property a dead window
        manager left behind does not count), or None when none runs."""
        from Xlib import X

        check = self._prop(self._root, "_NET_SUPPORTING_WM_CHECK", X.AnyPropertyType)
        if check is None or not len(check):
            return None
        child = self._d.create_resource_object("window", int(check[0]))
        own = self._prop(child, "_NET_SUPPORTING_WM_CHECK", X.AnyPropertyType)
        if own is None or not len(own) or int(own[0]) != int(check[0]):
            return None
        return self._title(child) or "(unnamed)"

    def workarea(self) -> Optional[tuple[int, int, int, int]]:
        """x, y, width and height of the current desktop's work area (`_NET_WORKAREA`: the screen
        less the panels and taskbars), or None when the window manager sets none."""
        from Xlib import X

        area = self._prop(self._root, "_NET_WORKAREA", X.AnyPropertyType)
        if area is None or len(area) < 4:
            return None
        current = self._prop(self._root, "_NET_CURRENT_DESKTOP", X.AnyPropertyType)
        k = int(current[0]) if current is not None and len(current) else 0
        k = k if len(area) >= 4 * (k + 1) else 0
        x, y, width, height = (int(v) for v in area[4 * k : 4 * k + 4])
        return (x, y, width, height)

    def windows(self) -> list[DesktopWindow]:
        """The client windows bottom to top (stacking order), the active one marked focused."""
        from Xlib import X, error

        stacking = self._prop(self._root, "_NET_CLIENT_LIST_STACKING", X.AnyPropertyType)
        if stacking is None:
            stacking = self._prop(self._root, "_NET_CLIENT_LIST", X.AnyPropertyType)
        if stacking is None:
            if self.window_manager() is not None:
                return []  # xfwm4 sets no client list until its first window
            raise DesktopUnavailable(f"display {self.name} has no EWMH window manager (no _NET_CLIENT_LIST)")
        active = self._prop(self._root, "_NET_ACTIVE_WINDOW", X.AnyPropertyType)
        active_id = int(active[0]) if active is not None and len(active) else 0
        hidden = self._atom("_NET_WM_STATE_HIDDEN")
        out = []
        for wid in stacking:
            w = self._d.create_resource_object("window", int(wid))
            try:
                cls = w.get_wm_class() or ("", "")
                state = self._prop(w, "_NET_WM_STATE", X.AnyPropertyType)
                extents = self._prop(w, "_NET_FRAME_EXTENTS", X.AnyPropertyType)
                out.append(
                    DesktopWindow(
                        wid=int(wid),
                        app=cls[1] or cls[0] or "",
                        instance=cls[0] or "",
                        title=self._title(w),
                        focused=int(wid) == active_id,
                        minimised=state is not None and hidden in state,
                        geometry=self._geometry(w),
                        frame=_frame(extents),
                    )
                )
            except (error.BadWindow, error.BadDrawable, error.BadMatch):  # closed between the list and the read
                continue
        return out

    def screenshot(self) -> Image.Image:
        """The whole screen as RGB (Pillow reads it over the X connection with XCB)."""
        from PIL import ImageGrab

        try:
            return ImageGrab.grab(xdisplay=self.name).convert("RGB")
        except OSError as e:
            raise DesktopUnavailable(f"cannot grab the screen of {self.name}: {e}") from e

    # -- driving the desktop (the real-screens builder and tests use these) ----------------------

    def activate(self, wid: int) -> None:
        """Ask the window manager to focus and raise a window (_NET_ACTIVE_WINDOW request)."""
        self._client_message(wid, "_NET_ACTIVE_WINDOW", [2, self._X.CurrentTime, 0, 0, 0])

    def unmaximise(self, wid: int) -> None:
        """Ask the window manager to take a window out of its maximised state (_NET_WM_STATE
        remove): openbox keeps a maximised window where it is, and LibreOffice starts maximised."""
        vert, horz = self._atom("_NET_WM_STATE_MAXIMIZED_VERT"), self._atom("_NET_WM_STATE_MAXIMIZED_HORZ")
        self._client_message(wid, "_NET_WM_STATE", [0, vert, horz, 2, 0])

    def move_resize(self, wid: int, x: int, y: int, width: int, height: int) -> None:
        """Place a window's frame (_NET_MOVERESIZE_WINDOW with x, y, width and height given)."""
        self._client_message(wid, "_NET_MOVERESIZE_WINDOW", [1 | 0xF << 8 | 2 << 12, x, y, width, height])

    def close_window(self, wid: int) -> None:
        """Ask the window manager to close a window politely (_NET_CLOSE_WINDOW)."""
        self._client_message(wid, "_NET_CLOSE_WINDOW", [self._X.CurrentTime, 2, 0, 0, 0])

    def _client_message(self, wid: int, atom: str, data: list[int]) -> None:
        from Xlib import X
        from Xlib.protocol import event

        window = self._d.create_resource_object("window", wid)
        ev = event.ClientMessage(window=window, client_type=self._atom(atom), data=(32, data))
        self._root.send_event(ev, event_mask=X.SubstructureRedirectMask | X.SubstructureNotifyMask)
        self._d.sync()
