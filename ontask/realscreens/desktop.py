"""A real X11 desktop to drive: Xvfb with a window manager (openbox, or another of
`ontask.realscreens.wms` with one of its themes) and a private D-Bus session bus, started and
stopped as one unit. The real-screens builder and the agent's tests run real
applications on it; `VirtualDesktop.activity` tells whether they are still at work.

Hermetic: its programs never reach the session bus of the machine they run on, nor autolaunch
one on the display (as dbus-x11 does where it is installed). Single-instance applications
find each other over the session bus and hand new files to the first window (Mousepad did,
and a split screen of two notes got one window); on this desktop they can only meet the other
programs of the same desktop, on a bus that activates no service."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ontask.agent.desktop import DesktopUnavailable
from ontask.agent.x11 import X11Desktop

REQUIRED = ("Xvfb", "openbox")
BUS_DAEMON = "dbus-daemon"  # optional: without it the programs get a bus address that leads nowhere

# A session bus with no service directories: nothing installed on the machine is activated on it,
# so the desktop behaves the same wherever it runs.
_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


# Debian installs games under /usr/games, which a non-login shell's PATH often lacks.
PATH = os.pathsep.join([os.environ.get("PATH", "/usr/bin:/bin"), "/usr/games"])


def missing_programs(programs: tuple[str, ...] = REQUIRED) -> list[str]:
    return [p for p in programs if shutil.which(p, path=PATH) is None]


class VirtualDesktop:
    """Xvfb + a window manager (openbox unless asked) (+ a private session bus) on a free display
    number; `with VirtualDesktop() as d: d.display`."""

    def __init__(
        self,
        width: int = 1280,
        height: int = 800,
        home: Optional[Path] = None,
        wm: str = "openbox",
        theme: Optional[str] = None,
    ):
        """home: the applications' HOME (default: a fresh temporary folder); its path shows in
        window titles, so a set that must be reproducible gives a fixed one. wm and theme: one of
        `ontask.realscreens.wms.WINDOW_MANAGERS` and one of its themes (openbox without a theme:
        the system's openbox configuration, as the base set was shot)."""
        from ontask.realscreens.wms import WINDOW_MANAGERS

        if wm not in WINDOW_MANAGERS:
            raise ValueError(f"no window manager {wm!r}: one of {', '.join(WINDOW_MANAGERS)}")
        if theme is None and wm != "openbox":
            raise ValueError(f"{wm} needs a theme: one of {', '.join(WINDOW_MANAGERS[wm].themes())}")
        self.wm, self.theme = WINDOW_MANAGERS[wm], theme
        self.size = (width, height)
        self.display = ""
        self.bus = ""  # DBUS_SESSION_BUS_ADDRESS of the desktop's programs
        self._procs: list[subprocess.Popen] = []
        self._sessions: set[int] = set()  # one per program spawned: its children and helpers stay in it
        if home is not None:
            shutil.rmtree(home, ignore_errors=True)
            home.mkdir(parents=True)
        self._home = home or Path(tempfile.mkdtemp(prefix="ontask-desktop-"))

    def __enter__(self) -> "VirtualDesktop":
        missing = missing_programs(("Xvfb", self.wm.program))
        if missing:
            raise DesktopUnavailable(f"missing programs {', '.join(missing)}: run make system-deps")
        # -displayfd: the server picks a free display number and writes it to the pipe.
        number = self._start_and_read(
            "Xvfb",
            ["-displayfd", "{fd}", "-screen", "0", f"{self.size[0]}x{self.size[1]}x24", "-nolisten", "tcp", "-noreset"],
        )
        self.display = f":{number}"
        self.bus = self._session_bus()
        try:
            commands = [["openbox", "--sm-disable"]] if self.theme is None else self.wm.commands(self._home, self.theme)
        except (FileNotFoundError, ValueError) as e:
            self.__exit__()
            raise DesktopUnavailable(str(e)) from e
        for argv in commands:
            self._procs.append(self.spawn(argv))
        self._wait_for_wm()
        return self

    def _start_and_read(self, program: str, args: list[str]) -> str:
        """Start a server that writes one line (its display or address) to the file descriptor
        put in place of "{fd}" in args, and return that line."""
        r, w = os.pipe()
        proc = subprocess.Popen(
            [program, *(a.replace("{fd}", str(w)) for a in args)],
            env=self.env(),
            pass_fds=(w,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(w)
        self._procs.append(proc)
        line = b""
        with os.fdopen(r, "rb") as f:
            while not line.endswith(b"\n"):
                chunk = f.read(1)
                if not chunk:
                    self.__exit__()
                    raise DesktopUnavailable(f"{program} exited before it printed where it listens")
                line += chunk
        return line.decode().strip()

    def _session_bus(self) -> str:
        """The address of the desktop's own session bus; without dbus-daemon, one that leads
        nowhere: a set address also keeps libdbus and GLib from autolaunching a bus."""
        if shutil.which(BUS_DAEMON, path=PATH) is None:
            return f"unix:path={self._home / 'no-session-bus'}"
        config = self._home / ".ontask-session-bus.conf"
        config.write_text(_BUS_CONFIG)
        return self._start_and_read(
            BUS_DAEMON, [f"--config-file={config}", "--nofork", "--nopidfile", "--print-address={fd}"]
        )

    def env(self) -> dict[str, str]:
        """The environment of a program on this desktop: its own HOME, so no user settings leak in,
        and its own session bus, so it reaches no program outside the desktop."""
        return {
            **os.environ,
            "PATH": PATH,
            "DISPLAY": self.display,
            "DBUS_SESSION_BUS_ADDRESS": self.bus,
            "HOME": str(self._home),
            "NO_AT_BRIDGE": "1",
            "XDG_CONFIG_HOME": str(self._home / ".config"),
            "XDG_CACHE_HOME": str(self._home / ".cache"),
        }

    def spawn(self, argv: list[str], cwd: Optional[str] = None) -> subprocess.Popen:
        """Start a program on the desktop, in a session of its own (its id is the program's pid),
        so that `activity` finds the processes it starts, also those that outlive it."""
        p = subprocess.Popen(
            argv, env=self.env(), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        self._sessions.add(p.pid)
        return p

    def activity(self) -> "Activity":
        """What the desktop's programs (the X server and every program spawned on it, with the
        processes they started) have done so far: their CPU time and whether one is running."""
        servers = {p.pid for p in self._procs}
        cpu: dict[int, int] = {}
        running = False
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            stat = _stat(f"/proc/{entry.name}/stat")
            if stat is None:
                continue
            pid = int(entry.name)
            if pid not in servers and int(stat[3]) not in self._sessions:
                continue
            cpu[pid] = int(stat[11]) + int(stat[12])  # utime + stime of all its threads, in clock ticks
            running = running or _any_thread_running(pid)
        return Activity(cpu, running)

    def _wait_for_wm(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        last: Exception = DesktopUnavailable(f"{self.wm.name} did not start in {timeout:g} s")
        while time.monotonic() < deadline:
            try:
                with X11Desktop(self.display) as d:
                    if d.window_manager() is not None:
                        d.windows()
                        return
            except DesktopUnavailable as e:
                last = e
            time.sleep(0.2)
        self.__exit__()
        raise last

    @property
    def home(self) -> Path:
        return self._home

    def __exit__(self, *exc: object) -> None:
        stop_all(list(reversed(self._procs)))  # the window manager and the server last
        self._procs.clear()
        shutil.rmtree(self._home, ignore_errors=True)


@dataclass(frozen=True)
class Activity:
    """A reading of the desktop's processes (`VirtualDesktop.activity`)."""

    cpu: dict[int, int]  # pid -> CPU time used so far, in clock ticks
    running: bool  # a thread was running or waiting for a CPU (or for the disk)

    def cpu_seconds_since(self, before: "Activity") -> float:
        """The CPU time the desktop's processes used between `before` and this reading."""
        # A process started since counts whole; one gone since is not counted (its time is lost).
        ticks = sum(max(t - before.cpu.get(pid, 0), 0) for pid, t in self.cpu.items())
        return ticks / os.sysconf("SC_CLK_TCK")


def _stat(path: str) -> Optional[list[str]]:
    """The fields of a /proc stat file after the command name (state first), or None if the
    process is gone."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def _any_thread_running(pid: int) -> bool:
    # A process starved by a loaded machine is runnable (R) but gets no CPU time: its state,
    # not its CPU time, says it still has work to do.
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    return any((s := _stat(f"/proc/{pid}/task/{t}/stat")) is not None and s[0] in "RD" for t in threads)


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
