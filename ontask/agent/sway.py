"""The desktop as sway (or another wlroots compositor that speaks its IPC) knows it: the window
tree over sway's IPC, the screenshot with `grim` (wlroots' screencopy protocol).

Each window of the tree carries its Wayland `app_id` (X11 programs under XWayland: their
`WM_CLASS` in `window_properties`), its title, whether it has the focus and whether it is on
the screen (`visible`: false on a hidden workspace, a background tab or in the scratchpad). Its
rectangle is in logical pixels across all outputs; grim's picture spans the outputs' bounding
box at the greatest output scale, which this module asks grim for explicitly so that the
windows' geometry is given in the picture's pixels.
"""

from __future__ import annotations

import io
import os
import subprocess
from dataclasses import dataclass
from typing import Any, Iterator, Optional

from PIL import Image

from ontask.agent.desktop import DesktopUnavailable, DesktopWindow
from ontask.agent.swayipc import SwayIPC, SwayIPCError


@dataclass(frozen=True)
class Canvas:
    """Where the screenshot lies in sway's logical layout: its top-left corner and its scale."""

    x: int
    y: int
    scale: float

    @classmethod
    def of(cls, outputs: list[dict[str, Any]]) -> "Canvas":
        """The canvas grim draws the active outputs on (their bounding box, the greatest scale)."""
        active = [o for o in outputs if o.get("active")]
        if not active:
            raise DesktopUnavailable("sway has no active output to read")
        return cls(
            min(o["rect"]["x"] for o in active),
            min(o["rect"]["y"] for o in active),
            max(float(o.get("scale") or 1.0) for o in active),
        )

    def pixels(self, x: int, y: int, width: int, height: int) -> tuple[int, int, int, int]:
        """A logical rectangle in the screenshot's pixels."""
        s = self.scale
        return (round((x - self.x) * s), round((y - self.y) * s), round(width * s), round(height * s))


def _views(
    node: dict[str, Any], chain: tuple[dict[str, Any], ...] = (), shown: bool = False
) -> Iterator[tuple[dict, tuple[dict, ...], bool]]:
    """The windows under a node of the tree, bottom to top (tiled ones, then floating ones
    above), each with its ancestors (the root first) and whether its workspace is on an output's
    screen."""
    if node.get("shell"):  # xdg_shell or xwayland: a window, not a container
        yield node, chain, shown
    current = node.get("current_workspace") if node.get("type") == "output" else None
    for child in [*node.get("nodes", ()), *node.get("floating_nodes", ())]:
        on_screen = child.get("name") == current if child.get("type") == "workspace" else shown
        yield from _views(child, (*chain, node), on_screen)


def _bar_rows(node: dict[str, Any], parent: Optional[dict[str, Any]]) -> int:
    """How many title-bar rows sway draws above a node's `rect` (which it reports without them):
    in a stacked container every sibling's row, elsewhere the node's own, if it has one."""
    if not (node.get("deco_rect") or {}).get("height"):
        return 0
    if parent is not None and parent.get("layout") == "stacked":
        return max(1, len(parent.get("nodes") or ()))
    return 1


def _box(node: dict[str, Any], parent: Optional[dict[str, Any]]) -> tuple[int, int, int, int]:
    """A node's whole box in logical pixels, its title-bar rows included: what sway measures its
    children's `deco_rect` from."""
    r = node["rect"]
    bars = (node.get("deco_rect") or {}).get("height", 0) * _bar_rows(node, parent)
    return (r["x"], r["y"] - bars, r["width"], r["height"] + bars)


def _title_bars(view: dict[str, Any], chain: tuple[dict[str, Any], ...]) -> list[tuple[int, int, int, int]]:
    """Where the screen shows the window's title, in logical pixels: its own title bar (a tab, or
    a row of a stack, drawn whether or not the window is the one shown) and those of the
    containers it is in, whose tabs name what they hold."""
    path = (*chain, view)
    out = []
    for k in range(1, len(path)):
        node, parent = path[k], path[k - 1]
        deco = node.get("deco_rect") or {}
        if node.get("type") not in ("con", "floating_con") or not deco.get("width") or not deco.get("height"):
            continue
        px, py, _, _ = _box(parent, path[k - 2] if k >= 2 else None)
        out.append((px + deco["x"], py + deco["y"], deco["width"], deco["height"]))
    return out


