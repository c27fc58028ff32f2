"""The real-screens builder's desktop is hermetic over D-Bus: single-instance applications (Mousepad)
open each file in a window of their own whether the machine runs a session bus, autolaunches one
(dbus-x11 installed), or has no dbus-daemon at all, and nothing on the desktop reaches the bus
around it. A split screen of two notes once timed out because the second note opened as a tab
in the first one's window."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from ontask.realscreens import desktop
from ontask.realscreens.apps import AppDriver
from ontask.realscreens.desktop import VirtualDesktop
from ontask.realscreens.tasks import NOTE, Material

NOTES = (
    Material(NOTE, "shipping_delay_replies.txt", "Shipping delay reply templates", ("Dear customer,",)),
    Material(NOTE, "onboarding_checklist.txt", "Onboarding checklist", ("1. Laptop",)),
)


def _connections(address: str) -> set[str]:
    """The names on a bus, less the connection that asks (the newest unique name)."""
    out = subprocess.run(
        [
            "dbus-send",
            f"--bus={address}",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.ListNames",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout
    names = {line.split('"')[1] for line in out.splitlines() if line.strip().startswith("string")}
    asker = max((n for n in names if n.startswith(":")), key=lambda n: int(n.split(".")[-1]))
    return names - {asker}


@pytest.fixture(params=["a user's session bus", "autolaunch by dbus-x11"])
def around(request, monkeypatch):
    """The bus situation of the machine the set is built on; yields a check that nothing on the
    desktop reached it."""
    # Both are in scripts/system-deps.sh's test profile, so that the set is built here as on a
    # desktop that has them; their absence is a set-up failure, not a reason to test less.
    assert shutil.which("dbus-daemon"), "no dbus-daemon: run `make system-deps` (Debian package dbus-daemon)"
    if request.param == "autolaunch by dbus-x11":
        assert shutil.which("dbus-launch"), "no dbus-launch: run `make system-deps` (Debian package dbus-x11)"
        monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
        # dbus-launch records the bus it starts for a display in $HOME/.dbus/session-bus.
        yield lambda desk: [str(p) for p in (desk.home / ".dbus").rglob("*")]
        return
    daemon = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1"], stdout=subprocess.PIPE
    )
    try:
        address = daemon.stdout.readline().decode().strip()
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        before = _connections(address)
        yield lambda desk: sorted(_connections(address) - before)
    finally:
        daemon.terminate()
        daemon.wait()


@pytest.mark.parametrize("bus_daemon", ["dbus-daemon", "none installed"])
def test_two_notes_open_in_two_windows_and_nothing_reaches_the_bus_around(around, bus_daemon, monkeypatch):
    if bus_daemon == "none installed":
        monkeypatch.setattr(desktop, "BUS_DAEMON", "no-such-dbus-daemon")
    with VirtualDesktop() as desk:
        files = desk.home / "Documents"
        files.mkdir()
        driver = AppDriver(desk, files, port=0)
        try:
            first, second = (driver.open(m, timeout=60) for m in NOTES)
            titles = {w.wid: w.title for w in driver.x.windows()}
            assert NOTES[0].name in titles[first.wid] and NOTES[1].name in titles[second.wid]
            assert around(desk) == []
        finally:
            driver.close_all()
