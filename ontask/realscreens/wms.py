"""The window managers a real-screens desktop can run, with the themes Debian ships for each: how
to start one with a given theme from a config written into the desktop's own HOME (nothing of
the machine's user is read), and which themes it has. People's screens differ most in what the
window manager draws (title bars, borders, a taskbar with the windows' titles), so the set is
shot on several, with several themes each, and whole window managers and themes are held out.

Each one speaks EWMH, so `ontask.agent.x11.X11Desktop` reads its windows, focus and frames as
it reads openbox's."""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

OPENBOX_SYSTEM_RC = Path("/etc/xdg/openbox/rc.xml")


class UnknownTheme(ValueError):
    """A theme the window manager does not have on this machine."""


def _openbox(home: Path, theme: str) -> list[list[str]]:
    # The system's rc.xml (keybindings, placement) with only the theme's name changed.
    rc = OPENBOX_SYSTEM_RC.read_text() if OPENBOX_SYSTEM_RC.exists() else "<openbox_config><theme/></openbox_config>"
    rc, n = re.subn(r"<theme>\s*<name>[^<]*</name>", f"<theme>\n    <name>{theme}</name>", rc, count=1)
    if n == 0:
        rc = rc.replace("<theme>", f"<theme>\n    <name>{theme}</name>", 1)
    config = home / ".config" / "openbox" / "rc.xml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(rc)
    return [["openbox", "--sm-disable", "--config-file", str(config)]]


def _fluxbox(home: Path, theme: str) -> list[list[str]]:
    init = home / ".fluxbox" / "init"
    init.parent.mkdir(parents=True, exist_ok=True)
    # Its toolbar (workspace name, the windows' titles) stays: it is on people's screens. Its clock
    # does not: a screen that changes every second is never still enough to be shot.
    init.write_text(
        f"session.styleFile: /usr/share/fluxbox/styles/{theme}\n"
        "session.screen0.toolbar.visible: true\n"
        "session.screen0.toolbar.tools: prevworkspace, workspacename, nextworkspace, iconbar\n"
    )
    return [["fluxbox", "-rc", str(init)]]


def _icewm(home: Path, theme: str) -> list[list[str]]:
    folder = home / ".icewm"  # icewm reads $HOME/.icewm: the desktop's own HOME
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "theme").write_text(f'Theme="{theme}/default.theme"\n')
    # Its taskbar stays, without the clock and the meters, which change the screen every second.
    (folder / "preferences").write_text(
        "TaskBarShowClock=0\nTaskBarShowCPUStatus=0\nTaskBarShowNetStatus=0\nTaskBarShowMEMStatus=0\n"
    )
    return [["icewm"]]


_XFWM4_CHANNEL = """<?xml version="1.0" encoding="UTF-8"?>
<channel name="xfwm4" version="1.0">
  <property name="general" type="empty">
    <property name="theme" type="string" value="{theme}"/>
    <property name="title_font" type="string" value="Sans Bold 9"/>
  </property>
</channel>
"""


def xfconfd() -> Optional[str]:
    """The path of xfconf's daemon (Debian keeps it under the multiarch library folder), or None."""
    found = sorted(glob.glob("/usr/lib/*/xfce4/xfconf/xfconfd")) + sorted(glob.glob("/usr/lib/xfce4/xfconf/xfconfd"))
    return found[0] if found else None


def _xfwm4(home: Path, theme: str) -> list[list[str]]:
    # xfwm4 reads its theme from xfconf, whose daemon is D-Bus activated on a desktop; the
    # desktop's private bus activates nothing, so the daemon is started on it first, reading the
    # channel written here.
    channel = home / ".config" / "xfce4" / "xfconf" / "xfce-perchannel-xml" / "xfwm4.xml"
    channel.parent.mkdir(parents=True, exist_ok=True)
    channel.write_text(_XFWM4_CHANNEL.format(theme=theme))
    daemon = xfconfd()
    if daemon is None:
        raise FileNotFoundError("xfconfd (Debian package xfconf) is not installed: run make system-deps")
    return [[daemon], ["xfwm4", "--compositor=off", "--sm-client-disable"]]


@dataclass(frozen=True)
class WindowManager:
    """One window manager: the programs it needs, its Debian package, where its themes lie (one
    folder each, `{theme}` in the pattern) and how to start it with one."""

    name: str
    program: str
    package: str
    theme_pattern: str  # a theme's folder or file, with {theme}
    start: Callable[[Path, str], list[list[str]]]

    def themes(self) -> list[str]:
        """The themes this machine has for it, by name."""
        prefix, _, suffix = self.theme_pattern.partition("{theme}")
        return sorted(p[len(prefix) : len(p) - len(suffix)] for p in glob.glob(self.theme_pattern.format(theme="*")))

    def commands(self, home: Path, theme: str) -> list[list[str]]:
        """The commands that start it with `theme`, in order, after writing their config under `home`."""
        if not Path(self.theme_pattern.format(theme=theme)).exists():
            raise UnknownTheme(
                f"{self.name} has no theme {theme!r} here ({', '.join(self.themes()) or 'none installed'}): "
                f"run make system-deps"
            )
        return self.start(home, theme)


WINDOW_MANAGERS: dict[str, WindowManager] = {
    wm.name: wm
    for wm in (
        WindowManager("openbox", "openbox", "openbox", "/usr/share/themes/{theme}/openbox-3", _openbox),
        WindowManager("xfwm4", "xfwm4", "xfwm4", "/usr/share/themes/{theme}/xfwm4", _xfwm4),
        WindowManager("icewm", "icewm", "icewm", "/usr/share/icewm/themes/{theme}/default.theme", _icewm),
        WindowManager("fluxbox", "fluxbox", "fluxbox", "/usr/share/fluxbox/styles/{theme}", _fluxbox),
    )
}