def windows_of(tree: dict[str, Any], canvas: Canvas) -> list[DesktopWindow]:
    """The windows of a GET_TREE answer, bottom to top, with their contents' geometry (sway's
    `window_rect` lies inside the window's `rect`, borders left out), the frame around it (the
    rest of `rect`, and the title bar above it outside tabbed and stacked containers) and, for a
    window on the screen's workspace, every place its title is drawn (`DesktopWindow.tabs`)."""
    out = []
    for view, chain, shown in _views(tree):
        parent = chain[-1] if chain else None
        rect, inner = view["rect"], view["window_rect"]
        # Its frame: the borders, and its title bar where that is right above it. In a tabbed or
        # stacked container the rows above hold every sibling's title, and its own lies in
        # `tabs`: a frame over them would take the neighbours' titles with it.
        stacked = parent is not None and parent.get("layout") in ("tabbed", "stacked")
        title_bar = 0 if stacked else (view.get("deco_rect") or {}).get("height", 0)
        ox, oy, ow, oh = canvas.pixels(rect["x"], rect["y"] - title_bar, rect["width"], rect["height"] + title_bar)
        x11 = view.get("window_properties") or {}
        app_id = view.get("app_id") or ""
        x, y, w, h = canvas.pixels(rect["x"] + inner["x"], rect["y"] + inner["y"], inner["width"], inner["height"])
        out.append(
            DesktopWindow(
                wid=int(view["id"]),
                app=app_id or x11.get("class") or "",
                instance=x11.get("instance") or app_id,
                title=str(view.get("name") or "").strip(),
                focused=bool(view.get("focused")),
                minimised=not view.get("visible", False),
                geometry=(x, y, w, h),
                frame=(max(0, x - ox), max(0, ox + ow - x - w), max(0, y - oy), max(0, oy + oh - y - h)),
                tabs=tuple(canvas.pixels(*bar) for bar in _title_bars(view, chain)) if shown else (),
            )
        )
    return out


class SwayDesktop:
    """A connection to sway's IPC socket (`ipc_socket`, as $SWAYSOCK) and the Wayland display
    grim reads the screen of (`wayland_display`, as $WAYLAND_DISPLAY: a name or a socket's path)."""

    def __init__(self, ipc_socket: str, wayland_display: str):
        self.name = wayland_display
        try:
            self._ipc = SwayIPC(ipc_socket)
        except SwayIPCError as e:
            raise DesktopUnavailable(f"{e}: is sway running in this session?") from e

    def close(self) -> None:
        self._ipc.close()

    def __enter__(self) -> "SwayDesktop":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _canvas(self) -> Canvas:
        return Canvas.of(self._ipc.outputs())

    def windows(self) -> list[DesktopWindow]:
        """The windows of every workspace bottom to top, those not on the screen marked minimised."""
        return windows_of(self._ipc.tree(), self._canvas())

    def screenshot(self) -> Image.Image:
        """Every output as one RGB picture, from `grim` at the greatest output scale."""
        canvas = self._canvas()
        # PPM: grim's PNG encoder spends most of a capture compressing what is decoded at once.
        argv = ["grim", "-t", "ppm", "-s", f"{canvas.scale:g}", "-"]
        env = {**os.environ, "WAYLAND_DISPLAY": self.name}
        try:
            done = subprocess.run(argv, capture_output=True, timeout=30, env=env, check=False)
        except FileNotFoundError as e:
            raise DesktopUnavailable("no grim: the agent takes sway's screenshots with it (Debian package grim)") from e
        except subprocess.TimeoutExpired as e:
            raise DesktopUnavailable(f"grim took more than {e.timeout:g} s to grab {self.name}") from e
        if done.returncode != 0:
            raise DesktopUnavailable(f"grim could not grab {self.name}: {done.stderr.decode(errors='replace').strip()}")
        return Image.open(io.BytesIO(done.stdout)).convert("RGB")
