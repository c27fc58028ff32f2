"""The capture agent: screenshot and window evidence from an X11 or sway desktop, the student's answer
over HTTP, corrections to Kafka. `ontask.realscreens` drives real applications through the same
desktop code to build the real-screens set."""

from ontask.agent.capture import Capture, CaptureRefused, Privacy, capture_of, downscale, read_desktop, visible_evidence
from ontask.agent.desktop import Desktop, DesktopUnavailable, DesktopWindow, open_desktop

__all__ = [
    "Capture",
    "CaptureRefused",
    "Desktop",
    "DesktopUnavailable",
    "DesktopWindow",
    "Privacy",
    "capture_of",
    "downscale",
    "open_desktop",
    "read_desktop",
    "visible_evidence",
]
