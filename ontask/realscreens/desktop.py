"""A real X11 desktop to drive: Xvfb with the openbox window manager, started and stopped as
one unit. The real-screens builder and the agent's tests run real applications on it."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional

from ontask.agent.x11 import DesktopUnavailable, X11Desktop

REQUIRED = ("Xvfb", "openbox")


# Debian installs games under /usr/games, which a non-login shell's PATH often lacks.
PATH = os.pathsep.join([os.environ.get("PATH", "/usr/bin:/bin"), "/usr/games"])


def missing_programs(programs: tuple[str, ...] = REQUIRED) -> list[str]:
    return [p for p in programs if shutil.which(p, path=PATH) is None]


class VirtualDesktop:
    """Xvfb + openbox on a free display number; `with VirtualDesktop() as d: d.display`."""

    def __init__(self, width: int = 1280, height: int = 800, home: Optional[Path] = None):
        """home: the applications' HOME (default: a fresh temporary folder); its path shows in
        window titles, so a set that must be reproducible gives a fixed one."""
        self.size = (width, height)
        self.display = ""
        self._procs: list[subprocess.Popen] = []
        if home is not None:
            shutil.rmtree(home, ignore_errors=True)
            home.mkdir(parents=True)
        self._home = home or Path(tempfile.mkdtemp(prefix="ontask-desktop-"))

    def __enter__(self) -> "VirtualDesktop":
        missing = missing_programs()
        if missing:
            raise DesktopUnavailable(f"missing programs {', '.join(missing)}: run make system-deps")
        r, w = os.pipe()
        # -displayfd: the server picks a free display number and writes it to the pipe.
        xvfb = subprocess.Popen(
            [
                "Xvfb",
                "-displayfd",
                str(w),
                "-screen",
                "0",
                f"{self.size[0]}x{self.size[1]}x24",
                "-nolisten",
                "tcp",
                "-noreset",
            ],
            pass_fds=(w,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(w)
        self._procs.append(xvfb)
        number = b""
        with os.fdopen(r, "rb") as f:
            while not number.endswith(b"\n"):
                chunk = f.read(1)
                if not chunk:
                    self.__exit__()
                    raise DesktopUnavailable("Xvfb exited before it chose a display")
                number += chunk
        self.display = f":{number.decode().strip()}"
        self._procs.append(self.spawn(["openbox", "--sm-disable"]))
        self._wait_for_wm()
        return self

    def env(self) -> dict[str, str]:
        """The environment of a program on this desktop (its own HOME, so no user settings leak in)."""
        return {
            **os.environ,
            "PATH": PATH,
            "DISPLAY": self.display,
            "HOME": str(self._home),
            "NO_AT_BRIDGE": "1",
            "XDG_CONFIG_HOME": str(self._home / ".config"),
            "XDG_CACHE_HOME": str(self._home / ".cache"),
        }

    def spawn(self, argv: list[str], cwd: Optional[str] = None) -> subprocess.Popen:
        p = subprocess.Popen(
            argv, env=self.env(), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        return p

    def _wait_for_wm(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        last: Exception = DesktopUnavailable("openbox did not start")
        while time.monotonic() < deadline:
            try:
                with X11Desktop(self.display) as d:
                    d.windows()
                    return
            except DesktopUnavailable as e:
                last = e
                time.sleep(0.2)
        raise last

    @property
    def home(self) -> Path:
        return self._home

    def __exit__(self, *exc: object) -> None:
        stop_all(list(reversed(self._procs)))  # the window manager and the server last
        self._procs.clear()
        shutil.rmtree(self._home, ignore_errors=True)


def stop_all(procs: list[subprocess.Popen], grace: float = 5.0) -> None:
    """Terminate processes, then kill those still running after `grace` seconds."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            p.kill()
