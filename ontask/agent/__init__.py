"""The capture agent: screenshot and window evidence from an X11 desktop, the student's answer
over HTTP, corrections to Kafka. `ontask.realscreens` drives real applications through the same
desktop code to build the real-screens set."""

from ontask.agent.capture import Capture, CaptureRefused, Privacy, capture_of, downscale, read_desktop, visible_evidence
from ontask.agent.x11 import DesktopUnavailable, X11Desktop, X11Window

__all__ = [
    "Capture",
    "CaptureRefused",
    "DesktopUnavailable",
    "Privacy",
    "X11Desktop",
    "X11Window",
    "capture_of",
    "downscale",
    "read_desktop",
    "visible_evidence",
]
