"""A real headless sway desktop for the capture agent's tests, as Xvfb + openbox is for X11:
sway on wlroots' headless backend with software rendering (no GPU, no seat, no input devices),
its own runtime folder and a minimal config, one output of a given mode and scale, and
Xwayland for X11 programs. Programs started on it reach no session bus outside it.

sway refuses to start as root (it checks that it cannot regain root once dropped), and Xwayland
lets in only its own user's programs: run as root, the whole desktop (sway and every program
started on it) runs as nobody, in folders nobody owns. Root's agent still reaches sway's IPC and
Wayland sockets and grim still reads the screen, as for any user's agent in their session."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

from ontask.agent.desktop import DesktopUnavailable
from ontask.agent.swayipc import SwayIPC, SwayIPCError
from ontask.realscreens.desktop import stop_all

REQUIRED = ("sway", "grim", "Xwayland")

# The test's own settings: one headless output, title bars as most users have them, Xwayland
# started with sway (not on the first X11 client) so that its display is known up front.
_CONFIG = """output HEADLESS-1 mode {width}x{height} scale {scale}
default_border normal
xwayland enable
"""


class HeadlessSway:
    """`with HeadlessSway(1280, 800, scale=2) as s: s.env(); s.ipc_socket; s.spawn([...])`."""

    def __init__(self, width: int = 1280, height: int = 800, scale: float = 1.0):
        self.size = (width, height)  # the output's mode: the screenshot's pixels
        self.scale = scale
        self.ipc_socket = ""  # $SWAYSOCK
        self.wayland_display = ""  # $WAYLAND_DISPLAY, as the socket's path
        self.x_display = ""  # Xwayland's $DISPLAY
        self._sway: Optional[subprocess.Popen] = None
        self._clients: list[subprocess.Popen] = []
        self._runtime = Path(tempfile.mkdtemp(prefix="ontask-sway-"))  # mode 0700, as XDG_RUNTIME_DIR must be
        self._home = self._runtime / "home"
        # The desktop's user where it is not ours: Popen's user, group and extra_groups.
        self._as_user: dict[str, Any] = {}

    def __enter__(self) -> "HeadlessSway":
        missing = [p for p in REQUIRED if shutil.which(p) is None]
        if missing:
            raise DesktopUnavailable(f"missing programs {', '.join(missing)}: run make system-deps")
        self._home.mkdir()
        config = self._runtime / "config"
        config.write_text(_CONFIG.format(width=self.size[0], height=self.size[1], scale=f"{self.scale:g}"))
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            self._as_user = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
            for p in (self._runtime, self._home, config):
                os.chown(p, nobody.pw_uid, nobody.pw_gid)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self._home),
            "XDG_RUNTIME_DIR": str(self._runtime),
            "WLR_BACKENDS": "headless",
            "WLR_LIBINPUT_NO_DEVICES": "1",
            "WLR_RENDERER": "pixman",
            "DBUS_SESSION_BUS_ADDRESS": self._no_bus(),
        }
        with open(self._runtime / "sway.log", "wb") as log:
            self._sway = subprocess.Popen(
                ["sway", "-c", str(config)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
                **self._as_user,
            )
        try:
            self._wait_for_sway()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _no_bus(self) -> str:
        # A set address that leads nowhere keeps GLib from looking for the machine's session bus.
        return f"unix:path={self._runtime / 'no-session-bus'}"

    def _wait_for_sway(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._sway is not None and self._sway.poll() is not None:
                raise DesktopUnavailable(f"sway exited ({self._sway.returncode}): {self.log()[-2000:]}")
            sockets = sorted(self._runtime.glob("sway-ipc.*.sock"))
            waylands = sorted(p for p in self._runtime.glob("wayland-*") if p.suffix != ".lock")
            if sockets and waylands:
                self.ipc_socket, self.wayland_display = str(sockets[0]), str(waylands[0])
                try:
                    with SwayIPC(self.ipc_socket) as ipc:
                        if any(o.get("active") for o in ipc.outputs()):
                            self.x_display = self._xwayland_display(ipc, deadline)
                            return
                except SwayIPCError:
                    pass
            time.sleep(0.2)
        raise DesktopUnavailable(f"sway did not open its sockets in {timeout:g} s: {self.log()[-2000:]}")

    def _xwayland_display(self, ipc: SwayIPC, deadline: float) -> str:
        """Xwayland's display, as sway hands it to the programs it starts."""
        out = self._runtime / "xwayland-display"
        ipc.command(f"exec printenv DISPLAY > {out}")
        while time.monotonic() < deadline:
            if out.exists() and out.read_text().strip():
                return out.read_text().strip()
            time.sleep(0.1)
        raise DesktopUnavailable(f"sway started no Xwayland: {self.log()[-2000:]}")

    def log(self) -> str:
        """What sway wrote to its standard error so far."""
        return (self._runtime / "sway.log").read_text(errors="replace")

    def env(self) -> dict[str, str]:
        """The environment of a program on this desktop: the sway session's variables, its own
        HOME and no session bus."""
        env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "SWAYSOCK", "DISPLAY")}
        return {
            **env,
            "WAYLAND_DISPLAY": self.wayland_display,
            "SWAYSOCK": self.ipc_socket,
            "DISPLAY": self.x_display,
            "XDG_RUNTIME_DIR": str(self._runtime),
            "XDG_SESSION_TYPE": "wayland",
            "XDG_CURRENT_DESKTOP": "sway",
            "HOME": str(self._home),
            "XDG_CONFIG_HOME": str(self._home / ".config"),
            "XDG_CACHE_HOME": str(self._home / ".cache"),
            "DBUS_SESSION_BUS_ADDRESS": self._no_bus(),
            "NO_AT_BRIDGE": "1",
        }

    @property
    def home(self) -> Path:
        """The programs' HOME, which the desktop's user owns."""
        return self._home

    def write(self, name: str, text: str) -> Path:
        """A file in the programs' HOME, theirs to read and write."""
        path = self._home / name
        path.write_text(text)
        if self._as_user:
            os.chown(path, self._as_user["user"], self._as_user["group"])
        return path

    def spawn(self, argv: list[str]) -> subprocess.Popen:
        """Start a program on the desktop (a Wayland client, or an X11 one through Xwayland)."""
        p = subprocess.Popen(
            argv,
            env=self.env(),
            cwd=self._home,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            **self._as_user,
        )
        self._clients.append(p)
        return p

    def __exit__(self, *exc: object) -> None:
        stop_all(list(reversed(self._clients)))
        self._clients.clear()
        if self._sway is not None:
            stop_all([self._sway])  # Xwayland ends with its compositor
            self._sway = None
        shutil.rmtree(self._runtime, ignore_errors=True)
